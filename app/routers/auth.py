"""Registration, login, password change and sign-out (every earlier token refused), and the public
signing keys (JWKS and OpenID discovery). The abuse limits are app/throttle.py's."""

from __future__ import annotations

import logging
import re
from typing import Annotated

import psycopg
import redis
from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from app import passwords, security
from app.routers import resource_router
from app.routers.deps import StateDep, UserDep
from app.schemas import AccessToken, Registered, errors
from app.state import AppState
from app.throttle import Verdict, request_address

router = resource_router()
log = logging.getLogger("app.auth")

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[str, Field(pattern=USERNAME_PATTERN, description="3-64 letters, digits, . _ -")]
    password: Annotated[
        str,
        Field(
            min_length=passwords.MIN_LENGTH,
            max_length=passwords.MAX_LENGTH,
            # For the document only (the validator below gives the specific message).
            json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"},
            description="8-256 characters, no control characters, not containing the username, "
            "not one of the most common passwords",
        ),
    ]

    @field_validator("password")
    @classmethod
    def _policy(cls, password: str, info: ValidationInfo) -> str:
        why = passwords.problem(password, str(info.data.get("username", "")))
        if why:
            raise PydanticCustomError("password_policy", why)
        return password


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    current_password: Annotated[str, Field(min_length=1, max_length=passwords.MAX_LENGTH)]
    new_password: Annotated[
        str,
        Field(
            min_length=passwords.MIN_LENGTH,
            max_length=passwords.MAX_LENGTH,
            json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"},
            description="the password policy of registration applies",
        ),
    ]


def client_of(app: AppState, request: Request) -> str:
    """The address the abuse limits count under (app/throttle.py, `request_address`)."""
    settings = app.settings
    return request_address(
        request.scope["headers"],
        request.client.host if request.client else None,
        settings.trusted_proxy_hops,
        settings.client_address_header,
    )


def too_many(verdict: Verdict) -> HTTPException:
    return HTTPException(
        429,
        f"{verdict.reason}; retry in {verdict.retry_after_seconds} s",
        headers={"Retry-After": str(verdict.retry_after_seconds)},
    )


@router.post(
    "/auth/register",
    status_code=201,
    response_model=Registered,
    responses=errors(409, 413, 422, 429, 503, e409="username already taken"),
)
async def register(body: Registration, app: StateDep, request: Request) -> dict[str, str]:
    # Counted per address before anything costly, whether the name turns out free or taken: a taken
    # name is answered only within this limit, and after the same hashing as a new account.
    verdict = await run_in_threadpool(app.login_throttle.register, client_of(app, request))
    if not verdict.allowed:
        raise too_many(verdict)
    # Hashing in its own bounded pool, the database in the endpoint thread pool: neither on the loop.
    password_hash = await security.hash_password_async(body.password)
    user_id = await run_in_threadpool(_insert_user, app, body.username, password_hash)
    return {"id": user_id, "username": body.username}


def _insert_user(app: AppState, username: str, password_hash: str) -> str:
    with app.rt.pool.connection() as conn:
        try:
            row = conn.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, %s) RETURNING id::text",
                (username, password_hash),
            ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise HTTPException(409, "username already taken") from None
    assert row is not None
    return str(row[0])


_WRONG = "invalid username or password"


@router.post(
    "/auth/login",
    response_model=AccessToken,
    responses={
        401: {**errors(401)[401], "description": _WRONG},
        **errors(413, 422, 429, 503),
    },
)
async def login(body: Login, app: StateDep, request: Request, response: Response) -> dict[str, str | int]:
    # A token response must never be cached by a proxy (RFC 6749, section 5.1).
    response.headers["Cache-Control"] = "no-store"
    address = client_of(app, request)
    row = await _authenticate(app, body.username, body.password, address)
    rehashed = await security.hash_password_async(body.password) if security.needs_rehash(row[2]) else None
    return await run_in_threadpool(_logged_in, app, row, rehashed)


async def _authenticate(app: AppState, username: str, password: str, address: str) -> tuple[str, str, str, int]:
    """The user row for a right password, counted by the throttle; 429 or 401 otherwise."""
    # Counted before the password is checked, for existing and unknown usernames alike; Redis being
    # unreachable fails the login closed (503) rather than letting guesses through uncounted.
    verdict = await run_in_threadpool(app.login_throttle.attempt, username, address)
    if not verdict.allowed:
        raise too_many(verdict)
    try:
        row = await run_in_threadpool(_user_row, app, username) if _USERNAME.match(username) else None
    except Exception:
        # Not judged (PostgreSQL unreachable or stalled: answered 503 by its handler). A client
        # retrying through a database outage must not lock the account.
        await run_in_threadpool(app.login_throttle.undo, username, address)
        raise
    # No such user: the password is still hashed, so a login takes as long either way.
    if not await security.verify_password_async(row[2] if row else None, password) or row is None:
        raise HTTPException(401, _WRONG, headers={"WWW-Authenticate": "Bearer"})
    try:
        await run_in_threadpool(app.login_throttle.succeeded, username, address)
    except redis.RedisError as exc:
        # The password is right: Redis failing now costs a stale count (this one attempt), not the
        # login. Counting before the check is what must not be skipped.
        log.warning("login bookkeeping skipped", extra={"error": f"{type(exc).__name__}: {exc}"})
    return row


def _logged_in(app: AppState, row: tuple[str, str, str, int], rehashed: str | None) -> dict[str, str | int]:
    """After the password matched: the user cache, the new hash if the parameters changed, the token."""
    try:
        app.users.remember(row[0], row[3])
    except redis.RedisError as exc:
        log.warning("user cache not filled", extra={"error": f"{type(exc).__name__}: {exc}"})
    if rehashed is not None:
        with app.rt.pool.connection() as conn:
            conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (rehashed, row[0]))
    return {
        "access_token": app.tokens.issue(row[0], row[1], row[3]),
        "token_type": "bearer",
        "expires_in": app.tokens.ttl_seconds,
    }


def _user_row(app: AppState, username: str) -> tuple[str, str, str, int] | None:
    with app.rt.pool.connection() as conn:
        row = conn.execute(
            "SELECT id::text, username, password_hash, token_generation FROM users WHERE lower(username) = lower(%s)",
            (username,),
        ).fetchone()
    return (row[0], row[1], row[2], int(row[3])) if row else None


_REVOKES = "Every token issued before, for this user, is refused from now on, on every replica."


@router.post(
    "/auth/password",
    status_code=204,
    response_class=Response,
    description="Change the password. " + _REVOKES + " A wrong current password counts as a failed login.",
    responses={
        401: {**errors(401)[401], "description": "the token is not current, or the current password is wrong"},
        **errors(413, 422, 429, 503, e422="invalid input, or the new password breaks the password policy"),
    },
)
async def change_password(body: PasswordChange, user: UserDep, app: StateDep, request: Request) -> Response:
    why = passwords.problem(body.new_password, user.username)
    if why:
        raise HTTPException(422, [{"loc": ["body", "new_password"], "msg": why, "type": "password_policy"}])
    row = await _authenticate(app, user.username, body.current_password, client_of(app, request))
    if row[0] != user.user_id:
        # The token's username now names another account (cannot happen while names never change).
        raise HTTPException(401, _WRONG, headers={"WWW-Authenticate": "Bearer"})
    new_hash = await security.hash_password_async(body.new_password)
    await run_in_threadpool(app.users.revoke, user.user_id, new_hash)
    return Response(status_code=204)


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    description="Sign out everywhere. " + _REVOKES,
    responses=errors(401, 503),
)
def logout(user: UserDep, app: StateDep) -> Response:
    app.users.revoke(user.user_id)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", name="jwks")
def jwks(app: StateDep, response: Response) -> dict[str, list[dict[str, str]]]:
    # Short cache: a rotated key shows up within minutes at API Gateway and other verifiers.
    response.headers["Cache-Control"] = "public, max-age=300"
    return app.tokens.keys.jwks()


@router.get(
    "/.well-known/openid-configuration",
    responses=errors(404, e404="APP_JWT_ISSUER is not a URL: there is no discovery document"),
)
def openid_configuration(app: StateDep) -> dict[str, object]:
    # Every URL here comes from the configured issuer, never from the request: a Host header is the
    # client's to choose, and a cached or proxied document would point verifiers at any host.
    # OpenID Connect Discovery 1.0 section 4 serves the document at the issuer URL's own path, so an
    # issuer that is not a URL has no discovery document at all.
    issuer = app.settings.jwt_issuer
    if not issuer.startswith(("https://", "http://")):
        raise HTTPException(404, "no discovery document: the token issuer is not a URL")
    return {
        "issuer": issuer,
        "jwks_uri": issuer.rstrip("/") + "/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": sorted({k["alg"] for k in app.tokens.keys.jwks()["keys"]}),
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "preferred_username", "gen"],
    }

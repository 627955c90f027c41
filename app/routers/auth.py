"""Registration, login and the public signing keys (JWKS and OpenID discovery)."""

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
from app.routers.deps import StateDep
from app.schemas import AccessToken, Registered, errors
from app.state import AppState
from app.throttle import ACCOUNT, client_address

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


@router.post(
    "/auth/register",
    status_code=201,
    response_model=Registered,
    responses=errors(409, 413, 422, 503, e409="username already taken"),
)
async def register(body: Registration, app: StateDep) -> dict[str, str]:
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
    address = client_address(
        request.headers.getlist("x-forwarded-for"),
        request.client.host if request.client else None,
        app.settings.trusted_proxy_hops,
    )
    # Counted before the password is checked, for existing and unknown usernames alike; Redis being
    # unreachable fails the login closed (503) rather than letting guesses through uncounted.
    verdict = await run_in_threadpool(app.login_throttle.attempt, body.username, address)
    if not verdict.allowed:
        whose = "for this account" if verdict.full & ACCOUNT else "from this address"
        raise HTTPException(
            429,
            f"too many failed logins {whose}; retry in {verdict.retry_after_seconds} s",
            headers={"Retry-After": str(verdict.retry_after_seconds)},
        )
    try:
        row = await run_in_threadpool(_user_row, app, body.username) if _USERNAME.match(body.username) else None
    except Exception:
        # Not judged (PostgreSQL unreachable or stalled: answered 503 by its handler). A client
        # retrying through a database outage must not lock the account.
        await run_in_threadpool(app.login_throttle.undo, body.username, address)
        raise
    # No such user: the password is still hashed, so a login takes as long either way.
    if not await security.verify_password_async(row[2] if row else None, body.password) or row is None:
        raise HTTPException(401, _WRONG, headers={"WWW-Authenticate": "Bearer"})
    rehashed = await security.hash_password_async(body.password) if security.needs_rehash(row[2]) else None
    return await run_in_threadpool(_logged_in, app, body, address, row, rehashed)


def _logged_in(
    app: AppState, body: Login, address: str, row: tuple[str, str, str], rehashed: str | None
) -> dict[str, str | int]:
    """After the password matched: the bookkeeping, the new hash if the parameters changed, the token."""
    try:
        app.login_throttle.succeeded(body.username, address)
        app.users.remember(row[0])
    except redis.RedisError as exc:
        # The password is right: Redis failing now costs a stale count (this one attempt) and a
        # cache miss, not the login. Counting before the check is what must not be skipped.
        log.warning("login bookkeeping skipped", extra={"error": f"{type(exc).__name__}: {exc}"})
    if rehashed is not None:
        with app.rt.pool.connection() as conn:
            conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (rehashed, row[0]))
    return {
        "access_token": app.tokens.issue(row[0], row[1]),
        "token_type": "bearer",
        "expires_in": app.tokens.ttl_seconds,
    }


def _user_row(app: AppState, username: str) -> tuple[str, str, str] | None:
    with app.rt.pool.connection() as conn:
        row = conn.execute(
            "SELECT id::text, username, password_hash FROM users WHERE lower(username) = lower(%s)", (username,)
        ).fetchone()
    return (row[0], row[1], row[2]) if row else None


@router.get("/.well-known/jwks.json", name="jwks")
def jwks(app: StateDep, response: Response) -> dict[str, list[dict[str, str]]]:
    # Short cache: a rotated key shows up within minutes at API Gateway and other verifiers.
    response.headers["Cache-Control"] = "public, max-age=300"
    return app.tokens.keys.jwks()


@router.get("/.well-known/openid-configuration")
def openid_configuration(app: StateDep, request: Request) -> dict[str, object]:
    issuer = app.settings.jwt_issuer
    if issuer.startswith(("https://", "http://")):
        jwks_uri = issuer.rstrip("/") + "/.well-known/jwks.json"
    else:
        jwks_uri = str(request.url_for("jwks"))
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": sorted({k["alg"] for k in app.tokens.keys.jwks()["keys"]}),
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "preferred_username"],
    }

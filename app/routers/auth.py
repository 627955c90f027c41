"""Registration, login and the public signing keys (JWKS and OpenID discovery)."""

from __future__ import annotations

import re
from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app import security
from app.routers.deps import StateDep

router = APIRouter()

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[str, Field(pattern=USERNAME_PATTERN, description="3-64 letters, digits, . _ -")]
    password: Annotated[str, Field(min_length=8, max_length=256)]


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


@router.post("/auth/register", status_code=201)
def register(body: Registration, app: StateDep) -> dict[str, str]:
    password_hash = security.hash_password(body.password)
    with app.rt.pool.connection() as conn:
        try:
            row = conn.execute(
                "INSERT INTO users (username, password_hash) VALUES (%s, %s) RETURNING id::text",
                (body.username, password_hash),
            ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise HTTPException(409, "username already taken") from None
    assert row is not None
    return {"id": row[0], "username": body.username}


@router.post("/auth/login")
def login(body: Login, app: StateDep, response: Response) -> dict[str, str | int]:
    # A token response must never be cached by a proxy (RFC 6749, section 5.1).
    response.headers["Cache-Control"] = "no-store"
    if not _USERNAME.match(body.username):
        # No such user can exist; answered like any wrong password, after the same amount of work.
        security.verify_password(None, body.password)
        raise HTTPException(401, "invalid username or password", headers={"WWW-Authenticate": "Bearer"})
    with app.rt.pool.connection() as conn:
        row = conn.execute(
            "SELECT id::text, username, password_hash FROM users WHERE lower(username) = lower(%s)",
            (body.username,),
        ).fetchone()
        if not security.verify_password(row[2] if row else None, body.password) or row is None:
            raise HTTPException(401, "invalid username or password", headers={"WWW-Authenticate": "Bearer"})
        if security.needs_rehash(row[2]):
            conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (security.hash_password(body.password), row[0])
            )
    return {
        "access_token": app.tokens.issue(row[0], row[1]),
        "token_type": "bearer",
        "expires_in": app.tokens.ttl_seconds,
    }


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

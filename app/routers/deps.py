"""Request dependencies: the process runtime and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from app.security import InvalidToken, Principal
from app.state import AppState
from app.users import GONE, current


def app_state(request: Request) -> AppState:
    return request.app.state.app_state


async def state(request: Request) -> AppState:
    # async: resolved on the event loop, without a trip through the endpoint thread pool.
    return app_state(request)


class BearerToken(HTTPBearer):
    """The bearer scheme in the OpenAPI document and the check itself, in one dependency.

    Resolves to the token's subject, from the signature and claims alone; the 401s are ours. One
    dependency where HTTPBearer and a verifying function under it would be two, solved on every
    authenticated request.
    """

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            if request.headers.get("authorization"):
                raise InvalidToken("expected an Authorization: Bearer token")
            raise InvalidToken("missing bearer token")
        return app_state(request).tokens.verify(credentials.credentials)


# The scheme keeps HTTPBearer's name in the document (components.securitySchemes.HTTPBearer).
token_subject = BearerToken(
    auto_error=False,
    bearerFormat="JWT",
    description="An access token from POST /auth/login",
    scheme_name="HTTPBearer",
)


TokenDep = Annotated[Principal, Depends(token_subject)]

NO_SUCH_USER = "the token's user does not exist"
REVOKED = "the token was revoked (signed out or password changed)"


def refuse(generation: int) -> InvalidToken:
    """The 401 for a token that is not current (app/users.py, `current`)."""
    return InvalidToken(NO_SUCH_USER if generation == GONE else REVOKED)


def current_user(principal: TokenDep, request: Request) -> Principal:
    """A current token of an existing user, asked of PostgreSQL: for routes that need PostgreSQL anyway."""
    generation = app_state(request).users.generation_in_database(principal.user_id)
    if not current(generation, principal.generation):
        raise refuse(generation)
    return principal


async def cart_user(principal: TokenDep, request: Request) -> Principal:
    """A current token of an existing user, asked of the Redis cache first: cart routes stay Redis-only
    (and on the event loop; PostgreSQL, on a cache miss, is asked in a thread)."""
    generation = await app_state(request).users.ageneration(principal.user_id)
    if not current(generation, principal.generation):
        raise refuse(generation)
    return principal


StateDep = Annotated[AppState, Depends(state)]
UserDep = Annotated[Principal, Depends(current_user)]
CartUserDep = Annotated[Principal, Depends(cart_user)]

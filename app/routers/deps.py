"""Request dependencies: the process runtime and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.security import InvalidToken, Principal
from app.state import AppState


def app_state(request: Request) -> AppState:
    return request.app.state.app_state


async def state(request: Request) -> AppState:
    # async: resolved on the event loop, without a trip through the endpoint thread pool.
    return app_state(request)


async def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization:
        raise InvalidToken("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("expected an Authorization: Bearer token")
    return app_state(request).tokens.verify(token.strip())


StateDep = Annotated[AppState, Depends(state)]
UserDep = Annotated[Principal, Depends(current_user)]

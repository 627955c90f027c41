"""Request dependencies: the process runtime and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.security import InvalidToken, Principal
from app.state import AppState


def state(request: Request) -> AppState:
    return request.app.state.app_state


def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization:
        raise InvalidToken("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("expected an Authorization: Bearer token")
    return state(request).tokens.verify(token.strip())


StateDep = Annotated[AppState, Depends(state)]
UserDep = Annotated[Principal, Depends(current_user)]

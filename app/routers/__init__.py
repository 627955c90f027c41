"""HTTP routers, one per resource; `create_app` adds their routes to the app as its own."""

from __future__ import annotations

from fastapi import APIRouter

from app.schemas import errors


def resource_router() -> APIRouter:
    """A router whose every route documents the 400 the edge (app/edge.py) may answer before routing."""
    return APIRouter(responses=errors(400))

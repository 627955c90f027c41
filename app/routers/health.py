"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.routers.deps import StateDep
from app.schemas import Error

router = APIRouter()


# HEAD is served for probes but left out of the document: one operation per path and method.
@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    # Liveness touches nothing: a dependency outage must not make the orchestrator kill replicas.
    return {"status": "ok"}


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Error, "description": "not ready: starting, pools closed, or shutting down"}
}


@router.get("/readyz", responses=_NOT_READY)
@router.head("/readyz", include_in_schema=False)
async def readyz(app: StateDep) -> JSONResponse:
    # The replica's own state only: started, pools open, not draining. Dependencies are never probed
    # here: a Redis or PostgreSQL outage would take every replica out of service at once (and get the
    # whole fleet replaced), while each request can answer for itself, 503 on the routes that need
    # the missing dependency and normally on the others.
    if app.draining:
        return JSONResponse({"detail": "not ready: shutting down", "status": "draining"}, 503)
    if app.runtime is None:
        return JSONResponse({"detail": "not ready: starting", "status": "starting"}, 503)
    if not app.runtime.opened:
        return JSONResponse({"detail": "not ready: connection pools closed", "status": "closed"}, 503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(app: StateDep) -> Response:
    return Response(generate_latest(app.metrics.registry), media_type=CONTENT_TYPE_LATEST)

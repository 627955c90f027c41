"""Liveness, readiness and Prometheus metrics.

The edge (app/edge.py) answers these itself, from `OPERATIONAL`, before the body limit, the router
and the dependency machinery: a load balancer or kubelet probe, sent every few seconds by every
checker to every replica, costs the least a request can, and still gets its request id, headers,
metric and access line. The routes below are what the OpenAPI document describes; they call the same
functions, so the FastAPI app answers alike when it runs without the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.routers import resource_router
from app.routers.deps import StateDep
from app.schemas import Error
from app.state import AppState

router = resource_router()

# One answer object for every liveness probe: a Response only reads its attributes when sent.
_LIVE = JSONResponse({"status": "ok"})


def liveness(app: AppState) -> Response:
    # Liveness touches nothing: a dependency outage must not make the orchestrator kill replicas.
    return _LIVE


def readiness(app: AppState) -> Response:
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


def metrics_page(app: AppState) -> Response:
    return Response(generate_latest(app.metrics.registry), media_type=CONTENT_TYPE_LATEST)


# Path → (methods, answer): what the edge serves without the router.
OPERATIONAL: dict[str, tuple[frozenset[str], Callable[[AppState], Response]]] = {
    "/healthz": (frozenset({"GET", "HEAD"}), liveness),
    "/readyz": (frozenset({"GET", "HEAD"}), readiness),
    "/metrics": (frozenset({"GET"}), metrics_page),
}


# HEAD is served for probes but left out of the document: one operation per path and method.
@router.get("/healthz", response_model=dict[str, str])
@router.head("/healthz", include_in_schema=False)
async def healthz(app: StateDep) -> Response:
    return liveness(app)


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Error, "description": "not ready: starting, pools closed, or shutting down"}
}


@router.get("/readyz", responses=_NOT_READY)
@router.head("/readyz", include_in_schema=False)
async def readyz(app: StateDep) -> Response:
    return readiness(app)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(app: StateDep) -> Response:
    return metrics_page(app)

"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.routers.deps import StateDep
from app.schemas import Error
from app.state import AppState

router = APIRouter()


# HEAD is served for probes but left out of the document: one operation per path and method.
@router.get("/healthz")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    # Liveness touches nothing: a dependency outage must not make the orchestrator kill replicas.
    return {"status": "ok"}


def _check(name: str, probe: Any, checks: dict[str, str]) -> None:
    try:
        probe()
        checks[name] = "ok"
    except Exception as exc:
        checks[name] = f"unavailable ({type(exc).__name__})"


_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Error, "description": "not ready: starting or shutting down"}
}


@router.get("/readyz", responses=_NOT_READY)
@router.head("/readyz", include_in_schema=False)
async def readyz(app: StateDep) -> JSONResponse:
    # The probes block, so they run on the event loop's own executor rather than the endpoint
    # thread pool: a replica busy with requests still answers its health checks.
    return await asyncio.get_running_loop().run_in_executor(None, _readiness, app)


def _readiness(app: AppState) -> JSONResponse:
    if app.draining or app.runtime is None:
        return JSONResponse({"detail": "not ready: shutting down", "status": "draining", "checks": {}}, 503)
    rt = app.rt
    settings = app.settings
    checks: dict[str, str] = {}

    def postgres() -> None:
        with (rt.db_probe or rt.pool).connection(timeout=2) as conn:
            conn.execute("SELECT 1")

    _check("redis", app.carts.client.ping, checks)
    _check("postgres", postgres, checks)
    _check("s3", lambda: rt.s3_probe.head_bucket(Bucket=settings.s3_bucket), checks)
    _check(
        "sqs",
        lambda: rt.sqs_probe.get_queue_attributes(QueueUrl=settings.sqs_queue_url, AttributeNames=["QueueArn"]),
        checks,
    )
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if failed:
        return JSONResponse(
            {"detail": f"not ready: {', '.join(failed)}", "status": "unavailable", "failed": failed, "checks": checks},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(app: StateDep) -> Response:
    return Response(generate_latest(app.metrics.registry), media_type=CONTENT_TYPE_LATEST)

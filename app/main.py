"""The web app factory: `uvicorn app.main:create_app --factory`.

Creates the FastAPI app with its routers and error handlers, behind the edge (app/edge.py) that
every request passes first; at start-up it resolves secrets, applies migrations, opens the pools and
starts the outbox relay thread and the event-loop watchdog (app/watchdog.py), and at shutdown flips
readiness to 503 and closes everything.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from app import errors, logs
from app.edge import Edge
from app.metrics import Metrics
from app.outbox import Relay
from app.routers import auth, cart, health, orders
from app.routers.health import OPERATIONAL
from app.runtime import Runtime
from app.settings import Settings
from app.state import AppState
from app.watchdog import Watchdog

log = logging.getLogger("app")

GC_YOUNG_THRESHOLD = 10_000


def _drain_on_sigterm(state: AppState) -> None:
    """Chain onto the server's SIGTERM handler so readiness fails the moment shutdown starts."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        state.draining = True
        log.info("SIGTERM received: draining")
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Edge:
    settings = settings or Settings()
    settings.check()
    logs.configure(settings.instance_id, settings.log_level)
    state = AppState(settings=settings, metrics=Metrics())
    access_log = logs.AccessLog(settings.instance_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt: Runtime = runtime if runtime is not None else await run_in_threadpool(Runtime.build, settings)
        await run_in_threadpool(rt.open)
        # Sync endpoints run in this thread pool; no more of them at once than there are database
        # connections, so a busy replica queues requests instead of timing out on the pool and
        # answering 503 as if PostgreSQL were down.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.database_pool_size
        state.started(rt)
        state.metrics.watch(rt)
        state.relay = Relay(
            rt.pool,
            rt.sqs,
            str(settings.sqs_queue_url),
            settings.outbox_relay_interval_seconds,
            on_published=state.metrics.outbox_published.inc,
        )
        state.relay.start()
        _drain_on_sigterm(state)
        watchdog = None
        if settings.event_loop_watchdog_seconds > 0:
            watchdog = Watchdog(asyncio.get_running_loop(), settings.event_loop_watchdog_seconds).start()
        # Everything built so far (modules, the app, clients) lives as long as the process: moved out
        # of the collector's reach, so a full collection under load walks only what requests made
        # (gc.freeze, https://docs.python.org/3/library/gc.html#gc.freeze).
        gc.collect()
        gc.freeze()
        # A request's objects are freed by reference counting as it ends; the cycle collector only
        # finds the few cycles left. Its default (a young collection per 700 net new objects) ran one
        # every dozen cart requests under load, walking every in-flight request's objects: 20 us a
        # request in all, measured with gc.callbacks (1,323 collections in 10 s of cart load). At
        # 10,000 the same load made one, and cycles still go within seconds on a busy replica.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
        log.info("started", extra={"mode": settings.mode, "kid": state.tokens.keys.signing_kid})
        try:
            yield
        finally:
            state.draining = True
            if watchdog is not None:
                watchdog.stop()
            state.relay.stop()
            await rt.aclose()
            await run_in_threadpool(rt.close)
            access_log.flush()
            log.info("stopped")

    app = FastAPI(
        title="stateless reference app",
        summary="Carts in Redis, orders in PostgreSQL, receipts by an SQS worker; any replica serves any request.",
        version="1",
        lifespan=lifespan,
        # The document only (no HTML pages that would load scripts from elsewhere). Every error
        # answer is listed per route with its JSON shape (app/schemas.py).
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.app_state = state
    errors.install(app)
    for router in (auth.router, cart.router, orders.router, health.router):
        # The routers add no prefix, dependencies or tags: their routes are the app's own, and are
        # added as such. `include_router` would keep each router whole, to be matched router by router
        # and then route by route within, on every request.
        if router.prefix or router.dependencies or router.tags:
            raise ValueError("a router with a prefix, dependencies or tags needs include_router")
        app.router.routes.extend(router.routes)
    return Edge(
        app,
        state=state,
        instance_id=settings.instance_id,
        metrics=state.metrics,
        access_log=access_log,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        request_max_age_seconds=settings.request_max_age_seconds,
        operational=OPERATIONAL,
    )

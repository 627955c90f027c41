"""Pure ASGI middleware: request context (ids, metrics, access log) and the body-size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import anyio
from prometheus_client import CollectorRegistry, Counter, Histogram

from app.logs import request_id_var

log = logging.getLogger("app.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

_OWN_HEADERS = (b"x-instance-id", b"x-request-id")
Scope = dict[str, Any]


class Metrics:
    """Per-app registry, so two apps in one process (tests, rotations) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.outbox_published = Counter(
            "outbox_messages_published_total", "Outbox messages published to SQS", registry=self.registry
        )
        # The labelled children, looked up once per label set: `labels()` validates and locks on every
        # call. The label sets are bounded (route templates, methods the routes accept, statuses).
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request: counted by method, route and status; its latency by method and route."""
        children = self._children.get((method, route, status))
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)


class RequestContextMiddleware:
    """Adds X-Instance-Id and X-Request-Id to every response and records metrics and an access line."""

    def __init__(self, app: Any, instance_id: str, metrics: Metrics) -> None:
        self.app = app
        self.instance_id = instance_id.encode()
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or [])
        incoming = request_headers.get(b"x-request-id", b"").decode("latin-1")
        authenticated = b"authorization" in request_headers
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OWN_HEADERS]
                headers += [(b"x-instance-id", self.instance_id), (b"x-request-id", request_id.encode())]
                headers = _cache_control(headers, authenticated)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # The last resort: a JSON 500 with this replica's headers instead of a bare error page.
            log.exception("unhandled error")
            if response_started:
                raise
            await _reply(send_with_headers, 500, "internal error")
        finally:
            if not response_started and status == 500:
                status = 499  # the client went away before an answer was sent (nginx's convention)
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "")
            self.metrics.record(method, template, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                # The record is made directly: `log.info` would also walk the stack for the caller's
                # file and line, which the JSON line does not carry.
                fields = {
                    "method": method,
                    "path": scope.get("path"),
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
                log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "request", (), None, extra=fields))
            request_id_var.reset(token)


def _cache_control(headers: list[tuple[bytes, bytes]], authenticated: bool) -> list[tuple[bytes, bytes]]:
    """`no-store` unless a route chose otherwise, and always when the request carried credentials.

    Every answer here is per user (a cart, an order with a presigned receipt URL, a token) or
    live state; only the public keys opt in to caching. An answer to a request with credentials is
    never stored by a shared cache, whatever the route says (RFC 9111 section 3.5 lets a shared
    cache store it when told `public`; nothing here needs that).
    """
    chosen = any(k.lower() == b"cache-control" for k, _ in headers)
    if chosen and not authenticated:
        return headers
    return [(k, v) for k, v in headers if k.lower() != b"cache-control"] + [(b"cache-control", b"no-store")]


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers as they came on the wire (give or take the version)."""
    size = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + 12 + sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or [])


class BodyLimitMiddleware:
    """Answers 413 for bodies over the limit, judged on the bytes received, not the declared length.

    The body is buffered in memory (never on disk) up to the limit and replayed to the app, so a
    chunked upload without Content-Length is cut off as soon as it passes the limit.

    A request head over `max_header_bytes` gets 400, as the ALB answers it. h11 already refuses a
    head still incomplete past that size (app/server.py), which bounds memory; a head that
    arrived whole in one read escapes that check, so the exact limit is applied here.
    """

    def __init__(self, app: Any, max_bytes: int, max_header_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.max_header_bytes is not None and head_size(scope) > self.max_header_bytes:
            await _reply(send, 400, f"request head larger than {self.max_header_bytes} bytes")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, "invalid Content-Length header")
                return
            if too_big:
                await _drain(receive, int(declared))
                await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                if message.get("more_body", False):
                    await _drain(receive, None)
                await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# A body over the limit is still read (and dropped) up to this size before the 413 goes out: a server
# that closes a connection with unread bytes in its receive buffer sends a TCP reset, which the client
# (or the load balancer in front) sees instead of the 413. Beyond it, or after DRAIN_SECONDS, the
# connection is closed right after the answer.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 10.0


async def _drain(receive: Any, declared: int | None) -> None:
    if declared is not None and declared > DRAIN_LIMIT_BYTES:
        return
    drained = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        while drained <= DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


async def _reply(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

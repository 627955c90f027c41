"""The app's outermost ASGI layer: every request passes here once, and only here, before the framework.

For every HTTP request, one pass over its headers and, around whatever answers it:
- the request id (`X-Request-Id` if the client sent a usable one, a new random one otherwise), bound
  to the log context, and `X-Request-Id` / `X-Instance-Id` on the answer;
- `Cache-Control: no-store` unless a route chose otherwise, and always for requests with credentials;
- the request-head limit (the ALB's 64 KiB) and the body limit, judged on the bytes received: the
  body is buffered in memory up to `max_body_bytes` and replayed to the app, so a chunked upload
  without Content-Length is cut off as soon as it passes the limit;
- the request's Prometheus metrics and its access line (app/logs.py, `AccessLog`);
- a JSON 500 as the last resort, and 499 in the log and metrics when the client left first;
- a 503, without acting, for a request that reached the replica more than `request_max_age_seconds`
  after the load balancer received it (X-Request-Start from HAProxy, or the time in the ALB's
  X-Amzn-Trace-Id): after a freeze, the client has given up and may have repeated it elsewhere;
- a 408 for a body that has not arrived within `body_timeout_seconds`.

The operational routes (app/routers/health.py, `OPERATIONAL`: liveness, readiness, metrics) are
answered here, without the router; everything else goes to the FastAPI app. One layer instead of a
middleware per concern, each re-reading the headers and wrapping `send`, because this is what every
request pays: see bench/app for the figures.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import anyio
from starlette.responses import Response

from app.logs import AccessLog, request_id_var
from app.metrics import Metrics

log = logging.getLogger("app.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_REQUEST_START = re.compile(r"^t=(\d{13})$")
_TRACE_ROOT = re.compile(r"(?:^|;)\s*Root=(1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24})(?:;|$)")

_OWN_HEADERS = (b"x-instance-id", b"x-request-id")
_NO_STORE = (b"cache-control", b"no-store")
Scope = MutableMapping[str, Any]
UNMATCHED = "<unmatched>"


class Edge:
    """Wraps the FastAPI app `api`; `state` is what the operational answers read (AppState)."""

    def __init__(
        self,
        api: Any,
        *,
        state: Any,
        instance_id: str,
        metrics: Metrics,
        access_log: AccessLog,
        max_body_bytes: int,
        max_header_bytes: int | None = None,
        body_timeout_seconds: float | None = None,
        request_max_age_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        operational: dict[str, tuple[frozenset[str], Callable[[Any], Response]]] | None = None,
    ) -> None:
        self.api = api
        self.app_state = state
        self.instance_id = instance_id.encode()
        self.metrics = metrics
        self.access_log = access_log
        self.max_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.body_timeout = body_timeout_seconds
        self.max_age = request_max_age_seconds
        self.clock = clock
        self.operational = operational or {}

    @property
    def state(self) -> Any:
        """The FastAPI app's `state` (`app.state.app_state` works on the edge as on the app)."""
        return self.api.state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            # lifespan (start-up and shutdown) and anything else: the framework's.
            await self.api(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        authenticated = False
        declared: bytes | None = None
        received_at: float | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                if _REQUEST_ID.match(incoming):
                    request_id = incoming
            elif name == b"x-amzn-trace-id" and not request_id:
                # The ALB's own request id (its access log's trace_id): "Root=1-<time>-<id>[;...]".
                root = _TRACE_ROOT.search(value.decode("latin-1"))
                if root:
                    request_id = root.group(1)
                    if received_at is None:
                        # Its second field is when the ALB received the request (epoch seconds, hex),
                        # to the second: rounded up, so a request is never judged older than it is.
                        received_at = int(root.group(1)[2:10], 16) + 1.0
            elif name == b"x-request-start":
                # HAProxy's stamp locally: "t=<epoch milliseconds>".
                stamp = _REQUEST_START.match(value.decode("latin-1"))
                if stamp:
                    received_at = int(stamp.group(1)) / 1000
            elif name == b"authorization":
                authenticated = True
            elif name == b"content-length":
                declared = value
        if not request_id:
            request_id = os.urandom(16).hex()
        token = request_id_var.set(request_id)
        own_headers = [(b"x-instance-id", self.instance_id), (b"x-request-id", request_id.encode())]
        status = 0
        completed = False
        template = UNMATCHED

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            nonlocal status, completed
            if message["type"] == "http.response.body" and not message.get("more_body"):
                completed = True
            elif message["type"] == "http.response.start":
                status = message["status"]
                headers = _final_headers(message.get("headers", []), authenticated, own_headers)
                message = {**message, "headers": headers}
            await send(message)

        try:
            method = scope["method"]
            path = scope["path"]
            if self.max_header_bytes is not None and head_size(scope) > self.max_header_bytes:
                await _reply(send_with_headers, 400, f"request head larger than {self.max_header_bytes} bytes")
                return
            operational = self.operational.get(path)
            if (
                operational is None
                and received_at is not None
                and self.max_age is not None
                and self.clock() - received_at > self.max_age
            ):
                # The replica was frozen or swamped: the client stopped waiting long ago and may have
                # repeated the request elsewhere. Acting on it now could undo a newer write.
                await _reply(
                    send_with_headers, 503, "the request reached the replica too late and was not acted on; retry",
                    retry_after=True,
                )
                return
            if operational is not None and method in operational[0]:
                # Sent here, not through the response's own __call__ and `send_with_headers`: the
                # answer is whole in memory, and this is the path every probe takes.
                template = path
                response = operational[1](self.app_state)
                headers = _final_headers(response.raw_headers, authenticated, own_headers)
                await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
                status = response.status_code
                await send({"type": "http.response.body", "body": response.body})
                return
            replay = await self._body(receive, send_with_headers, declared)
            if replay is not None:
                await self.api(scope, replay, send_with_headers)
                route = scope.get("route")
                template = getattr(route, "path", None) or UNMATCHED
        except Exception:
            if completed:
                # The answer went out whole: the app's own last resort (app/errors.py, `unexpected`)
                # answered and logged it, and Starlette re-raises for the server's sake. Raising on
                # would make uvicorn close a connection that is fine to reuse.
                return
            log.exception("unhandled error")
            if status:
                raise  # half an answer: the server aborts the connection
            # The last resort: a JSON 500 with this replica's headers instead of a bare error page.
            await _reply(send_with_headers, 500, "internal error")
        finally:
            if not status:
                status = 499  # the client went away before an answer was sent (nginx's convention)
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            self.metrics.record(method, template, status, elapsed)
            if self.access_log.enabled():
                self.access_log.request(request_id, method, scope.get("path", ""), template, status, elapsed)
            request_id_var.reset(token)

    async def _body(self, receive: Any, send: Any, declared: bytes | None) -> Any:
        """`receive` replaying the whole body, read up to the limit; None when a 413 or 400 was sent
        (or the client left)."""
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, "invalid Content-Length header")
                return None
            if too_big:
                await _drain(receive, int(declared))
                await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
                return None
        chunks: list[bytes] = []
        size = 0
        # uvicorn times out nothing once the head has arrived: a client sending a byte now and then
        # holds the connection, its buffer and a slot of the load balancer for ever (the ALB only
        # cuts a connection idle for its whole idle timeout). The whole body gets a deadline.
        with anyio.move_on_after(self.body_timeout) as deadline:  # None: no deadline
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    if message.get("more_body"):
                        await _drain(receive, None)
                    await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
                    return None
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
        if deadline.cancelled_caught:
            await _reply(send, 408, f"the request body did not arrive within {self.body_timeout:g} s")
            return None
        body = b"".join(chunks)  # one chunk: joined without a copy
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _final_headers(
    headers: list[tuple[bytes, bytes]], authenticated: bool, own: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """An answer's headers as sent: the replica's own last, and `Cache-Control: no-store` unless the
    route chose its caching for a request without credentials (RFC 9111 section 3.5 would let a
    shared cache store an authenticated answer marked `public`; nothing here needs that)."""
    chosen = False
    kept = []
    for header in headers:
        name = header[0].lower()
        if name in _OWN_HEADERS:
            continue
        if name == b"cache-control":
            if authenticated:
                continue
            chosen = True
        kept.append(header)
    if not chosen:
        kept.append(_NO_STORE)
    return kept + own


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers as they came on the wire (give or take the version).

    The parser refuses a head still incomplete past the limit (app/server.py), which bounds memory; a
    head that arrived whole in one read escapes that check, so the exact limit is applied with this."""
    size = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return size + 12 + sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or [])


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
            drained += len(message.get("body", b""))
            if not message.get("more_body"):  # the last part, or an http.disconnect (which has neither)
                return


async def _reply(send: Any, status: int, detail: str, retry_after: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

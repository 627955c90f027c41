"""The edge (app/edge.py) and the access log (app/logs.py), driven as ASGI directly: no server."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.responses import JSONResponse, Response

from app.edge import Edge
from app.logs import ACCESS_LOGGER, AccessLog
from app.metrics import Metrics
from tests.app.support import run_on_a_new_loop


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.flushed_text = ""

    def flush(self) -> None:
        self.flushes += 1
        self.flushed_text = self.getvalue()


def scope(
    method: str = "GET", path: str = "/healthz", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [(b"host", b"replica")],
    }


async def call(app: Any, request: dict[str, Any], body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(request, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


class Inner:
    """Stands for the FastAPI app: records what reached it and answers with `answer`."""

    def __init__(self, answer: Response | None = None, fail: bool = False) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.answer = answer or JSONResponse({"inner": True})
        self.fail = fail

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        self.calls.append((scope["path"], message.get("body", b"")))
        if self.fail:
            raise RuntimeError("boom")
        await self.answer(scope, receive, send)


@pytest.fixture
def access() -> Iterator[CountingStream]:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
    yield CountingStream()
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)


def edge(inner: Any, stream: io.StringIO, **operational: Any) -> Edge:
    answers = {path: (frozenset({"GET", "HEAD"}), answer) for path, answer in operational.items()}
    return Edge(
        inner,
        state="the state",
        instance_id="replica-7",
        metrics=Metrics(),
        access_log=AccessLog("replica-7", stream),
        max_body_bytes=1024,
        max_header_bytes=4096,
        operational=answers,
    )


def test_operational_routes_are_answered_without_the_app(access: CountingStream) -> None:
    inner = Inner()
    seen: list[Any] = []

    def live(state: Any) -> Response:
        seen.append(state)
        return JSONResponse({"status": "ok"})

    app = edge(inner, access, **{"/healthz": live})
    status, headers, body = run_on_a_new_loop(call(app, scope()))
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert seen == ["the state"] and inner.calls == []
    assert headers[b"x-instance-id"] == b"replica-7" and headers[b"cache-control"] == b"no-store"
    assert re.fullmatch(rb"[0-9a-f]{32}", headers[b"x-request-id"])
    # A method the operational answer does not take goes to the app (which answers 405 there).
    run_on_a_new_loop(call(app, scope("POST"), b"{}"))
    assert inner.calls == [("/healthz", b"{}")]
    entries = [json.loads(line) for line in access.getvalue().splitlines()]
    assert [(e["route"], e["status"]) for e in entries] == [("/healthz", 200), ("<unmatched>", 200)]


def test_a_failing_operational_answer_is_a_json_500_with_the_replica_headers(access: CountingStream) -> None:
    def broken(state: Any) -> Response:
        raise RuntimeError("no")

    status, headers, body = run_on_a_new_loop(call(edge(Inner(), access, **{"/readyz": broken}), scope(path="/readyz")))
    assert (status, json.loads(body)) == (500, {"detail": "internal error"})
    assert headers[b"x-instance-id"] == b"replica-7" and b"x-request-id" in headers
    assert json.loads(access.getvalue())["status"] == 500


def test_an_exception_from_the_app_is_a_json_500(access: CountingStream) -> None:
    status, headers, body = run_on_a_new_loop(call(edge(Inner(fail=True), access), scope(path="/cart")))
    assert (status, json.loads(body), headers[b"x-instance-id"]) == (500, {"detail": "internal error"}, b"replica-7")


def test_an_error_raised_after_a_whole_answer_keeps_the_answer_and_the_connection(access: CountingStream) -> None:
    # Starlette's ServerErrorMiddleware sends the error handler's answer, then raises the error again.
    async def answered_then_raised(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await JSONResponse({"detail": "internal error"}, status_code=500)(scope, receive, send)
        raise RuntimeError("re-raised after the answer")

    status, headers, body = run_on_a_new_loop(call(edge(answered_then_raised, access), scope(path="/boom")))
    assert (status, json.loads(body), headers[b"x-instance-id"]) == (500, {"detail": "internal error"}, b"replica-7")
    assert json.loads(access.getvalue())["status"] == 500


def test_an_error_half_way_through_an_answer_reaches_the_server(access: CountingStream) -> None:
    async def half(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise RuntimeError("broken stream")

    with pytest.raises(RuntimeError, match="broken stream"):
        run_on_a_new_loop(call(edge(half, access), scope(path="/stream")))
    assert json.loads(access.getvalue())["status"] == 200


def test_a_route_may_choose_caching_only_for_requests_without_credentials(access: CountingStream) -> None:
    cached = JSONResponse({"keys": []}, headers={"Cache-Control": "public, max-age=300"})
    app = edge(Inner(cached), access)
    _, anonymous, _ = run_on_a_new_loop(call(app, scope(path="/.well-known/jwks.json")))
    assert anonymous[b"cache-control"] == b"public, max-age=300"
    with_token = [(b"authorization", b"Bearer x")]
    status, authenticated, _ = run_on_a_new_loop(call(app, scope(path="/.well-known/jwks.json", headers=with_token)))
    assert status == 200 and authenticated[b"cache-control"] == b"no-store"


def test_the_app_cannot_set_the_replica_headers(access: CountingStream) -> None:
    forged = JSONResponse({}, headers={"X-Instance-Id": "other", "X-Request-Id": "forged"})
    given = [(b"x-request-id", b"client-id-1")]
    _, headers, _ = run_on_a_new_loop(call(edge(Inner(forged), access), scope(path="/x", headers=given)))
    assert headers[b"x-instance-id"] == b"replica-7" and headers[b"x-request-id"] == b"client-id-1"


def test_the_body_reaches_the_app_whole_and_an_oversized_one_never(access: CountingStream) -> None:
    inner = Inner()
    app = edge(inner, access)
    run_on_a_new_loop(call(app, scope("PUT", "/cart/items/a"), b"x" * 1024))
    status, _, body = run_on_a_new_loop(call(app, scope("PUT", "/cart/items/a"), b"x" * 1025))
    assert inner.calls == [("/cart/items/a", b"x" * 1024)]
    assert status == 413 and "1024" in json.loads(body)["detail"]


def test_an_access_line_outside_an_event_loop_is_flushed_at_once() -> None:
    stream = CountingStream()
    log = AccessLog("replica-7", stream)
    log.request("rid", "GET", "/healthz", "/healthz", 200, 0.001)
    assert stream.flushes == 1 and json.loads(stream.flushed_text)["request_id"] == "rid"


def test_access_lines_of_one_event_loop_turn_are_flushed_together_at_its_end() -> None:
    stream = CountingStream()
    log = AccessLog("replica-7", stream)

    async def burst() -> tuple[int, int]:
        for n in range(3):
            log.request(f"r{n}", "GET", "/healthz", "/healthz", 200, 0.001)
        during = stream.flushes
        await asyncio.sleep(0)  # the loop's next turn runs the scheduled flush
        return during, stream.flushes

    assert run_on_a_new_loop(burst()) == (0, 1)
    entries = [json.loads(line) for line in stream.flushed_text.splitlines()]
    assert [e["request_id"] for e in entries] == ["r0", "r1", "r2"]
    assert all(e["logger"] == ACCESS_LOGGER and e["msg"] == "request" and e["instance"] == "replica-7" for e in entries)


def test_no_access_line_when_the_access_logger_is_off() -> None:
    stream = CountingStream()
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    try:
        run_on_a_new_loop(call(edge(Inner(), stream), scope(path="/x")))
    finally:
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
    assert stream.getvalue() == ""


@pytest.mark.parametrize("path", ["/healthz", '/a"b\\c', "/caf\u00e9/\u2603", "/tab\there\n", "/\x00\x1f"])
def test_the_access_line_is_what_json_writes_for_every_line(path: str) -> None:
    stream = CountingStream()
    AccessLog('replica "7"', stream).request("rid-1", "PUT", path, "/cart/items/{sku}", 413, 0.0123456)
    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    entry = json.loads(line)
    expected = {
        "ts": entry["ts"],
        "level": "info",
        "logger": ACCESS_LOGGER,
        "msg": "request",
        "instance": 'replica "7"',
        "request_id": "rid-1",
        "method": "PUT",
        "path": path,
        "route": "/cart/items/{sku}",
        "status": 413,
        "duration_ms": 12.35,
    }
    assert line == json.dumps(expected) + "\n"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])


def test_a_body_that_does_not_arrive_in_time_is_a_json_408_and_never_reaches_the_app(access: CountingStream) -> None:
    inner = Inner()
    app = Edge(
        inner, state=None, instance_id="replica-7", metrics=Metrics(), access_log=AccessLog("replica-7", access),
        max_body_bytes=1024, body_timeout_seconds=0.2,
    )
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b"{", "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the client sends nothing more
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run_on_a_new_loop(app(scope("POST", "/cart/items/A1"), receive, send))
    assert sent[0]["status"] == 408
    assert dict(sent[0]["headers"])[b"connection"] == b"close"
    assert json.loads(sent[1]["body"]) == {"detail": "the request body did not arrive within 0.2 s"}
    assert inner.calls == []


def test_a_body_that_arrives_in_time_is_not_cut_off(access: CountingStream) -> None:
    inner = Inner()
    app = Edge(
        inner, state=None, instance_id="replica-7", metrics=Metrics(), access_log=AccessLog("replica-7", access),
        max_body_bytes=1024, body_timeout_seconds=5,
    )
    status, _, _ = run_on_a_new_loop(call(app, scope("POST", "/x"), b'{"a": 1}'))
    assert status == 200 and inner.calls == [("/x", b'{"a": 1}')]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # The ALB's trace header, the id its access log records (trace_id): adopted.
        ([(b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678")], "1-67891233-abcdef012345678912345678"),
        ([(b"x-amzn-trace-id", b"Self=1-6789-x;Root=1-67891233-abcdef012345678912345678;Sampled=1")],
         "1-67891233-abcdef012345678912345678"),
        # An X-Request-Id (HAProxy's unique id locally) wins, whichever header comes first.
        ([(b"x-request-id", b"lb-1234"), (b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678")], "lb-1234"),
        ([(b"x-amzn-trace-id", b"Root=1-67891233-abcdef012345678912345678"), (b"x-request-id", b"lb-1234")], "lb-1234"),
    ],
)
def test_the_load_balancers_request_id_is_the_apps(
    access: CountingStream, headers: list[tuple[bytes, bytes]], expected: str
) -> None:
    _, answer_headers, _ = run_on_a_new_loop(call(edge(Inner(), access), scope(headers=headers)))
    assert answer_headers[b"x-request-id"] == expected.encode()


@pytest.mark.parametrize(
    "trace", [b"Root=1-6789123-abcdef012345678912345678", b"Root=2-67891233-abcdef012345678912345678", b"garbage"]
)
def test_a_malformed_trace_header_is_not_adopted(access: CountingStream, trace: bytes) -> None:
    _, answer_headers, _ = run_on_a_new_loop(call(edge(Inner(), access), scope(headers=[(b"x-amzn-trace-id", trace)])))
    assert re.fullmatch(rb"[0-9a-f]{32}", answer_headers[b"x-request-id"])


def aged_edge(inner: Any, stream: io.StringIO, now: float) -> Edge:
    return Edge(
        inner, state=None, instance_id="replica-7", metrics=Metrics(), access_log=AccessLog("replica-7", stream),
        max_body_bytes=1024, request_max_age_seconds=10, clock=lambda: now,
        operational={"/healthz": (frozenset({"GET"}), lambda state: JSONResponse({"status": "ok"}))},
    )


NOW = 1_765_000_000.0


@pytest.mark.parametrize(
    ("headers", "acted_on"),
    [
        ([(b"x-request-start", f"t={int((NOW - 9.9) * 1000)}".encode())], True),
        ([(b"x-request-start", f"t={int((NOW - 10.1) * 1000)}".encode())], False),
        # The ALB's trace id holds the second it received the request: counted from the end of that second.
        ([(b"x-amzn-trace-id", f"Root=1-{int(NOW) - 11:08x}-abcdef012345678912345678".encode())], True),
        ([(b"x-amzn-trace-id", f"Root=1-{int(NOW) - 12:08x}-abcdef012345678912345678".encode())], False),
        # No stamp, or one that is not a stamp: nothing to judge by.
        ([], True),
        ([(b"x-request-start", b"t=yesterday")], True),
    ],
)
def test_a_request_that_waited_too_long_before_reaching_the_replica_is_not_acted_on(
    access: CountingStream, headers: list[tuple[bytes, bytes]], acted_on: bool
) -> None:
    inner = Inner()
    status, answer_headers, body = run_on_a_new_loop(
        call(aged_edge(inner, access, NOW), scope("PUT", "/cart/items/A1", headers=headers), b'{"quantity": 1}')
    )
    assert (inner.calls != []) is acted_on
    if not acted_on:
        assert status == 503 and answer_headers[b"retry-after"] == b"1"
        assert json.loads(body)["detail"].startswith("the request reached the replica too late")


def test_probes_are_answered_whatever_their_age(access: CountingStream) -> None:
    stale = [(b"x-request-start", f"t={int((NOW - 60) * 1000)}".encode())]
    status, _, _ = run_on_a_new_loop(call(aged_edge(Inner(), access, NOW), scope("GET", "/healthz", headers=stale)))
    assert status == 200

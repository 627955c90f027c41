"""The edge (app/edge.py) and the access log (app/logs.py), driven as ASGI directly: no server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from starlette.responses import JSONResponse, Response

from app.edge import Edge
from app.logs import ACCESS_LOGGER, AccessLog
from app.metrics import Metrics
from tests.app.support import run_on_a_new_loop


async def nothing_more(limit: float = 30.0) -> None:
    """A client that sends nothing more: waits for a message that never comes, at most `limit` seconds.
    The edge's own deadline ends the wait long before; the limit keeps a broken edge from hanging."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.Event().wait(), limit)


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
        await nothing_more()
        raise AssertionError("the edge waited longer than its body timeout")

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


# --- what goes through untouched, what is answered here, word for word ---------------------------------


def plain_edge(inner: Any, stream: io.StringIO, **options: Any) -> Edge:
    values: dict[str, Any] = {"max_body_bytes": 1024}
    values.update(options)
    return Edge(
        inner, state=None, instance_id="replica-7", metrics=Metrics(), access_log=AccessLog("replica-7", stream),
        **values,
    )


def test_anything_but_http_goes_to_the_app_as_it_came(access: CountingStream) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    lifespan = {"type": "lifespan"}

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        pass

    run_on_a_new_loop(plain_edge(inner, access)(lifespan, receive, send))
    assert seen == [(lifespan, receive, send)]
    assert access.getvalue() == ""


def head_scope(header_value: bytes) -> dict[str, Any]:
    return {
        "type": "http", "method": "GET", "path": "/x", "raw_path": b"/x", "query_string": b"a=1",
        "headers": [(b"host", b"replica"), (b"x-pad", header_value)],
    }


def test_head_size_counts_the_request_line_and_every_header() -> None:
    from app.edge import head_size

    # "GET" + "/x" + "a=1" + 12 (spaces, "?", " HTTP/1.1", CRLF) + ("host: replica" + CRLF) + ("x-pad: 12345" + CRLF)
    assert head_size(head_scope(b"12345")) == 3 + 2 + 3 + 12 + (4 + 7 + 4) + (5 + 5 + 4)
    assert head_size({"method": "GET", "raw_path": None, "query_string": None, "headers": None}) == 3 + 12
    assert head_size({}) == 12


def test_a_head_over_the_limit_is_a_400_and_one_at_the_limit_is_not(access: CountingStream) -> None:
    from app.edge import head_size

    limit = head_size(head_scope(b"12345"))
    inner = Inner()
    app = plain_edge(inner, access, max_header_bytes=limit)
    assert run_on_a_new_loop(call(app, head_scope(b"12345")))[0] == 200
    status, _, body = run_on_a_new_loop(call(app, head_scope(b"123456")))
    assert (status, json.loads(body)) == (400, {"detail": f"request head larger than {limit} bytes"})
    assert len(inner.calls) == 1
    # No limit configured: no head is refused.
    assert run_on_a_new_loop(call(plain_edge(Inner(), access), head_scope(b"x" * 100_000)))[0] == 200


class Client:
    """The client side of `receive`: the messages it will send, and how many the edge asked for."""

    def __init__(self, messages: list[dict[str, Any]], then_hang: bool = False) -> None:
        self.messages = list(messages)
        self.asked = 0
        self.then_hang = then_hang
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.asked += 1
        if self.messages:
            return self.messages.pop(0)
        if self.then_hang:
            await nothing_more()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def run(self, app: Any, request: dict[str, Any]) -> None:
        run_on_a_new_loop(app(request, self.receive, self.send))


def chunked(sizes: list[int], last_more: bool = False) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": b"x" * size, "more_body": last_more or n < len(sizes) - 1}
        for n, size in enumerate(sizes)
    ]


def with_length(value: bytes) -> dict[str, Any]:
    return scope("PUT", "/cart/items/a", headers=[(b"content-length", value)])


def test_a_declared_length_over_the_limit_is_a_413_before_any_body_is_read(access: CountingStream) -> None:
    inner = Inner()
    client = Client(chunked([10]))
    client.run(plain_edge(inner, access), with_length(b"1025"))
    start, body = client.sent
    assert start["status"] == 413 and json.loads(body["body"]) == {"detail": "request body larger than 1024 bytes"}
    assert inner.calls == [] and client.asked == 1  # what was sent is drained, the connection kept clean
    # Exactly at the limit: read and passed on.
    client = Client(chunked([1024]))
    client.run(plain_edge(inner, access), with_length(b"1024"))
    assert client.sent[0]["status"] == 200 and inner.calls == [("/cart/items/a", b"x" * 1024)]


@pytest.mark.parametrize("value", [b"abc", b"", b"1.5"])
def test_an_invalid_content_length_is_a_400(access: CountingStream, value: bytes) -> None:
    inner = Inner()
    client = Client(chunked([3]))
    client.run(plain_edge(inner, access), with_length(value))
    assert client.sent[0]["status"] == 400
    assert json.loads(client.sent[1]["body"]) == {"detail": "invalid Content-Length header"}
    assert inner.calls == []


def test_the_413_and_its_headers_word_for_word(access: CountingStream) -> None:
    client = Client(chunked([1025]))
    client.run(plain_edge(Inner(), access), scope("PUT", "/cart/items/a", headers=[(b"x-request-id", b"rid-1")]))
    body = json.dumps({"detail": "request body larger than 1024 bytes"}).encode()
    assert client.sent == [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
                (b"x-instance-id", b"replica-7"),
                (b"x-request-id", b"rid-1"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


MIB = 1024 * 1024


def test_a_declared_body_past_the_drain_limit_is_not_read_at_all(access: CountingStream) -> None:
    from app.edge import DRAIN_LIMIT_BYTES

    client = Client(chunked([MIB] * 3, last_more=True))
    client.run(plain_edge(Inner(), access), with_length(str(DRAIN_LIMIT_BYTES + 1).encode()))
    assert client.sent[0]["status"] == 413 and client.asked == 0
    # At the drain limit exactly, it is drained.
    client = Client(chunked([MIB] * 3))
    client.run(plain_edge(Inner(), access), with_length(str(DRAIN_LIMIT_BYTES).encode()))
    assert client.sent[0]["status"] == 413 and client.asked == 3


def test_an_oversized_stream_is_drained_up_to_the_drain_limit_then_left(access: CountingStream) -> None:
    from app.edge import DRAIN_LIMIT_BYTES

    # Chunks of 1 MiB for ever: the first passes the body limit, then the drain reads while it has read
    # no more than DRAIN_LIMIT_BYTES, i.e. 17 more chunks.
    client = Client(chunked([MIB] * 40, last_more=True))
    client.run(plain_edge(Inner(), access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413
    assert client.asked == 1 + DRAIN_LIMIT_BYTES // MIB + 1


def test_an_oversized_stream_is_drained_to_its_end_or_the_clients_departure(access: CountingStream) -> None:
    client = Client(chunked([600, 600, 10, 10]))
    client.run(plain_edge(Inner(), access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413 and client.asked == 4
    # The chunk that passes the limit was the last: nothing more is read.
    client = Client(chunked([600, 600]))
    client.run(plain_edge(Inner(), access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413 and client.asked == 2
    # A message without `more_body` is the last one.
    client = Client([{"type": "http.request", "body": b"x" * 2000}, *chunked([5])])
    client.run(plain_edge(Inner(), access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413 and client.asked == 1
    # The client leaves half way through the drain.
    client = Client([*chunked([2000, 10], last_more=True), {"type": "http.disconnect"}, *chunked([5])])
    client.run(plain_edge(Inner(), access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413 and client.asked == 3
    # A drain message without `more_body` ends it too.
    client = Client([*chunked([2000], last_more=True), {"type": "http.request", "body": b"x"}, *chunked([5])])
    client.run(plain_edge(Inner(), access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413 and client.asked == 2


def test_the_drain_gives_up_after_its_time(access: CountingStream, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import edge as edge_module

    monkeypatch.setattr(edge_module, "DRAIN_SECONDS", 0.05)
    client = Client(chunked([2000], last_more=True), then_hang=True)

    async def bounded() -> None:
        with anyio.fail_after(30):  # a drain without a deadline would hang here
            await plain_edge(Inner(), access)(with_length(b"2000"), client.receive, client.send)

    run_on_a_new_loop(bounded())
    assert client.sent[0]["status"] == 413


def test_chunks_add_up_to_the_limit(access: CountingStream) -> None:
    inner = Inner()
    client = Client(chunked([400, 400, 400]))
    client.run(plain_edge(inner, access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 413 and inner.calls == []
    client = Client(chunked([400, 400, 224]))
    client.run(plain_edge(inner, access), scope("PUT", "/x"))
    assert client.sent[0]["status"] == 200 and inner.calls == [("/x", b"x" * 1024)]


def test_the_app_gets_the_body_once_then_the_clients_own_messages(access: CountingStream) -> None:
    got: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        got.append(await receive())
        got.append(await receive())
        await JSONResponse({})(scope, receive, send)

    client = Client([*chunked([3, 2]), {"type": "http.disconnect"}])
    client.run(plain_edge(inner, access), scope("PUT", "/x"))
    assert got == [{"type": "http.request", "body": b"xxxxx", "more_body": False}, {"type": "http.disconnect"}]
    # A message without a body is an empty body; one without `more_body` the last.
    got.clear()
    Client([{"type": "http.request"}, *chunked([5])]).run(plain_edge(inner, access), scope("PUT", "/x"))
    assert got[0] == {"type": "http.request", "body": b"", "more_body": False}


def test_a_client_that_leaves_during_the_body_is_a_499_and_the_app_never_runs(access: CountingStream) -> None:
    inner = Inner()
    client = Client([*chunked([10], last_more=True), {"type": "http.disconnect"}, *chunked([5])])
    client.run(plain_edge(inner, access), scope("PUT", "/x"))
    assert client.sent == [] and inner.calls == [] and client.asked == 2
    assert json.loads(access.getvalue())["status"] == 499


def test_the_access_line_and_metrics_name_the_route_the_method_and_the_status(access: CountingStream) -> None:
    import time
    from types import SimpleNamespace

    async def routed(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = SimpleNamespace(path="/cart/items/{sku}")
        await receive()
        await JSONResponse({}, status_code=201)(scope, receive, send)

    app = plain_edge(routed, access)
    before = time.perf_counter()
    run_on_a_new_loop(call(app, scope("PUT", "/cart/items/A1", headers=[(b"x-request-id", b"rid-9")])))
    took_ms = (time.perf_counter() - before) * 1000
    entry = json.loads(access.getvalue())
    assert (entry["request_id"], entry["method"], entry["path"], entry["route"], entry["status"]) == (
        "rid-9", "PUT", "/cart/items/A1", "/cart/items/{sku}", 201,
    )
    assert 0 <= entry["duration_ms"] <= took_ms + 0.01
    registry = app.metrics.registry
    labels = {"method": "PUT", "route": "/cart/items/{sku}", "status": "201"}
    assert registry.get_sample_value("http_requests_total", labels) == 1
    assert registry.get_sample_value(
        "http_request_duration_seconds_count", {"method": "PUT", "route": "/cart/items/{sku}"}
    ) == 1


def test_a_route_without_a_template_is_unmatched(access: CountingStream) -> None:
    async def routed(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = object()
        await JSONResponse({})(scope, receive, send)

    run_on_a_new_loop(call(plain_edge(routed, access), scope("GET", "/x")))
    assert json.loads(access.getvalue())["route"] == "<unmatched>"


def test_a_scope_without_method_or_path_is_a_500_not_a_crash(access: CountingStream) -> None:
    client = Client(chunked([0]))
    client.run(plain_edge(Inner(), access), {"type": "http", "headers": []})
    assert client.sent[0]["status"] == 500
    entry = json.loads(access.getvalue())
    assert (entry["method"], entry["path"], entry["route"], entry["status"]) == ("", "", "<unmatched>", 500)


def test_an_unhandled_error_is_logged_once_with_its_traceback(
    access: CountingStream, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="app.access"):
        run_on_a_new_loop(call(plain_edge(Inner(fail=True), access), scope(path="/cart")))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["unhandled error"] and errors[0].exc_info is not None


def test_the_app_sees_the_request_id_in_the_log_context(access: CountingStream) -> None:
    from app.logs import request_id_var

    seen: list[str | None] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(request_id_var.get())
        await JSONResponse({})(scope, receive, send)

    run_on_a_new_loop(call(plain_edge(inner, access), scope(path="/x", headers=[(b"x-request-id", b"rid-3")])))
    assert seen == ["rid-3"]


def test_an_answer_without_headers_still_gets_the_replicas(access: CountingStream) -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    status, headers, _ = run_on_a_new_loop(call(plain_edge(bare, access), scope(path="/x")))
    assert status == 204 and headers[b"x-instance-id"] == b"replica-7" and headers[b"cache-control"] == b"no-store"


def test_headers_after_a_dropped_one_are_kept(access: CountingStream) -> None:
    async def answer(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"x-instance-id", b"other"), (b"cache-control", b"public"), (b"x-after", b"kept")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    with_token = [(b"authorization", b"Bearer x")]
    _, headers, _ = run_on_a_new_loop(call(plain_edge(answer, access), scope(path="/x", headers=with_token)))
    assert headers == {
        b"x-after": b"kept", b"cache-control": b"no-store", b"x-instance-id": b"replica-7",
        b"x-request-id": headers[b"x-request-id"],
    }


def test_an_operational_answer_is_sent_as_two_plain_messages_and_never_cached_with_credentials(
    access: CountingStream,
) -> None:
    def cached(state: Any) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "public, max-age=5"})

    app = edge(Inner(), access, **{"/healthz": cached})
    client = Client([])
    client.run(app, scope(headers=[(b"authorization", b"Bearer x"), (b"x-request-id", b"rid-2")]))
    assert client.sent == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", b"15"),
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"x-instance-id", b"replica-7"),
                (b"x-request-id", b"rid-2"),
            ],
        },
        {"type": "http.response.body", "body": b'{"status":"ok"}'},
    ]


def test_an_app_that_answers_nothing_gets_nothing_sent_for_it(access: CountingStream) -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    client = Client(chunked([0]))
    client.run(plain_edge(silent, access), scope("GET", "/x"))
    assert client.sent == []
    entry = json.loads(access.getvalue())
    assert (entry["route"], entry["status"]) == ("<unmatched>", 499)

"""How uvicorn parses requests for this app: httptools with a request-head limit, protocol errors in JSON.

httptools is uvicorn's fast parser, but it puts no limit on the size of a request head: a replica
read and held 8 MB of headers. Neither layer bounds it:
- llhttp calls back with each span of a header name or value as it arrives, and httptools joins the
  spans of the header being read into bytes it holds (httptools/parser/parser.pyx,
  `HttpParser._on_header_field` / `_on_header_value`), handing the header to the protocol's
  `on_header` only when the next one starts (`_maybe_call_on_header`);
- uvicorn feeds every read to the parser (uvicorn/protocols/http/httptools_impl.py,
  `HttpToolsProtocol.data_received` → `parser.feed_data`) and keeps the url and the headers it is
  given (`on_url`, `on_header`) until `on_headers_complete` builds the scope.

`HeadLimitHttpToolsProtocol` counts the bytes of the head being read and answers 400 (JSON, closing
the connection) as soon as they pass the limit, without waiting for the head to end: a read that
arrives while a head is still incomplete and does not complete it is head bytes, all of it; in the
read where a message begins, the url and the headers the parser has handed over are counted. The
count never exceeds the true size of the head (so nothing within the limit is refused), and at most
one read's worth of bytes (the part of a header httptools still holds) goes uncounted, so a replica
holds at most the limit plus one read of an incomplete head. A head that arrived whole is measured
exactly by the edge (app/edge.py, `head_size`).

The limit, `APP_MAX_HEADER_BYTES` (64 KiB), is the ALB's own quota on the whole request header
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html,
"HTTP headers": request line 16K, single header 16K, entire request header 64K; the ALB answers
400 past it), so a replica accepts everything the ALB forwards and nothing much larger.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import Settings

INVALID_REQUEST = "invalid HTTP request (malformed, or a request head larger than the limit)"
_STATUS_400 = b"HTTP/1.1 400 Bad Request\r\n"


class HeadLimitHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head, answering errors in JSON."""

    # Set per server by `protocol_for`; a class attribute because uvicorn instantiates the protocol.
    max_head_bytes = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = False  # a message has begun and its headers are not complete yet
        self._count_callbacks = True
        self._heads_completed = 0

    def data_received(self, data: bytes) -> None:
        pending = self._in_head
        completed = self._heads_completed
        # In a read that continues a head, the whole read is counted below; callbacks would count twice.
        self._count_callbacks = not pending
        super().data_received(data)
        if not self._in_head or self.transport is None or self.transport.is_closing():
            return
        if pending and self._heads_completed == completed:
            self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self.send_400_response(INVALID_REQUEST)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True
        # A message that begins inside a read is counted through the parser's callbacks.
        self._count_callbacks = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if self._count_callbacks:
            self._head_bytes += len(url) + 12  # method, spaces, version, CRLF: about that

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if self._count_callbacks:
            self._head_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads_completed += 1
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"detail": INVALID_REQUEST}).encode()
        head = [_STATUS_400]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()


def protocol_for(max_head_bytes: int) -> type[HeadLimitHttpToolsProtocol]:
    return type("HeadLimitProtocol", (HeadLimitHttpToolsProtocol,), {"max_head_bytes": max_head_bytes})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of uvicorn.run / uvicorn.Config that bound what a request may cost."""
    return {"http": protocol_for(settings.max_header_bytes)}

"""How uvicorn parses requests for this app: h11 with a header-size limit, protocol errors in JSON.

uvicorn[standard] picks httptools when it is installed, and httptools has no limit on the size of
the request head: a replica read and held 8 MB of headers. h11 refuses a head that is still
incomplete past `max_incomplete_event_size` bytes (h11/_connection.py, `next_event`: "Receive
buffer too long", hint 431), and uvicorn's h11 protocol passes `h11_max_incomplete_event_size`
to it (uvicorn/protocols/http/h11_impl.py, `H11Protocol.__init__`), then answers any protocol
error with a plain-text 400 and closes (`handle_events` → `send_400_response`).

The limit, `APP_MAX_HEADER_BYTES` (64 KiB), is the ALB's own quota on the whole request header
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html,
"HTTP headers": request line 16K, single header 16K, entire request header 64K; the ALB answers
400 past it), so a replica accepts everything the ALB forwards and nothing much larger.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings

INVALID_REQUEST = "invalid HTTP request (malformed, or a request head larger than the limit)"


class JsonErrorsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering a malformed or oversized request in the API's JSON shape."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"detail": INVALID_REQUEST}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *self.server_state.default_headers,
        ]
        for event in (h11.Response(status_code=400, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of uvicorn.run / uvicorn.Config that bound what a request may cost."""
    return {"http": JsonErrorsH11Protocol, "h11_max_incomplete_event_size": settings.max_header_bytes}

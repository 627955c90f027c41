"""Limits of the replica's HTTP server, tested on a real `python -m app` process.

The request head is capped at APP_MAX_HEADER_BYTES (the ALB's 64 KiB), and the answer to an
oversized or malformed head is the API's JSON, not uvicorn's plain text.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import INVALID_REQUEST
from local.procs import free_port
from tests.app.support import run_on_a_new_loop

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def replica(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = make_settings(module_db, module_aws)
    port = free_port()
    env = {
        **os.environ,
        "APP_MODE": "local",
        "APP_INSTANCE_ID": "limits",
        "APP_DATABASE_URL": settings.database_url,
        "APP_REDIS_URL": settings.redis_url,
        "APP_S3_BUCKET": settings.s3_bucket,
        "APP_SQS_QUEUE_URL": settings.sqs_queue_url,
        "APP_JWT_PRIVATE_KEY": settings.jwt_private_key,
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
        "AWS_REGION": settings.aws_region,
    }
    log = (tmp_path_factory.mktemp("replica") / "app.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"python -m app did not start; see {log.name}")
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(30)
    log.close()


def _raw_request(url: str, head: bytes, send_buffer: int | None = None) -> tuple[int, bytes]:
    """Send a request head; returns (bytes the server let us send, what it answered)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    if send_buffer:
        # A small send buffer: the kernel cannot absorb megabytes the server never reads.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    sent = 0
    try:
        for offset in range(0, len(head), 65536):
            sock.sendall(head[offset : offset + 65536])
            sent = offset + len(head[offset : offset + 65536])
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    reply = b""
    try:
        while chunk := sock.recv(65536):
            reply += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return sent, reply


def _head(header_bytes: int) -> bytes:
    filler = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    lines = filler * (header_bytes // len(filler) + 1)
    return b"GET /healthz HTTP/1.1\r\nHost: replica\r\n" + lines + b"\r\n"


def test_a_head_within_the_limit_is_served(replica: str) -> None:
    _, reply = _raw_request(replica, _head(48 * 1024) + b"")
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


def test_a_head_over_the_limit_gets_a_json_400(replica: str) -> None:
    # Sent whole: the head arrives complete, and the app's own check answers.
    _, reply = _raw_request(replica, _head(80 * 1024))
    status, _, rest = reply.partition(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request", reply[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower()
    assert json.loads(body) == {"detail": "request head larger than 65536 bytes"}


def test_a_head_trickling_past_the_limit_is_cut_off_by_the_parser(replica: str) -> None:
    # Sent in pieces: the protocol (app/server.py) refuses the incomplete head once it is past the limit.
    host, port = replica.removeprefix("http://").split(":")
    head = _head(200 * 1024)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            for offset in range(0, len(head), 8192):
                sock.sendall(head[offset : offset + 8192])
                time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            reply = sock.recv(65536)
        except ConnectionResetError:
            reply = b""
    assert offset < len(head) - 8192 or reply.startswith(b"HTTP/1.1 400"), (offset, reply[:200])
    if reply:
        assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
        assert json.loads(reply.partition(b"\r\n\r\n")[2]) == {"detail": INVALID_REQUEST}


def test_eight_megabytes_of_headers_are_refused_early(replica: str) -> None:
    head = _head(8 * 1024 * 1024)
    sent, reply = _raw_request(replica, head, send_buffer=32 * 1024)
    # The server stopped reading near the limit and closed; it never held the 8 MB.
    assert sent < 2 * 1024 * 1024, sent
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:200]
    # And it is still serving.
    assert httpx.get(f"{replica}/healthz", timeout=5).status_code == 200


def test_a_malformed_request_line_gets_a_json_400(replica: str) -> None:
    _, reply = _raw_request(replica, b"GET /healthz HTTP/1.1\r\nHost: replica\r\nBad Header Line\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert reply.rstrip().endswith(json.dumps({"detail": INVALID_REQUEST}).encode())


class _Transport:
    """Just enough of an asyncio transport for uvicorn's protocol: records what is written."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, *args: Any, **kwargs: Any) -> None:
        pass


def _feed(head: bytes, chunk: int, limit: int) -> tuple[_Transport, int, list[dict[str, Any]]]:
    """Feed `head` to the app's protocol `chunk` bytes at a time; returns the transport, the bytes fed
    before it closed, and the requests that reached the app."""
    import asyncio

    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from app.server import protocol_for

    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    async def run() -> tuple[_Transport, int]:
        config = Config(app=app, http=protocol_for(limit), lifespan="off", log_config=None)
        config.load()
        protocol = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
        transport = _Transport()
        protocol.connection_made(transport)
        fed = 0
        for offset in range(0, len(head), chunk):
            if transport.closed:
                break
            protocol.data_received(head[offset : offset + chunk])
            fed = min(len(head), offset + chunk)
        await asyncio.sleep(0)
        return transport, fed

    transport, fed = run_on_a_new_loop(run())
    return transport, fed, seen


def test_the_server_parses_with_httptools_and_the_head_limit() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from app.__main__ import server_options
    from app.settings import Settings

    settings = Settings(max_header_bytes=8192)
    protocol = server_options(settings)["http"]
    assert issubclass(protocol, HttpToolsProtocol)
    assert protocol.max_head_bytes == 8192


@pytest.mark.parametrize("chunk", [7, 100, 1500])
def test_a_head_trickling_past_the_limit_is_refused_before_it_ends(chunk: int) -> None:
    head = b"GET /x HTTP/1.1\r\nHost: h\r\n" + b"X-Filler: " + b"a" * 20_000 + b"\r\n\r\n"
    transport, fed, seen = _feed(head, chunk, limit=4096)
    assert transport.closed and seen == []
    assert transport.written.startswith(b"HTTP/1.1 400 "), transport.written[:100]
    assert json.loads(transport.written.partition(b"\r\n\r\n")[2]) == {"detail": INVALID_REQUEST}
    # Cut off within a read or two of the limit, not at the end of the 20 KB header.
    assert fed <= 4096 + 2 * chunk + 100, fed


@pytest.mark.parametrize("chunk", [7, 100, 1500, 1 << 20])
def test_a_head_within_the_limit_is_never_refused_however_it_arrives(chunk: int) -> None:
    # 40 headers just under the limit in total, then a body far larger than the limit in the same reads.
    headers = b"".join(b"X-H%02d: " % i + b"v" * 90 + b"\r\n" for i in range(40))
    body = b"b" * 60_000
    head = b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n" % len(body) + headers + b"\r\n"
    assert len(head) < 4096
    transport, _, seen = _feed(head + body, chunk, limit=4096)
    assert not transport.written.startswith(b"HTTP/1.1 400"), transport.written[:100]
    assert len(seen) == 1 and len(seen[0]["headers"]) == 42

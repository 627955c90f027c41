"""The one readiness probe: a GET on a loopback URL, 0 when nothing answers, never an exception."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from local import probe, procs


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/readyz": 200, "/draining/readyz": 503}.get(self.path, 404)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_ready_only_on_200_from_readyz(server: str) -> None:
    assert probe.ready(server) is True
    assert probe.ready(server + "/draining") is False
    assert probe.http_status(server + "/draining/readyz") == 503


def test_any_http_answer_means_the_server_is_up(server: str) -> None:
    assert probe.http_status(server + "/moto-api/") == 404
    assert probe.answers(server + "/moto-api/") is True


def test_nothing_listening_is_status_0_not_an_exception() -> None:
    url = f"http://127.0.0.1:{procs.free_port()}"
    assert probe.http_status(url + "/readyz", timeout=1) == 0
    assert probe.ready(url) is False and probe.answers(url) is False

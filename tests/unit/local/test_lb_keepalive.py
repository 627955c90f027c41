"""Connections from HAProxy to a replica are reused as the ALB reuses its target connections, so an app
whose keep-alive is shorter than the load balancer's idle timeout shows the ALB's intermittent 502s
(AWS: "configure the idle timeout of your application to be larger than the idle timeout configured
for the load balancer ... Otherwise ... the load balancer sends an HTTP 502"), and the app's default
keep-alive does not.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.__main__ import server_options
from app.settings import Settings
from local import procs
from local.haproxy import HealthCheck, Server, stack_idle_timeout, start_haproxy

REQUESTS = 80


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Replica:
    """A uvicorn server with the options `python -m app` uses, serving a trivial app in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = procs.free_port()
        options = {**server_options(settings), "log_level": "warning"}
        options.pop("log_config")
        self.server = uvicorn.Server(uvicorn.Config(tiny_app, host="127.0.0.1", port=self.port, **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Replica:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def through_lb(tmp_path: Path) -> Iterator[Any]:
    def run(settings: Settings, pace: float) -> Counter[int | str]:
        seen: Counter[int | str] = Counter()
        with Replica(settings) as replica:
            lb = start_haproxy(
                tmp_path / str(settings.keepalive_timeout_seconds),
                [Server("replica-1", replica.port)],
                port=procs.free_port(),
                health=HealthCheck.from_target_group(),
                idle_timeout_s=stack_idle_timeout(),
                timeout=20,
            )
            try:
                with httpx.Client(base_url=lb.url, timeout=10, trust_env=False) as http:
                    for _ in range(REQUESTS):
                        # Requests from ever new clients arrive just as the replica's keep-alive runs out
                        # on the connection HAProxy keeps to it.
                        time.sleep(pace + random.uniform(-0.003, 0.003))
                        try:
                            seen[http.get("/", headers={"Connection": "close"}).status_code] += 1
                        except httpx.HTTPError as exc:
                            seen[type(exc).__name__] += 1
            finally:
                lb.stop()
        return seen

    return run


def test_an_app_keepalive_shorter_than_the_idle_timeout_shows_up_as_502s(through_lb: Any) -> None:
    # uvicorn takes fractions of a second too; a short keep-alive keeps the test quick.
    short = Settings().model_copy(update={"keepalive_timeout_seconds": 0.08})
    seen = through_lb(short, pace=0.08)
    print(f"keep-alive 0.08 s behind a {stack_idle_timeout()} s idle timeout: {dict(seen)}")
    assert seen[502] > 0, seen
    assert set(seen) <= {200, 502}, seen


def test_the_apps_default_keepalive_outlasts_the_idle_timeout_and_shows_none(through_lb: Any) -> None:
    default = Settings()
    assert default.keepalive_timeout_seconds > stack_idle_timeout()
    seen = through_lb(default, pace=0.08)
    assert seen == Counter({200: REQUESTS}), seen

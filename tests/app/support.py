"""Test helpers: the app served by a real uvicorn on a free loopback port, and API shortcuts."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn

from app.main import create_app
from app.server import uvicorn_options
from app.settings import Settings
from local.procs import free_port


class AppServer:
    """create_app(settings) under uvicorn in a background thread; `.client` talks to it over TCP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            **uvicorn_options(settings),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)
        self.client = httpx.Client(base_url=self.url, timeout=15)

    def start(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the app failed to start; see the captured log")
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not start within 30 s")
            time.sleep(0.02)
        return self

    @property
    def state(self) -> Any:
        return self.app.state.app_state

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(15)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def new_username(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def register(client: httpx.Client, username: str | None = None, password: str | None = None) -> dict:
    username = username or new_username()
    password = password or "a long enough secret"
    response = client.post("/auth/register", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"username": username, "password": password, **response.json()}


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_user(client: httpx.Client) -> tuple[dict, dict[str, str]]:
    user = register(client)
    return user, login(client, user["username"], user["password"])


def wait_until(check: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll until check() returns something truthy; returns it, or the last falsy value on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def receive_all(sqs: Any, queue_url: str, wait: float = 1.0) -> list[dict]:
    """Every message currently visible on the queue (received and deleted)."""
    messages: list[dict] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=int(wait),
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def run_on_a_new_loop(coroutine: Any) -> Any:
    """Runs a coroutine on a loop of its own, leaving the thread's current loop as it was (asyncio.run
    would set it to None, and later tests in this process ask for it)."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()

"""`python -m local up|status|down` end to end, through the real entry point and the real app.

A client registers, logs in and fills a cart through HAProxy (served by several replicas); one replica
is SIGKILLed while background traffic keeps going; the cart is intact, checkout completes, the
receipt lands in S3, and `down` leaves none of the recorded processes behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from demo.client import AppClient
from local import procs, runinfo, services
from local.environment import LocalEnvironment

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
UP_TIMEOUT = 150


def local_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def poll(check, what: str, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Background:
    """One client re-reading the cart and re-setting one line, until stopped; counts what failed after
    its own retries (the load balancer replays nothing, as an ALB)."""

    def __init__(self, lb_url: str, token: str, expected: dict[str, int]) -> None:
        self.client = AppClient(lb_url, token=token)
        self.expected = dict(expected)
        self.requests = 0
        self.failures: list[str] = []
        self.served_by: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def _run(self) -> None:
        step = 0
        while not self._stop.is_set():
            step += 1
            quantity = step % 7 + 1
            try:
                if step % 2:
                    response = self.client.request("PUT", "/cart/items/BG-1", json={"quantity": quantity})
                else:
                    response = self.client.request("GET", "/cart")
                self.requests += 1
                if response.status_code != 200:
                    request = response.request
                    self.failures.append(f"{request.method} {request.url.path}: {response.status_code}")
                    continue
                self.served_by.append((time.monotonic(), response.headers["x-instance-id"]))
                if step % 2:
                    self.expected["BG-1"] = quantity
                else:
                    items = {i["sku"]: i["quantity"] for i in response.json()["items"]}
                    if items != self.expected:
                        self.failures.append(f"cart read {items}, expected {self.expected}")
            except httpx.HTTPError as exc:
                self.requests += 1
                self.failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()


@pytest.fixture
def state_dir(tmp_path: Path):
    directory = tmp_path / "state"
    yield directory
    # Whatever happened, leave nothing running.
    if (directory / runinfo.RUN_FILE).exists():
        local_cli("down", "--state-dir", str(directory))


def test_up_serves_survives_a_sigkill_and_down_leaves_nothing(state_dir: Path, capsys: pytest.CaptureFixture[str]):
    began = time.monotonic()
    started = local_cli("up", "--replicas", "3", "--state-dir", str(state_dir), timeout=UP_TIMEOUT)
    assert started.returncode == 0, started.stdout + started.stderr
    up_seconds = time.monotonic() - began

    data = json.loads((state_dir / "run.json").read_text())
    assert set(data) == {"lb_url", "replicas", "worker", "services"}
    assert [r["id"] for r in data["replicas"]] == ["replica-1", "replica-2", "replica-3"]
    assert set(data["services"]) == {"redis", "postgres", "moto", "haproxy"}
    run = runinfo.read(state_dir)
    assert run is not None
    running = LocalEnvironment(run, state_dir)
    recorded = run.pids()
    assert all(procs.is_running(pid) for pid in recorded.values())

    again = local_cli("up", "--state-dir", str(state_dir))
    assert again.returncode == 1
    assert "already up" in again.stderr
    assert local_cli("status", "--state-dir", str(state_dir)).returncode == 0

    lb = httpx.Client(base_url=run.lb_url, timeout=10)
    username, password = f"e2e-{uuid.uuid4().hex[:10]}", "correct horse battery"
    assert lb.post("/auth/register", json={"username": username, "password": password}).status_code == 201
    login = lb.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200
    token = login.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    expected: dict[str, int] = {}
    served_by = set()
    for index in range(6):
        sku, quantity = f"SKU-{index}", index + 1
        response = lb.put(f"/cart/items/{sku}", json={"quantity": quantity}, headers=auth)
        assert response.status_code == 200, response.text
        expected[sku] = quantity
        served_by.add(response.headers["x-instance-id"])
    # A token issued by one replica is honoured by the others: no stickiness, one signing key.
    assert len(served_by) >= 2, served_by

    background = Background(run.lb_url, token, expected).start()
    try:
        poll(lambda: background.requests >= 50, "background traffic", 30, 0.05)
        victim = run.replicas[1]
        killed_at = time.monotonic()
        running.kill_replica(victim.id, signal.SIGKILL)
        assert not procs.is_running(victim.pid)
        requests_before = background.requests
        poll(lambda: background.requests >= requests_before + 200, "traffic after the kill", 60, 0.05)
    finally:
        background.stop()
    after_kill = [instance for at, instance in background.served_by if at > killed_at]
    with capsys.disabled():
        print(
            f"\n[local e2e] up took {up_seconds:.1f}s; background requests {background.requests} "
            f"({len(after_kill)} after SIGKILL of {victim.id}); attempts failed at the load balancer: "
            f"{background.client.failed_attempts}; failed after the client's retries: {len(background.failures)}",
            flush=True,
        )
    assert background.failures == []
    # A response already on its way when the signal landed may be counted just after it.
    assert set(after_kill[10:]) == {r.id for r in run.replicas} - {victim.id}

    status = local_cli("status", "--state-dir", str(state_dir))
    assert status.returncode == 1, status.stdout
    assert f"DOWN {victim.id}" in status.stdout
    assert status.stdout.count("ok  ") == len(recorded) - 1

    cart = lb.get("/cart", headers=auth)
    assert cart.status_code == 200
    assert {i["sku"]: i["quantity"] for i in cart.json()["items"]} == background.expected

    checkout = lb.post("/orders", headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
    assert checkout.status_code == 201, checkout.text
    order = checkout.json()
    assert order["status"] == "pending"
    assert {i["sku"]: i["quantity"] for i in order["items"]} == background.expected

    ready = poll(
        lambda: (r := lb.get(f"/orders/{order['id']}", headers=auth)).json().get("status") == "ready" and r.json(),
        "the order to be ready",
        45,
    )
    assert ready["receipt_url"]
    s3 = services.aws_client("s3", run.services["moto"]["url"])
    receipt = s3.get_object(Bucket=run.services["moto"]["bucket"], Key=f"receipts/{order['id']}.json")
    document = json.loads(receipt["Body"].read())
    assert document["order_id"] == order["id"]
    assert {i["sku"]: i["quantity"] for i in document["items"]} == background.expected
    lb.close()

    stopped = local_cli("down", "--state-dir", str(state_dir))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not (state_dir / "run.json").exists()
    left = [f"{role} (pid {pid})" for role, pid in recorded.items() if procs.is_running(pid)]
    assert left == []
    # PostgreSQL's backends share its process group; none may outlive it either.
    assert procs.group_members(recorded["postgres"]) == []
    twice = local_cli("down", "--state-dir", str(state_dir))
    assert twice.returncode == 0
    assert "nothing to stop" in twice.stdout
    with capsys.disabled():
        print(f"[local e2e] whole scenario {time.monotonic() - began:.1f}s", flush=True)
    assert os.path.isdir(state_dir / "logs")

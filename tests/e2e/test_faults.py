"""Proof under faults: the local environment (3 replicas behind HAProxy, real PostgreSQL, Redis, moto
and the worker) keeps every request, session and order through replica restarts and kills, store
restarts and a worker crash. One environment serves the whole module; each test leaves it whole.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from demo.client import AppClient, ScenarioError, Traffic, TrafficReport, new_client
from demo.environment import HAPROXY_STATE, Stack, throwaway
from demo.scenario import aws_client, s3_client
from local import env, procs

pytestmark = pytest.mark.e2e


def wait_for(check: Callable[[], bool], what: str, timeout: float, interval: float = 0.05) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with throwaway(replicas=3, prefix="stateless-faults-") as running:
        yield running


@pytest.fixture
def whole(stack: Stack) -> Stack:
    stack.heal()
    return stack


@pytest.fixture
def show(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    def emit(text: str) -> None:
        with capsys.disabled():
            print(f"\n{text}", flush=True)

    return emit


def figures(title: str, report: TrafficReport, **extra: Any) -> str:
    items = {**report.figures(), **extra}
    return f"[{title}] " + ", ".join(f"{k}={v}" for k, v in items.items())


def final_carts_match(traffic: Traffic) -> list[str]:
    """Read every background user's cart once more, outside the load, and compare."""
    problems = []
    for index, client in enumerate(traffic.clients):
        with contextlib.closing(AppClient(client.base_url, client.username, client.password)) as reader:
            reader.token = client.token
            seen = reader.cart()
        for sku, quantity in traffic.expected[index].items():
            if quantity is not None and seen.get(sku) != quantity:
                problems.append(f"user {index}: {sku} expected {quantity}, found {seen.get(sku)}")
    return problems


# --- replicas -----------------------------------------------------------------------------------------


def test_rolling_restart_under_traffic_loses_no_request_and_no_cart(whole: Stack, show: Callable[[str], None]):
    states_before = len(haproxy_states(whole))
    traffic = Traffic(whole.lb, users=3, pause=0.01).start()
    back_after = {}
    try:
        traffic.wait_requests(60)
        for replica in whole.run.replicas:
            began = time.monotonic()
            whole.restart_replica(replica.id, signal.SIGTERM)
            # The replacement counts only once HAProxy's health check has put it back in rotation.
            try:
                traffic.wait_served_by(replica.id, since=time.monotonic(), timeout=45)
            except ScenarioError as exc:
                states = whole.log_tail("haproxy", containing=HAPROXY_STATE)
                raise AssertionError(f"{exc}\n--- haproxy server states ---\n{states}") from exc
            back_after[replica.id] = round(time.monotonic() - began, 2)
        traffic.wait_requests(60)
    finally:
        report = traffic.stop()
    show(figures("rolling restart (SIGTERM)", report, back_in_rotation_s=back_after))
    assert report.failed == 0, report.failures()
    assert report.mismatches == []
    assert final_carts_match(traffic) == []
    assert len(report.instances) == 3
    # HAProxy itself took each draining replica out of rotation and put its replacement back.
    changes = haproxy_states(whole)[states_before:]
    for replica in whole.run.replicas:
        mine = [state for name, state in changes if name == replica.id]
        assert "DOWN" in mine and "UP" in mine[mine.index("DOWN") :], (replica.id, changes)


def haproxy_states(stack: Stack) -> list[tuple[str, str]]:
    """(server, UP or DOWN) for every state change in HAProxy's log, oldest first (an event may be
    listed twice: HAProxy echoes it as a warning too)."""
    found = []
    for line in stack.log_tail("haproxy", lines=100_000, containing=(" is UP", " is DOWN")).splitlines():
        match = re.search(r"Server app/(\S+) is (UP|DOWN)", line)
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def test_sigkill_of_a_replica_under_load_loses_no_request_and_no_session(
    whole: Stack, show: Callable[[str], None]
):
    victim = whole.run.replicas[0].id
    traffic = Traffic(whole.lb, users=3, pause=0.01).start()
    killed_at = 0.0
    try:
        traffic.wait_requests(90)
        killed_at = time.monotonic()
        env.kill_replica(whole.run, victim, signal.SIGKILL)
        traffic.wait_requests(240)
    finally:
        report = traffic.stop()
    after = [s for s in report.samples if s.at >= killed_at - traffic.started_at]
    show(figures("SIGKILL under load", report, victim=victim, requests_after_kill=len(after)))
    # Every request is a GET or an idempotent PUT with a buffered body, so HAProxy can replay all of them.
    assert report.failed == 0, report.failures()
    assert report.mismatches == []
    assert final_carts_match(traffic) == []
    assert not any(s.instance == victim for s in after[20:]), "the killed replica kept answering"


# --- stores -------------------------------------------------------------------------------------------


def replica_answer(stack: Stack, client: AppClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The same request sent straight to a replica, past HAProxy, to see the app's own answer."""
    headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {client.token}"}
    with new_client(stack.run.replicas[0].url, timeout=10) as http:
        return http.request(method, path, headers=headers, **kwargs)


def retry_until_ok(call: Callable[[], httpx.Response], expect: int, timeout: float = 30) -> tuple[httpx.Response, int]:
    """Repeat a request (as a client honouring Retry-After would) until it gets `expect`."""
    attempts = 0
    deadline = time.monotonic() + timeout
    while True:
        attempts += 1
        try:
            response = call()
            if response.status_code == expect:
                return response, attempts
            assert response.status_code == 503, f"unexpected {response.status_code}: {response.text[:200]}"
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no {expect} within {timeout:.0f}s ({attempts} attempts)")
        time.sleep(0.2)


@contextlib.contextmanager
def outage(stack: Stack, name: str, down_for: float) -> Iterator[None]:
    """Stop `name` for `down_for` seconds in the background; the body runs during the outage."""
    errors: list[BaseException] = []

    def restart() -> None:
        try:
            stack.restart_service(name, down_for=down_for)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=restart, name=f"restart-{name}")
    thread.start()
    try:
        yield
    finally:
        thread.join(120)
        assert not thread.is_alive(), f"{name} did not come back"
        if errors:
            raise errors[0]


def readiness(stack: Stack) -> tuple[int, dict[str, Any]]:
    with new_client(stack.run.replicas[0].url, timeout=5) as http:
        response = http.get("/readyz")
    return response.status_code, response.json()


def wait_unready(stack: Stack, store: str, timeout: float = 15) -> tuple[float, dict[str, Any]]:
    """Seconds until /readyz answers 503 naming `store`, and that answer's body."""
    seen: dict[str, Any] = {}

    def unready() -> bool:
        code, body = readiness(stack)
        seen.update(body)
        return code == 503 and str(body.get("checks", {}).get(store, "")).startswith("unavailable")

    return wait_for(unready, f"/readyz to report {store} unavailable", timeout), seen


def assert_clean_503(response: httpx.Response, store: str) -> None:
    assert response.status_code == 503, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert store in response.json()["detail"]
    assert response.headers.get("Retry-After")


def receipts_of(stack: Stack, order_ids: list[str]) -> dict[str, int]:
    """How many receipt objects each order has in the bucket (0 or 1: the key is the order id)."""
    s3 = s3_client(str(stack.run.services["moto"]["url"]))
    bucket = stack.run.services["moto"]["bucket"]
    keys: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="receipts/"):
        for item in page.get("Contents", []):
            keys[item["Key"]] = keys.get(item["Key"], 0) + 1
    return {oid: keys.get(f"receipts/{oid}.json", 0) for oid in order_ids}


def receipt_writes(stack: Stack, order_ids: list[str]) -> dict[str, int]:
    """How many times each order's receipt was written (object versions; the bucket must be versioned)."""
    s3 = s3_client(str(stack.run.services["moto"]["url"]))
    bucket = stack.run.services["moto"]["bucket"]
    writes: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="receipts/"):
        for version in page.get("Versions", []):
            writes[version["Key"]] = writes.get(version["Key"], 0) + 1
    return {oid: writes.get(f"receipts/{oid}.json", 0) for oid in order_ids}


def dead_letters(stack: Stack) -> int:
    moto = stack.run.services["moto"]
    sqs = aws_client("sqs", str(moto["url"]))
    attributes = sqs.get_queue_attributes(QueueUrl=moto["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_redis_restart_fails_cleanly_and_recovers(whole: Stack, show: Callable[[str], None]):
    shopper = AppClient(whole.lb).sign_up()
    shopper.put_item("kettle", 1)
    before = shopper.checkout(str(uuid.uuid4()))["id"]
    shopper.put_item("grinder", 2)

    began = time.monotonic()
    with outage(whole, "redis", down_for=3.0):
        went_503, body = wait_unready(whole, "redis")
        assert body["checks"]["postgres"] == "ok", body
        during = replica_answer(whole, shopper, "PUT", "/cart/items/grinder", json={"quantity": 3})
        assert_clean_503(during, "Redis")
        through_lb = shopper.request("PUT", "/cart/items/grinder", json={"quantity": 3})
        assert through_lb.status_code == 503
    response, attempts = retry_until_ok(
        lambda: shopper.request("PUT", "/cart/items/grinder", json={"quantity": 3}), 200
    )
    assert response.json()["items"] == [{"sku": "grinder", "quantity": 3}]
    recovered = time.monotonic() - began
    wait_for(lambda: readiness(whole)[0] == 200, "/readyz to report 200", 15)
    after = shopper.checkout(str(uuid.uuid4()))["id"]
    for order_id in (before, after):
        assert shopper.wait_order(order_id, "ready", timeout=30)["status"] == "ready"
    assert receipts_of(whole, [before, after]) == {before: 1, after: 1}
    show(
        f"[redis restart] readyz 503 after {went_503:.2f}s, requests OK again {recovered:.2f}s after the stop "
        f"({attempts} attempts), orders {before} and {after} ready with one receipt each"
    )


def test_postgres_restart_fails_cleanly_and_the_outbox_delivers_afterwards(
    whole: Stack, show: Callable[[str], None]
):
    shopper = AppClient(whole.lb).sign_up()
    shopper.put_item("kettle", 1)
    before = shopper.checkout(str(uuid.uuid4()))["id"]
    shopper.put_item("mug", 2)
    key = str(uuid.uuid4())

    began = time.monotonic()
    # Longer than Redis's: each request during the outage waits up to 2 s for a database connection.
    with outage(whole, "postgres", down_for=8.0):
        went_503, body = wait_unready(whole, "postgres")
        assert body["checks"]["redis"] == "ok", body
        during = replica_answer(whole, shopper, "POST", "/orders", headers={"Idempotency-Key": key})
        assert_clean_503(during, "PostgreSQL")
        # The cart lives in Redis, which is up: the failed checkout must not have emptied it. (Read past
        # HAProxy, which has taken every replica out of rotation while /readyz says 503.)
        cart = replica_answer(whole, shopper, "GET", "/cart")
        assert cart.status_code == 200 and cart.json()["items"] == [{"sku": "mug", "quantity": 2}]
    response, attempts = retry_until_ok(
        lambda: shopper.request("POST", "/orders", headers={"Idempotency-Key": key}), 201
    )
    recovered = time.monotonic() - began
    after = response.json()["id"]
    again = shopper.request("POST", "/orders", headers={"Idempotency-Key": key})
    assert again.status_code in (200, 201) and again.json()["id"] == after, "a retried checkout made a second order"
    for order_id in (before, after):
        assert shopper.wait_order(order_id, "ready", timeout=30)["status"] == "ready"
    assert receipts_of(whole, [before, after]) == {before: 1, after: 1}
    show(
        f"[postgres restart] readyz 503 after {went_503:.2f}s, checkout OK again {recovered:.2f}s after the stop "
        f"({attempts} attempts, same order on replay), orders {before} and {after} ready with one receipt each"
    )


# --- worker -------------------------------------------------------------------------------------------


def test_worker_killed_mid_batch_gives_every_order_exactly_one_receipt(whole: Stack, show: Callable[[str], None]):
    orders_total = 40
    moto = whole.run.services["moto"]
    # Versioning keeps every write, so a receipt written twice (at-least-once delivery) shows up.
    s3_client(str(moto["url"])).put_bucket_versioning(
        Bucket=moto["bucket"], VersioningConfiguration={"Status": "Enabled"}
    )
    whole.stop_worker(kill=True)
    shoppers = [AppClient(whole.lb).sign_up() for _ in range(4)]
    order_ids = []
    for index in range(orders_total):
        shopper = shoppers[index % len(shoppers)]
        shopper.put_item(f"item-{index}", index % 3 + 1)
        order_ids.append(str(shopper.checkout(str(uuid.uuid4()))["id"]))

    dsn = str(whole.run.services["postgres"]["url"])

    def ready_count(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(
            "SELECT count(*) FROM orders WHERE status = 'ready' AND id::text = ANY(%s)", (order_ids,)
        ).fetchone()
        return int(row[0]) if row else 0

    with psycopg.connect(dsn, autocommit=True) as conn:
        assert ready_count(conn) == 0, "orders were processed while no worker ran"
        # Spawned directly (not through a helper that waits) so it can be killed the moment it is busy.
        log_path = whole.state_dir / "logs" / "worker-crashing.log"
        proc = procs.spawn(env.worker_command(), log_path=log_path, env=whole.app_env(), cwd=env.REPO_ROOT)
        try:
            wait_for(lambda: ready_count(conn) >= 1, "the worker to start on the batch", 30, interval=0.005)
        finally:
            procs.stop_group(proc.pid, first=signal.SIGKILL, timeout=10)
            proc.wait(5)
        done_at_kill = ready_count(conn)
    assert done_at_kill < orders_total, "the worker finished before it could be killed mid-batch"

    began = time.monotonic()
    whole.start_worker()
    pending = set(order_ids)
    deadline = time.monotonic() + 45
    while pending and time.monotonic() < deadline:
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT id::text, status, receipt_key FROM orders WHERE id::text = ANY(%s)", (order_ids,)
            ).fetchall()
        pending = {row[0] for row in rows if row[1] != "ready"}
        time.sleep(0.2)
    finished = time.monotonic() - began
    assert not pending, f"{len(pending)} orders never became ready"
    assert all(row[2] == f"receipts/{row[0]}.json" for row in rows)
    assert receipts_of(whole, order_ids) == dict.fromkeys(order_ids, 1)
    writes = receipt_writes(whole, order_ids)
    # The worker skips orders that are already ready, so only an order it was writing at the kill can
    # have been written twice; everything else exactly once.
    assert all(count >= 1 for count in writes.values())
    rewritten = {oid: count for oid, count in writes.items() if count > 1}
    assert len(rewritten) <= 1 and all(count == 2 for count in rewritten.values()), rewritten
    assert dead_letters(whole) == 0
    show(
        f"[worker SIGKILL mid-batch] {done_at_kill}/{orders_total} ready at the kill, all {orders_total} ready "
        f"{finished:.1f}s after the restart, one receipt each ({sum(writes.values())} receipt writes in all)"
    )

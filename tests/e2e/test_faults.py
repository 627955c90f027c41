"""Proof under faults: the local environment (3 replicas behind HAProxy configured as the stack's ALB,
real PostgreSQL, Redis, moto and the worker) through replica restarts and kills, stalled and restarted
stores, a password rotation, oversized bodies and a worker crash. The load balancer replays nothing
that reached a replica, so each test reports what a client sees at the load balancer, per route class,
and where clients retry (with an Idempotency-Key), what the user sees after those retries. One
environment serves the whole module; each test leaves it whole.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from demo.client import AppClient, Traffic, TrafficReport, new_client
from demo.scenario import aws_client, s3_client
from local import app_process, procs
from local.environment import LocalEnvironment, throwaway
from tests.app.support import wait_until
from tests.e2e.routeload import CLASSES, RouteLoad

pytestmark = pytest.mark.e2e


def wait_for(check: Callable[[], bool], what: str, timeout: float, interval: float = 0.05) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalEnvironment]:
    with throwaway(replicas=3, prefix="stateless-faults-") as running:
        yield running


@pytest.fixture
def whole(stack: LocalEnvironment) -> LocalEnvironment:
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


def test_rolling_restart_under_traffic_loses_no_request_and_no_cart(
    whole: LocalEnvironment, show: Callable[[str], None]
):
    traffic = Traffic(whole.lb, users=3, pause=0.01).start()
    back_after: dict[str, float] = {}
    try:
        traffic.wait_requests(60)
        # The replacement counts once HAProxy's health check (the target group's timing) has put it
        # back in rotation.
        back_after = whole.rolling_restart(
            lambda replica_id, since: traffic.wait_served_by(replica_id, since=since, timeout=60)
        )
        traffic.wait_requests(60)
    finally:
        report = traffic.stop()
    show(figures("rolling restart (SIGTERM)", report, back_in_rotation_s=back_after))
    # A draining replica finishes what it has; a refused connection is the one failure HAProxy retries
    # elsewhere (nothing was sent). What is left the clients retry: nobody sees a failure.
    assert report.failed == 0, report.failures()
    assert report.mismatches == []
    assert final_carts_match(traffic) == []
    assert len(report.instances) == 3


def test_sigkill_of_a_replica_under_load_loses_no_request_and_no_session(
    whole: LocalEnvironment, show: Callable[[str], None]
):
    victim = whole.run.replicas[0].id
    # Two kinds of client at once: one that never retries (what the load balancer gives under ALB
    # semantics) and the demo's, which retries what is safe to repeat.
    bare = Traffic(whole.lb, users=2, pause=0.01, attempts=1).start()
    traffic = Traffic(whole.lb, users=3, pause=0.01).start()
    killed_at = 0.0
    try:
        traffic.wait_requests(90)
        killed_at = time.monotonic()
        whole.kill_replica(victim, signal.SIGKILL)
        traffic.wait_requests(240)
    finally:
        report = traffic.stop()
        bare_report = bare.stop()
    after = [s for s in report.samples if s.at >= killed_at - traffic.started_at]
    show(
        figures(
            "SIGKILL under load",
            report,
            victim=victim,
            requests_after_kill=len(after),
            without_retries=f"{bare_report.failed}/{bare_report.sent} failed",
        )
    )
    # What a client without retries sees for a request in flight on the victim is what it would see
    # behind the ALB or from the replica itself: a 502, or (HAProxy's silent close after a reused
    # connection failed, local/README.md) a connection closed without an answer. Nothing else.
    assert {s.status for s in bare_report.samples if s.failed} <= {0, 502}, bare_report.failures()
    # Whatever the load balancer answered for the requests in flight on the victim, the clients' own
    # retries leave the user nothing failed and no session lost.
    assert report.failed == 0, report.failures()
    assert report.mismatches == [] and bare_report.mismatches == []
    assert final_carts_match(traffic) == []
    assert not any(s.instance == victim for s in after[20:]), "the killed replica kept answering"


# --- stores -------------------------------------------------------------------------------------------


def replica_answer(stack: LocalEnvironment, client: AppClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
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
def outage(stack: LocalEnvironment, name: str, down_for: float) -> Iterator[None]:
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


def readiness(stack: LocalEnvironment) -> list[int]:
    """/readyz of every replica, straight (past HAProxy)."""
    codes = []
    for replica in stack.run.replicas:
        with new_client(replica.url, timeout=5) as http:
            codes.append(http.get("/readyz").status_code)
    return codes


def assert_clean_503(response: httpx.Response, store: str) -> None:
    assert response.status_code == 503, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert store in response.json()["detail"]
    assert response.headers.get("Retry-After")


def receipts_of(stack: LocalEnvironment, order_ids: list[str]) -> dict[str, int]:
    """How many receipt objects each order has in the bucket (0 or 1: the key is the order id)."""
    s3 = s3_client(str(stack.run.services["moto"]["url"]))
    bucket = stack.run.services["moto"]["bucket"]
    keys: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="receipts/"):
        for item in page.get("Contents", []):
            keys[item["Key"]] = keys.get(item["Key"], 0) + 1
    return {oid: keys.get(f"receipts/{oid}.json", 0) for oid in order_ids}


def receipt_writes(stack: LocalEnvironment, order_ids: list[str]) -> dict[str, int]:
    """How many times each order's receipt was written (object versions; the bucket must be versioned)."""
    s3 = s3_client(str(stack.run.services["moto"]["url"]))
    bucket = stack.run.services["moto"]["bucket"]
    writes: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="receipts/"):
        for version in page.get("Versions", []):
            writes[version["Key"]] = writes.get(version["Key"], 0) + 1
    return {oid: writes.get(f"receipts/{oid}.json", 0) for oid in order_ids}


def dead_letters(stack: LocalEnvironment) -> int:
    moto = stack.run.services["moto"]
    sqs = aws_client("sqs", str(moto["url"]))
    attributes = sqs.get_queue_attributes(QueueUrl=moto["dlq_url"], AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_redis_restart_fails_cleanly_and_recovers(whole: LocalEnvironment, show: Callable[[str], None]):
    shopper = AppClient(whole.lb, attempts=1).sign_up()
    shopper.put_item("kettle", 1)
    before = shopper.checkout(str(uuid.uuid4()))["id"]
    shopper.put_item("grinder", 2)

    began = time.monotonic()
    with outage(whole, "redis", down_for=3.0):
        during = retry_until_503(lambda: shopper.request("PUT", "/cart/items/grinder", json={"quantity": 3}))
        assert_clean_503(during, "Redis")
        # Readiness is the replica's own: every replica stays in rotation, and a route that does not
        # need Redis (an order read: PostgreSQL, token verified locally) answers as usual.
        assert readiness(whole) == [200] * len(whole.run.replicas)
        assert shopper.request("GET", f"/orders/{before}").status_code == 200
    response, attempts = retry_until_ok(
        lambda: shopper.request("PUT", "/cart/items/grinder", json={"quantity": 3}), 200
    )
    assert response.json()["items"] == [{"sku": "grinder", "quantity": 3}]
    recovered = time.monotonic() - began
    after = shopper.checkout(str(uuid.uuid4()))["id"]
    for order_id in (before, after):
        assert shopper.wait_order(order_id, "ready", timeout=30)["status"] == "ready"
    assert receipts_of(whole, [before, after]) == {before: 1, after: 1}
    show(
        f"[redis restart] cart 503 during the outage, order reads 200; cart OK again {recovered:.2f}s after the "
        f"stop ({attempts} attempts); orders {before} and {after} ready with one receipt each"
    )


def retry_until_503(call: Callable[[], httpx.Response], timeout: float = 15) -> httpx.Response:
    """The first 503 a request gets once the outage has begun."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.TransportError):
            response = call()
            if response.status_code == 503:
                return response
        if time.monotonic() > deadline:
            raise AssertionError(f"no 503 within {timeout:.0f}s")
        time.sleep(0.05)


def test_postgres_restart_fails_cleanly_and_the_outbox_delivers_afterwards(
    whole: LocalEnvironment, show: Callable[[str], None]
):
    shopper = AppClient(whole.lb, attempts=1).sign_up()
    shopper.put_item("kettle", 1)
    before = shopper.checkout(str(uuid.uuid4()))["id"]
    shopper.put_item("mug", 2)
    key = str(uuid.uuid4())

    began = time.monotonic()
    with outage(whole, "postgres", down_for=8.0):
        during = retry_until_503(lambda: shopper.request("POST", "/orders", headers={"Idempotency-Key": key}))
        assert_clean_503(during, "PostgreSQL")
        assert readiness(whole) == [200] * len(whole.run.replicas)
        # The cart lives in Redis, which is up: through the load balancer it reads as usual, and the
        # failed checkout has not emptied it.
        cart = shopper.request("GET", "/cart")
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
        f"[postgres restart] checkout 503 during the outage, cart 200; checkout OK again {recovered:.2f}s after "
        f"the stop ({attempts} attempts, same order on replay), orders {before} and {after} ready with one receipt each"
    )


# --- stalls (SIGSTOP): per route class, through the load balancer, no client retries -------------------

# How long a store stays stopped, and how many answers each route class must have had before a fault
# begins and after it ends.
STALL_SECONDS = 6.0
WARM_ANSWERS = 5
ROTATED_ANSWERS = 15

# What each store's stall may fail; every other route class must not see a single failure.
NEEDS = {
    # Login throttling and the registration limit keep their counters in Redis (they must hold across
    # replicas); both fail closed without it.
    "redis": {"cart", "checkout", "login", "register"},
    "postgres": {"order_read", "checkout", "register", "login"},
    # KMS signs tokens at login. S3 and SQS are not needed by any request (the outbox delivers later),
    # nor Secrets Manager (the database credentials are cached).
    "moto": {"login"},
}


@pytest.mark.parametrize("store", ["redis", "moto", "postgres"])
def test_a_stalled_store_fails_only_the_routes_that_need_it(
    whole: LocalEnvironment, show: Callable[[str], None], store: str
):
    load = RouteLoad(whole.lb, users=4).start()
    try:
        assert wait_until(lambda: load.answered_since(0.0) >= WARM_ANSWERS, timeout=30), "the load did not start"
        stall_began = load.now()
        with whole.stalled(store):
            # The fault itself lasts this long: longer than every bounded wait on a store.
            time.sleep(STALL_SECONDS)
        stall_ended = load.now()
        # Requests started during the stall finish within their bounded waits; then normal service,
        # until every route class has been answered a few times from 3 s after the stall on.
        recovered = wait_until(lambda: load.answered_since(stall_ended + 3.0) >= WARM_ANSWERS, timeout=45)
        assert recovered, f"some route class got no answer after the {store} stall"
    finally:
        report = load.stop()
    during = report.table(stall_began, stall_ended)
    show(
        f"[{store} SIGSTOP {STALL_SECONDS:.0f} s] failed/sent per route class during the stall: {during}; "
        f"whole run: {report.table()}; statuses during: "
        + ", ".join(f"{r}={dict(report.statuses(r, stall_began, stall_ended))}" for r in CLASSES)
    )
    for route in CLASSES:
        assert report.sent(route, stall_began, stall_ended) > 0, f"no {route} request during the stall"
        if route not in NEEDS[store]:
            assert report.failed(route) == 0, (route, dict(report.statuses(route)))
    needed = NEEDS[store]
    if needed:
        # The routes that need the store say so: a JSON 503 with Retry-After, never a hang or a 502/504.
        # Counted over the requests under way during the stall: one sent just before it began waits on
        # the stopped store all the same, and one sent late in it may be answered once the store resumes.
        assert sum(report.failed_in_flight(r, stall_began, stall_ended) for r in needed) > 0
        failures = [o for o in report.outcomes if o.route in needed and (o.status == 0 or o.status >= 500)]
        assert {o.status for o in failures} <= {503}, Counter(o.status for o in failures)
        assert all(o.json_503 for o in failures)
    # Every replica stayed in rotation, and the service recovered: the last second went through.
    end = load.now()
    for route in CLASSES:
        assert report.failed(route, stall_ended + 3.0, end) == 0, (route, report.table(stall_ended + 3.0, end))
    if store == "moto":
        # Orders placed while S3 and SQS were stalled are delivered by the outbox and completed.
        assert load.placed, "no checkout went through during the moto stall"
        reader = AppClient(whole.lb)
        reader.token = load.users[0].token
        mine = [oid for oid in load.placed if reader.request("GET", f"/orders/{oid}").status_code == 200]
        for order_id in mine[-3:]:
            assert reader.wait_order(order_id, "ready", timeout=45)["status"] == "ready"
        reader.close()


# --- a password rotation with the sessions ended -----------------------------------------------------


def test_rotating_the_database_password_and_ending_sessions_needs_no_restart(
    whole: LocalEnvironment, show: Callable[[str], None]
):
    load = RouteLoad(whole.lb, users=4).start()
    try:
        assert wait_until(lambda: load.answered_since(0.0) >= WARM_ANSWERS, timeout=30), "the load did not start"
        rotation_began = load.now()
        done = whole.rotate_db_password(terminate_sessions=True)
        rotated_at = load.now()
        # Enough requests of every class on connections made after the rotation to show none fails.
        after = wait_until(lambda: load.answered_since(rotated_at + 0.5) >= ROTATED_ANSWERS, timeout=45)
        assert after, "some route class got no answer after the rotation"
    finally:
        report = load.stop()
    reread = sum(
        whole.log_tail(r.id, lines=100_000, containing=("re-reading the secret",)).count("\n") + 1
        for r in whole.run.replicas
        if whole.log_tail(r.id, lines=100_000, containing=("re-reading the secret",))
    )
    show(
        f"[rotate-db-password --terminate-sessions] {done.sessions_terminated} sessions ended; failed/sent "
        f"while rotating: {report.table(rotation_began, rotated_at)}; after: {report.table(rotated_at)}; "
        f"replicas logged {reread} secret re-reads"
    )
    assert done.sessions_terminated > 0
    assert reread > 0, "no replica had to read the new secret"
    # Once the new secret is current every new connection reads it: nothing fails from then on.
    for route in CLASSES:
        assert report.failed(route, rotated_at + 0.5) == 0, (route, dict(report.statuses(route, rotated_at + 0.5)))
        assert report.sent(route, rotated_at + 0.5) > 0


# --- oversized bodies and the load balancer's accounting ---------------------------------------------


def test_oversized_bodies_get_a_readable_413_through_the_load_balancer(
    whole: LocalEnvironment, show: Callable[[str], None]
):
    body = b"x" * (3 * 1024 * 1024)
    answers: Counter[str] = Counter()
    with new_client(whole.lb, timeout=30) as http:
        for _ in range(20):
            try:
                response = http.put(
                    "/cart/items/big", content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError as exc:
                answers[type(exc).__name__] += 1
                continue
            readable = response.headers.get("content-type", "").startswith("application/json")
            answers[f"{response.status_code}{' json' if readable else ''}"] += 1
            if response.status_code == 413:
                assert "larger than" in response.json()["detail"]
    show(f"[20 x 3 MB bodies through HAProxy] {dict(answers)}")
    assert answers == Counter({"413 json": 20})


def requests_counted(stack: LocalEnvironment, route: str, status: str) -> float:
    """http_requests_total for (route, status), summed over every replica's /metrics."""
    total = 0.0
    for replica in stack.run.replicas:
        with new_client(replica.url, timeout=5) as http:
            text = http.get("/metrics").text
        for line in text.splitlines():
            if line.startswith("http_requests_total{") and f'route="{route}"' in line and f'status="{status}"' in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_request_a_replica_answers_503_reaches_a_replica_once(whole: LocalEnvironment, show: Callable[[str], None]):
    shopper = AppClient(whole.lb, attempts=1).sign_up()
    route = "/cart/items/{sku}"
    before = requests_counted(whole, route, "503")
    answered = []
    with whole.stalled("redis"):
        for index in range(10):
            answered.append(shopper.request("PUT", f"/cart/items/once-{index}", json={"quantity": 1}).status_code)
    after = requests_counted(whole, route, "503")
    show(f"[503 not replayed] 10 PUTs during a Redis stall: answers {dict(Counter(answered))}; "
         f"503s counted at the replicas: {after - before:.0f}")
    assert answered == [503] * 10
    # HAProxy sent each one to one replica, once: a retry-on 503 would have multiplied the count.
    assert after - before == 10


# --- worker -------------------------------------------------------------------------------------------


def outbox_rows(conn: psycopg.Connection[Any]) -> str:
    """What the outbox still holds (rows waiting for SQS, their attempts and last error), for failure messages."""
    rows = conn.execute("SELECT id, attempts, last_error FROM outbox ORDER BY id LIMIT 20").fetchall()
    return "\n".join(str(row) for row in rows) or "(empty)"


def where_the_work_stood(stack: LocalEnvironment, conn: psycopg.Connection[Any], worker_log: str) -> str:
    """For a failure message: the outbox, the queue's counts, the other database sessions (what they wait
    on, how long their transaction has been open) and the worker's log: every line but the processed
    messages, which are counted, with the first and the last of them."""
    moto = stack.run.services["moto"]
    try:
        counts = aws_client("sqs", str(moto["url"])).get_queue_attributes(
            QueueUrl=moto["queue_url"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    except Exception as exc:  # a diagnostic must not hide the failure it explains
        counts = {"error": repr(exc)}
    sessions = conn.execute(
        "SELECT application_name, state, wait_event_type, wait_event, now() - xact_start, left(query, 80)"
        " FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        " ORDER BY xact_start NULLS LAST"
    ).fetchall()
    lines = stack.log_tail(worker_log, lines=100_000).splitlines()
    processed = [line for line in lines if '"message processed"' in line]
    others = [line for line in lines if '"message processed"' not in line]
    return "\n".join([
        f"--- now {time.strftime('%H:%M:%S', time.gmtime())} UTC; outbox ---", outbox_rows(conn),
        f"--- queue --- {counts}",
        "--- database sessions ---", *(str(row) for row in sessions),
        f"--- {worker_log}.log: {len(processed)} messages processed"
        + (f", first and last:\n{processed[0]}\n{processed[-1]}" if processed else ""),
        "--- its other lines ---", *others[-40:],
    ])


def test_worker_killed_mid_batch_gives_every_order_exactly_one_receipt(
    whole: LocalEnvironment, show: Callable[[str], None]
):
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
        spawned_at = time.strftime("%H:%M:%S", time.gmtime())
        proc = procs.spawn(app_process.worker_command(), log_path=log_path, env=whole.app_env(),
                           cwd=app_process.REPO_ROOT)
        try:
            # Bounded generously: the start-up time is not what this test judges, and it is shown below.
            try:
                first_ready = wait_for(
                    lambda: ready_count(conn) >= 1, "the worker to start on the batch", 90, interval=0.005
                )
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc} (started at {spawned_at} UTC)\n{where_the_work_stood(whole, conn, 'worker-crashing')}"
                ) from None
        finally:
            procs.stop_group(proc.pid, first=signal.SIGKILL, timeout=10)
            proc.wait(5)
        done_at_kill = ready_count(conn)
    assert done_at_kill < orders_total, "the worker finished before it could be killed mid-batch"

    began = time.monotonic()
    whole.start_worker()
    pending = set(order_ids)
    # The messages the killed worker held come back after the queue's visibility timeout (10 s locally).
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT id::text, status, receipt_key FROM orders WHERE id::text = ANY(%s)", (order_ids,)
            ).fetchall()
        pending = {row[0] for row in rows if row[1] != "ready"}
        time.sleep(0.2)
    finished = time.monotonic() - began
    if pending:
        with psycopg.connect(dsn, autocommit=True) as conn:
            stood = where_the_work_stood(whole, conn, "worker")
        raise AssertionError(f"{len(pending)} orders never became ready\n{stood}")
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
        f"[worker SIGKILL mid-batch] first order ready {first_ready:.1f}s after the worker was started; "
        f"{done_at_kill}/{orders_total} ready at the kill, all {orders_total} ready "
        f"{finished:.1f}s after the restart, one receipt each ({sum(writes.values())} receipt writes in all)"
    )

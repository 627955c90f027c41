"""The scripted scenario the demo drives through the load balancer.

One shopper registers, logs in and fills a cart (each request may land on any replica); background
users keep the load balancer busy while one replica is killed with SIGKILL; the shopper's cart must
have survived, the checkout must go through, and the worker must put the receipt in S3. The load
balancer replays nothing, as an ALB: requests in flight on the killed replica fail there, and the
clients' own retries (with an Idempotency-Key for the checkout) are what bring failures to zero.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from demo.client import AppClient, ScenarioError, Traffic
from demo.report import ScenarioResult

CART = {"espresso-beans": 2, "milk-frother": 1, "ceramic-cup": 4, "descaler": 1, "filter-papers": 3, "tamper": 1}


def s3_client(moto_url: str) -> Any:
    return aws_client("s3", moto_url)


def aws_client(service: str, moto_url: str) -> Any:
    """A moto client that gives up quickly: the scenario reports a stuck store instead of hanging."""
    from botocore.config import Config

    from local import moto

    return moto.aws_client(
        service, moto_url,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}, proxies={}),
    )


def wait_receipt(s3: Any, bucket: str, key: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll S3 until the receipt object exists; returns its head (size, etag)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            return s3.head_object(Bucket=bucket, Key=key)
        except Exception as exc:  # 404 until the worker has written it
            last = type(exc).__name__
        time.sleep(0.25)
    raise ScenarioError(f"no receipt s3://{bucket}/{key} within {timeout:.0f}s (last: {last})")


def run_scenario(
    run: Any,
    *,
    kill: Callable[[str], None],
    say: Callable[[str], None] = print,
    victim: str | None = None,
    receipt_timeout: float = 30.0,
) -> ScenarioResult:
    """Drive the scenario against a running local environment (`run` as `local.env.up` records it).

    `kill(replica_id)` SIGKILLs a replica (the demo passes `LocalEnvironment.kill_replica`); the victim
    defaults to the second replica.
    """
    victim = victim or (run.replicas[1].id if len(run.replicas) > 1 else run.replicas[0].id)
    moto = run.services["moto"]
    bucket = moto.get("bucket")
    if not bucket:
        raise ScenarioError("run.json records no receipts bucket under services.moto.bucket")

    shopper = AppClient(run.lb_url)
    traffic: Traffic | None = None
    try:
        shopper.register()
        shopper.login()
        say(f"registered and logged in as {shopper.username}")

        served_by = []
        for sku, quantity in CART.items():
            response = shopper.request("PUT", f"/cart/items/{sku}", json={"quantity": quantity})
            shopper.expect(response, 200, f"put {sku}")
            served_by.append(response.headers.get("X-Instance-Id", "?"))
        say(f"filled the cart with {len(CART)} items, served by {', '.join(served_by)}")
        if shopper.cart() != CART:
            raise ScenarioError("the cart read back differs from what was put in")

        traffic = Traffic(run.lb_url, users=2, pause=0.01).start()
        traffic.wait_requests(60)
        sent, _ = traffic.snapshot()
        say(f"background traffic running ({sent} requests so far); SIGKILL {victim}")
        kill(victim)
        traffic.wait_requests(150)
        # The shopper's cart must have survived the replica it may have been written through.
        for _ in range(len(run.replicas)):
            if shopper.cart() != CART:
                raise ScenarioError(f"the shopper's cart changed after {victim} was killed")
        report = traffic.stop()
        traffic = None
        say(
            f"traffic stopped: {report.sent} requests, {report.failed_first_attempt} failed at the load balancer, "
            f"{report.failed} after the client's retries, "
            f"p99 {report.latency(0.99) * 1000:.1f} ms, {len(report.mismatches)} carts lost"
        )

        order = shopper.checkout(idempotency_key=str(uuid.uuid4()))
        order_id = str(order.get("id"))
        say(f"checked out: order {order_id} is {order.get('status')}")
        if shopper.cart():
            raise ScenarioError("the cart was not emptied by the checkout")
        final = shopper.wait_order(order_id, "ready", timeout=receipt_timeout)
        key = f"receipts/{order_id}.json"
        head = wait_receipt(s3_client(str(moto["url"])), bucket, key, timeout=receipt_timeout)
        size = head.get("ContentLength")
        say(f"order {order_id} is {final.get('status')}; receipt s3://{bucket}/{key} ({size} bytes)")

        instances = set(shopper.instances) | set(report.instances)
        return ScenarioResult(
            requests=shopper.requests + report.sent,
            failed=report.failed,
            failed_first_attempt=report.failed_first_attempt,
            replicas_seen=tuple(sorted(instances)),
            killed=victim,
            lost_sessions=len(report.mismatches),
            order_id=order_id,
            order_status=str(final.get("status")),
            receipt_key=key,
            p99_ms=report.latency(0.99) * 1000,
        )
    finally:
        if traffic is not None:
            traffic.stop()
        shopper.close()

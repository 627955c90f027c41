"""The worker: receipts to S3, idempotent redelivery, partial batch failures, DLQ accounting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from app.runtime import Runtime
from app.settings import Settings
from app.worker import Worker, handler, receipt_key
from local.services import aws_client
from tests.app.support import AppServer, new_user, receive_all, wait_until

pytestmark = pytest.mark.services


@pytest.fixture
def make_worker() -> Iterator[Callable[[Settings], Worker]]:
    runtimes: list[Runtime] = []

    def build(settings: Settings) -> Worker:
        runtime = Runtime.build(settings, role="worker")
        runtime.open()
        runtimes.append(runtime)
        return Worker(runtime)

    yield build
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def stack(make_database: Callable[[], str], make_aws: Any, make_settings: Any) -> Iterator[dict[str, Any]]:
    database, aws = make_database(), make_aws(max_receive_count=2, visibility_timeout=0)
    settings = make_settings(database, aws)
    s3 = aws_client("s3", settings.aws_endpoint_url)
    s3.put_bucket_versioning(Bucket=aws.bucket, VersioningConfiguration={"Status": "Enabled"})
    with AppServer(settings) as server:
        yield {
            "server": server,
            "settings": settings,
            "aws": aws,
            "database": database,
            "s3": s3,
            "sqs": aws_client("sqs", settings.aws_endpoint_url),
        }


def _place_order(server: AppServer, **items: int) -> str:
    _, auth = new_user(server.client)
    for sku, quantity in items.items():
        server.client.put(f"/cart/items/{sku}", json={"quantity": quantity}, headers=auth)
    response = server.client.post("/orders", headers=auth)
    assert response.status_code == 201
    server.auth = auth  # type: ignore[attr-defined]
    return str(response.json()["id"])


def _status(database: str, order_id: str) -> tuple[str, str | None]:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT status, failure_reason FROM orders WHERE id = %s", (order_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def _versions(s3: Any, bucket: str, key: str) -> int:
    return len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []))


def test_worker_renders_the_receipt_and_marks_the_order_ready(stack: dict, make_worker: Any) -> None:
    server = stack["server"]
    order_id = _place_order(server, R1=2, R2=1)
    worker = make_worker(stack["settings"])
    assert wait_until(lambda: any(o.ok for o in worker.poll_once(1)), timeout=15)
    receipt = json.loads(stack["s3"].get_object(Bucket=stack["aws"].bucket, Key=receipt_key(order_id))["Body"].read())
    assert receipt["order_id"] == order_id
    assert receipt["items"] == [{"sku": "R1", "quantity": 2}, {"sku": "R2", "quantity": 1}]
    assert receipt["total_quantity"] == 3
    body = server.client.get(f"/orders/{order_id}", headers=server.auth).json()
    assert body["status"] == "ready"
    # The receipt URL is a presigned link the client can fetch directly, signed with SigV4 (S3 refuses
    # SigV2 for SSE-KMS objects; botocore would otherwise presign SigV2 in us-east-1).
    query = parse_qs(urlsplit(body["receipt_url"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and "X-Amz-Signature" in query
    fetched = httpx.get(body["receipt_url"])
    assert fetched.status_code == 200 and fetched.json()["order_id"] == order_id
    # The message was deleted: nothing is left to redeliver.
    assert receive_all(stack["sqs"], stack["aws"].queue_url, wait=0) == []


def test_redelivery_writes_one_receipt(stack: dict, make_worker: Any) -> None:
    order_id = _place_order(stack["server"], D1=1)
    worker = make_worker(stack["settings"])
    body = json.dumps({"type": "order.placed", "version": 1, "order_id": order_id})
    event = {"Records": [{"messageId": "m-1", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}]}
    assert handler(event, None, worker=worker) == {"batchItemFailures": []}
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    assert handler(event, None, worker=worker) == {"batchItemFailures": []}
    assert _status(stack["database"], order_id) == ("ready", None)
    assert _versions(stack["s3"], stack["aws"].bucket, receipt_key(order_id)) == 1


def test_lambda_batch_reports_only_the_failures(stack: dict, make_worker: Any) -> None:
    order_id = _place_order(stack["server"], B1=1)
    worker = make_worker(stack["settings"])
    records = [
        {"messageId": "good", "body": json.dumps({"order_id": order_id})},
        {"messageId": "not-json", "body": "{{{"},
        {"messageId": "no-order-id", "body": json.dumps({"hello": 1})},
        {"messageId": "bad-uuid", "body": json.dumps({"order_id": "123"})},
        {"messageId": "unknown", "body": json.dumps({"order_id": str(uuid.uuid4())})},
    ]
    for record in records:
        record["attributes"] = {"ApproximateReceiveCount": "1"}
    result = handler({"Records": records}, None, worker=worker)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == [
        "bad-uuid",
        "no-order-id",
        "not-json",
        "unknown",
    ]
    assert _status(stack["database"], order_id)[0] == "ready"


def test_a_message_that_keeps_failing_ends_in_the_dlq_and_fails_the_order(
    stack: dict, make_worker: Any, make_settings: Any
) -> None:
    order_id = _place_order(stack["server"], P1=1)
    # The receipt cannot be written (no such bucket), so every attempt fails.
    broken = stack["settings"].model_copy(update={"s3_bucket": f"missing-{uuid.uuid4().hex[:8]}"})
    worker = make_worker(broken)
    assert worker.max_receive_count == 2
    attempts: list[Any] = []

    def dead_lettered() -> bool:
        attempts.extend(worker.poll_once(1))
        dlq = stack["sqs"].get_queue_attributes(
            QueueUrl=stack["aws"].dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(dlq["Attributes"]["ApproximateNumberOfMessages"]) == 1

    assert wait_until(dead_lettered, timeout=20, interval=0)
    assert attempts and not any(o.ok for o in attempts)
    status, reason = _status(stack["database"], order_id)
    assert status == "failed" and reason and "NoSuchBucket" in reason
    (dead,) = receive_all(stack["sqs"], stack["aws"].dlq_url)
    assert json.loads(dead["Body"])["order_id"] == order_id
    assert stack["server"].client.get(f"/orders/{order_id}", headers=stack["server"].auth).json()["status"] == "failed"


def test_before_the_limit_a_failure_leaves_the_order_pending(stack: dict, make_worker: Any) -> None:
    order_id = _place_order(stack["server"], E1=1)
    broken = stack["settings"].model_copy(update={"s3_bucket": f"missing-{uuid.uuid4().hex[:8]}"})
    worker = make_worker(broken)
    record = {
        "messageId": "m",
        "body": json.dumps({"order_id": order_id}),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    assert handler({"Records": [record]}, None, worker=worker)["batchItemFailures"] == [{"itemIdentifier": "m"}]
    assert _status(stack["database"], order_id)[0] == "pending"


def test_the_long_poll_loop_processes_orders_and_stops_on_sigterm(stack: dict) -> None:
    settings: Settings = stack["settings"]
    env = {
        **os.environ,
        "APP_MODE": "local",
        "APP_INSTANCE_ID": "worker-test",
        "APP_DATABASE_URL": stack["database"],
        "APP_S3_BUCKET": settings.s3_bucket or "",
        "APP_SQS_QUEUE_URL": settings.sqs_queue_url or "",
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url or "",
        "AWS_REGION": settings.aws_region,
    }
    env.pop("APP_REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.worker", "--wait-seconds", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        order_id = _place_order(stack["server"], W1=4)
        assert wait_until(lambda: _status(stack["database"], order_id)[0] == "ready", timeout=20)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output.decode()
    lines = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    assert any(entry["msg"] == "worker stopped" for entry in lines)
    assert all(entry["instance"] == "worker-test" for entry in lines)


def test_dlq_sweep_fails_pending_orders_and_keeps_the_messages(stack: dict, make_worker: Any) -> None:
    order_id = _place_order(stack["server"], S1=1)
    worker = make_worker(stack["settings"])
    stack["sqs"].send_message(QueueUrl=stack["aws"].dlq_url, MessageBody=json.dumps({"order_id": order_id}))
    assert worker.sweep_dlq() == 1
    assert _status(stack["database"], order_id)[0] == "failed"
    # The message is still there (hidden), for inspection or a redrive.
    attributes = stack["sqs"].get_queue_attributes(
        QueueUrl=stack["aws"].dlq_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert worker.sweep_dlq() == 0


def test_a_redriven_message_completes_a_failed_order(stack: dict, make_worker: Any) -> None:
    order_id = _place_order(stack["server"], F1=1)
    worker = make_worker(stack["settings"])
    assert worker.mark_failed(json.dumps({"order_id": order_id}), "test")
    record = {
        "messageId": "redriven",
        "body": json.dumps({"order_id": order_id}),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    assert handler({"Records": [record]}, None, worker=worker) == {"batchItemFailures": []}
    assert _status(stack["database"], order_id) == ("ready", None)


def test_a_long_poll_longer_than_the_default_read_timeout_returns_empty(stack: dict, make_worker: Any) -> None:
    worker = make_worker(stack["settings"])
    # Longer than the 5 s read timeout of the app's ordinary AWS clients.
    assert worker.poll_once(6) == []


def test_the_lambda_entry_point_builds_its_worker_from_the_environment(
    stack: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.worker as worker_module

    settings: Settings = stack["settings"]
    for key in [k for k in os.environ if k.startswith("APP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("APP_MODE", "cloud")  # the worker needs no JWT key or Redis, even in cloud mode
    monkeypatch.setenv("APP_DATABASE_URL", stack["database"])
    monkeypatch.setenv("APP_S3_BUCKET", settings.s3_bucket or "")
    monkeypatch.setenv("APP_SQS_QUEUE_URL", settings.sqs_queue_url or "")
    monkeypatch.setenv("AWS_ENDPOINT_URL", settings.aws_endpoint_url or "")
    monkeypatch.setattr(worker_module, "_lambda_worker", None)
    order_id = _place_order(stack["server"], L1=1)
    event = {
        "Records": [
            {
                "messageId": "lambda-1",
                "body": json.dumps({"order_id": order_id}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
            }
        ]
    }
    try:
        assert worker_module.handler(event, object()) == {"batchItemFailures": []}
        assert _status(stack["database"], order_id)[0] == "ready"
        built = worker_module._lambda_worker
        assert built is not None
        assert worker_module.handler({"Records": []}, object()) == {"batchItemFailures": []}
        assert worker_module._lambda_worker is built  # reused across invocations
    finally:
        if worker_module._lambda_worker is not None:
            worker_module._lambda_worker.rt.close()


def test_every_line_about_a_message_names_its_order(
    stack: dict, make_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    order_id = _place_order(stack["server"], L1=1)
    unknown = str(uuid.uuid4())
    worker = make_worker(stack["settings"])
    records = [
        {"messageId": "good", "body": json.dumps({"order_id": order_id})},
        {"messageId": "unknown", "body": json.dumps({"order_id": unknown})},
        {"messageId": "not-json", "body": "{{{"},
    ]
    for record in records:
        record["attributes"] = {"ApproximateReceiveCount": "1"}
    with caplog.at_level("INFO", logger="app.worker"):
        handler({"Records": records}, None, worker=worker)
    named = {r.message_id: getattr(r, "order_id", "missing") for r in caplog.records if hasattr(r, "message_id")}
    assert named == {"good": order_id, "unknown": unknown, "not-json": None}

"""The order worker: renders receipts/<order id>.json to S3 and marks the order ready.

`handler(event, context)` is the AWS Lambda entry point for SQS batches (partial batch failures);
`python -m app.worker` is the same per-message logic in a local long-poll loop, which also relays
the outbox. Delivery is at-least-once, so processing is idempotent: an order that is already ready
(or failed) is acknowledged without writing anything, and a receipt is a pure function of the order.

Failure accounting: a message whose ApproximateReceiveCount has reached the queue's maxReceiveCount
(read from its RedrivePolicy, or APP_SQS_MAX_RECEIVE_COUNT) marks its order failed before the
failure is reported, so when SQS moves it to the DLQ the order already says so. With APP_SQS_DLQ_URL
set, the local loop also sweeps the DLQ as a backstop (see Worker.sweep_dlq).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from app import logs, outbox
from app.runtime import Runtime, aws_client
from app.settings import Settings

log = logging.getLogger("app.worker")
MAX_WAIT_SECONDS = 20  # SQS's longest long poll


class PoisonMessage(Exception):
    """The message can never succeed (malformed, unknown order); SQS will dead-letter it."""


@dataclass
class Outcome:
    message_id: str
    ok: bool
    detail: str = ""


def receipt_key(order_id: str) -> str:
    return f"receipts/{order_id}.json"


def render_receipt(order: dict[str, Any]) -> bytes:
    items = order["items"]
    document = {
        "order_id": order["id"],
        "user_id": order["user_id"],
        "placed_at": order["created_at"].isoformat(),
        "items": items,
        "total_quantity": sum(int(item["quantity"]) for item in items),
    }
    return json.dumps(document, sort_keys=True, indent=2).encode()


def order_of(body: str) -> str | None:
    """The order a message names, for log lines; None when it names none."""
    try:
        return parse_order_id(body)
    except PoisonMessage:
        return None


def parse_order_id(body: str) -> str:
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        raise PoisonMessage("body is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("order_id"), str):
        raise PoisonMessage("body has no order_id")
    try:
        return str(uuid.UUID(message["order_id"]))
    except ValueError:
        raise PoisonMessage("order_id is not a UUID") from None


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self._max_receive_count: int | None = self.settings.sqs_max_receive_count
        self._looked_up_redrive = self._max_receive_count is not None
        # Long polls hold the response for up to 20 s: the receiving client must wait longer than
        # that, or every empty poll would end in a read timeout.
        self.receiver = aws_client(
            self.settings,
            "sqs",
            Config(
                connect_timeout=2, read_timeout=MAX_WAIT_SECONDS + 10, retries={"mode": "standard", "max_attempts": 3}
            ),
        )

    @property
    def max_receive_count(self) -> int | None:
        if not self._looked_up_redrive:
            try:
                attributes = self.rt.sqs.get_queue_attributes(
                    QueueUrl=self.settings.sqs_queue_url, AttributeNames=["RedrivePolicy"]
                )["Attributes"]
                policy = json.loads(attributes.get("RedrivePolicy", "{}"))
                if "maxReceiveCount" in policy:
                    self._max_receive_count = int(policy["maxReceiveCount"])
                self._looked_up_redrive = True
            except Exception as exc:
                log.warning("cannot read the queue's redrive policy", extra={"error": str(exc)})
        return self._max_receive_count

    def process(self, body: str) -> str:
        """Handle one message; returns what was done, raises when it must be retried."""
        order_id = parse_order_id(body)
        with self.rt.pool.connection() as conn:
            row = conn.execute(
                "SELECT id::text, user_id::text, status, items, created_at FROM orders WHERE id = %s",
                (order_id,),
            ).fetchone()
        if row is None:
            raise PoisonMessage(f"unknown order {order_id}")
        order = dict(zip(("id", "user_id", "status", "items", "created_at"), row, strict=True))
        if order["status"] == "ready":
            return "already ready"
        # A failed order is tried again: a message redriven from the DLQ after a fix completes it.
        key = receipt_key(order_id)
        self.rt.s3.put_object(
            Bucket=self.settings.s3_bucket,
            Key=key,
            Body=render_receipt(order),
            ContentType="application/json",
        )
        with self.rt.pool.connection() as conn:
            conn.execute(
                "UPDATE orders SET status = 'ready', receipt_key = %s, failure_reason = NULL, updated_at = now()"
                " WHERE id = %s AND status <> 'ready'",
                (key, order_id),
            )
        return "ready"

    def mark_failed(self, body: str, reason: str) -> bool:
        try:
            order_id = parse_order_id(body)
        except PoisonMessage:
            return False
        with self.rt.pool.connection() as conn:
            cur = conn.execute(
                "UPDATE orders SET status = 'failed', failure_reason = %s, updated_at = now()"
                " WHERE id = %s AND status = 'pending'",
                (reason[:500], order_id),
            )
        return cur.rowcount == 1

    def handle_record(self, message_id: str, body: str, receive_count: int) -> Outcome:
        # Every line about a message names its order, so an order's story is one search in the logs.
        ids = {"message_id": message_id, "order_id": order_of(body)}
        try:
            done = self.process(body)
            log.info("message processed", extra={**ids, "result": done})
            return Outcome(message_id, True, done)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            limit = self.max_receive_count
            final = limit is not None and receive_count >= limit
            log.warning(
                "message failed",
                extra={**ids, "error": reason, "receive_count": receive_count, "final": final},
            )
            if final:
                try:
                    if self.mark_failed(body, reason):
                        log.warning("order marked failed before dead-lettering", extra=ids)
                except Exception as mark_exc:
                    log.error("could not mark the order failed", extra={**ids, "error": str(mark_exc)})
            return Outcome(message_id, False, reason)

    def handle_batch(self, records: list[dict[str, Any]]) -> list[Outcome]:
        outcomes = []
        for record in records:
            attributes = record.get("attributes") or record.get("Attributes") or {}
            outcomes.append(
                self.handle_record(
                    record.get("messageId") or record.get("MessageId") or "",
                    str(record["body"] if "body" in record else record.get("Body", "")),
                    int(attributes.get("ApproximateReceiveCount", 1)),
                )
            )
        return outcomes

    def sweep_dlq(self) -> int:
        """Mark failed the orders of dead-lettered messages that are still pending.

        A backstop for the receive-count accounting (which cannot mark an order while PostgreSQL is
        down). Messages stay in the DLQ for inspection and redrive, hidden for the maximum visibility
        timeout so the sweep does not spin on them.
        """
        if not self.settings.sqs_dlq_url:
            return 0
        messages = self.rt.sqs.receive_message(
            QueueUrl=self.settings.sqs_dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=43200
        ).get("Messages", [])
        marked = 0
        for message in messages:
            if self.mark_failed(message["Body"], "dead-lettered: processing kept failing"):
                marked += 1
                log.warning(
                    "order marked failed from the DLQ",
                    extra={"message_id": message["MessageId"], "order_id": order_of(message.get("Body", ""))},
                )
        return marked

    def relay_outbox(self) -> int:
        try:
            return outbox.relay_all(self.rt.pool, self.rt.sqs, str(self.settings.sqs_queue_url))
        except Exception as exc:
            log.warning("outbox relay failed; will retry", extra={"error": f"{type(exc).__name__}: {exc}"})
            return 0

    def poll_once(self, wait_seconds: int) -> list[Outcome]:
        response = self.receiver.receive_message(
            QueueUrl=self.settings.sqs_queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return []
        outcomes = self.handle_batch(messages)
        handles = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
        done = [o.message_id for o in outcomes if o.ok]
        if done:
            # Failures are left alone: they reappear after the visibility timeout.
            self.rt.sqs.delete_message_batch(
                QueueUrl=self.settings.sqs_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": handles[mid]} for i, mid in enumerate(done)],
            )
        return outcomes

    def run(self, stop: threading.Event, wait_seconds: int = 10, dlq_every: float = 60.0) -> None:
        errors = 0
        next_sweep = 0.0
        while not stop.is_set():
            self.relay_outbox()
            try:
                if time.monotonic() >= next_sweep:
                    self.sweep_dlq()
                    next_sweep = time.monotonic() + dlq_every
                self.poll_once(wait_seconds)
                errors = 0
            except Exception as exc:
                errors += 1
                if errors == 1:
                    log.warning("queue unavailable; retrying", extra={"error": f"{type(exc).__name__}: {exc}"})
                stop.wait(min(2**errors, 30))


_lambda_worker: Worker | None = None


def _worker_for_lambda() -> Worker:
    # Built on the first invocation and kept for the container's life; nothing is written to /tmp.
    global _lambda_worker
    if _lambda_worker is None:
        settings = Settings()
        logs.configure(settings.instance_id, settings.log_level)
        runtime = Runtime.build(settings, role="worker")
        runtime.open()
        _lambda_worker = Worker(runtime)
    return _lambda_worker


def handler(event: dict[str, Any], context: Any = None, worker: Worker | None = None) -> dict[str, Any]:
    """AWS Lambda handler for an SQS event source mapping with ReportBatchItemFailures."""
    worker = worker or _worker_for_lambda()
    outcomes = worker.handle_batch(event.get("Records", []))
    worker.relay_outbox()
    return {"batchItemFailures": [{"itemIdentifier": o.message_id} for o in outcomes if not o.ok]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.worker")
    parser.add_argument("--wait-seconds", type=int, default=10, help="SQS long-poll wait (1-20)")
    args = parser.parse_args(argv)
    settings = Settings()
    logs.configure(settings.instance_id, settings.log_level)
    try:
        runtime = Runtime.build(settings, role="worker")
    except ValueError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return 2
    runtime.open()
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("stopping after the current batch", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("worker started", extra={"queue": settings.sqs_queue_url})
    started = time.monotonic()
    try:
        Worker(runtime).run(stop, wait_seconds=max(1, min(args.wait_seconds, MAX_WAIT_SECONDS)))
    finally:
        runtime.close()
        log.info("worker stopped", extra={"uptime_s": round(time.monotonic() - started, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

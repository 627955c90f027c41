"""The outbox relay: publishes committed outbox rows to SQS, then deletes them.

Rows are claimed with FOR UPDATE SKIP LOCKED, so every replica and the worker can relay at the same
time without sending a row twice in the normal case. A crash between the send and the commit can
send a message twice; the worker is idempotent, so delivery is at-least-once and that is enough.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from psycopg_pool import ConnectionPool

log = logging.getLogger("app.outbox")
BATCH = 10  # SQS SendMessageBatch maximum


def relay_once(pool: ConnectionPool, sqs: Any, queue_url: str) -> int:
    """Publish one batch of pending rows; returns how many were published."""
    with pool.connection() as conn, conn.transaction():
        rows = conn.execute(
            "SELECT id, payload FROM outbox ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (BATCH,)
        ).fetchall()
        if not rows:
            return 0
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(row_id), "MessageBody": json.dumps(payload, sort_keys=True)} for row_id, payload in rows
            ],
        )
        sent = [int(entry["Id"]) for entry in response.get("Successful", [])]
        if sent:
            conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (sent,))
        for failure in response.get("Failed", []):
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE id = %s",
                (f"{failure.get('Code')}: {failure.get('Message', '')}"[:500], int(failure["Id"])),
            )
        return len(sent)


def relay_all(pool: ConnectionPool, sqs: Any, queue_url: str, max_batches: int = 50) -> int:
    total = 0
    for _ in range(max_batches):
        published = relay_once(pool, sqs, queue_url)
        total += published
        if published < BATCH:
            break
    return total


class Relay:
    """A background thread that relays when kicked (right after a checkout) and on an interval."""

    def __init__(
        self, pool: ConnectionPool, sqs: Any, queue_url: str, interval: float, on_published: Any = None
    ) -> None:
        self.pool = pool
        self.sqs = sqs
        self.queue_url = queue_url
        self.interval = interval
        self.on_published = on_published
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._kick.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                published = relay_all(self.pool, self.sqs, self.queue_url)
                if published:
                    log.info("outbox relayed", extra={"published": published})
                    if self.on_published:
                        self.on_published(published)
                failures = 0
            except Exception as exc:
                failures += 1
                # Logged once per outage, not once per attempt.
                if failures == 1:
                    log.warning("outbox relay failed; will retry", extra={"error": f"{type(exc).__name__}: {exc}"})
            # Back off while a dependency is down, up to 8 intervals.
            wait = self.interval * min(2 ** max(failures - 1, 0), 8)
            self._kick.wait(wait)
            self._kick.clear()

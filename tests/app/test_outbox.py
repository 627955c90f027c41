"""The transactional outbox: an SQS outage at checkout delays the message, never loses it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from app import outbox
from app.db import make_pool, migrate
from local.services import aws_client
from tests.app.support import AppServer, new_user, receive_all, wait_until
from tests.app.tcpproxy import TcpProxy

pytestmark = pytest.mark.services


@pytest.fixture
def sqs_proxy(moto: Any) -> Iterator[TcpProxy]:
    proxy = TcpProxy(urlsplit(moto.url).port or 80)
    yield proxy
    proxy.close()


def _outbox_rows(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT payload, attempts FROM outbox").fetchall()


def test_checkout_during_an_sqs_outage_succeeds_and_publishes_later(
    make_database: Callable[[], str], make_aws: Any, make_settings: Any, sqs_proxy: TcpProxy, moto: Any
) -> None:
    database, aws = make_database(), make_aws()
    settings = make_settings(database, aws, aws_endpoint_url=f"http://127.0.0.1:{sqs_proxy.port}")
    sqs = aws_client("sqs", moto.url)
    with AppServer(settings) as server:
        _, auth = new_user(server.client)
        server.client.put("/cart/items/OUT-1", json={"quantity": 1}, headers=auth)
        sqs_proxy.cut()
        response = server.client.post("/orders", headers=auth)
        assert response.status_code == 201
        order_id = response.json()["id"]
        # SQS is unreachable: the message waits, committed, in the outbox.
        assert wait_until(lambda: _outbox_rows(database), timeout=5)
        assert receive_all(sqs, aws.queue_url, wait=0) == []
        # Readiness is the replica's own: an SQS outage does not take it out of service.
        assert server.client.get("/readyz").status_code == 200
        sqs_proxy.restore()
        messages = wait_until(lambda: receive_all(sqs, aws.queue_url), timeout=20)
        assert [json.loads(m["Body"])["order_id"] for m in messages] == [order_id]
        assert wait_until(lambda: not _outbox_rows(database), timeout=5)
        assert receive_all(sqs, aws.queue_url, wait=0) == []


def test_relay_sends_each_row_once_and_in_batches(make_database: Callable[[], str], make_aws: Any, moto: Any) -> None:
    database, aws = make_database(), make_aws()
    migrate(database)
    with psycopg.connect(database, autocommit=True) as conn:
        for i in range(23):
            conn.execute("INSERT INTO outbox (payload) VALUES (%s)", (json.dumps({"order_id": f"o{i}"}),))
    sqs = aws_client("sqs", moto.url)
    pool = make_pool(database, 2, name="relay-test")
    pool.open(wait=True)
    try:
        assert outbox.relay_all(pool, sqs, aws.queue_url) == 23
        assert outbox.relay_all(pool, sqs, aws.queue_url) == 0
    finally:
        pool.close()
    bodies = sorted(json.loads(m["Body"])["order_id"] for m in receive_all(sqs, aws.queue_url))
    assert bodies == sorted(f"o{i}" for i in range(23))
    assert _outbox_rows(database) == []


def test_a_failed_send_keeps_the_rows(make_database: Callable[[], str], moto: Any) -> None:
    database = make_database()
    migrate(database)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute('INSERT INTO outbox (payload) VALUES (\'{"order_id": "x"}\')')
    sqs = aws_client("sqs", moto.url)
    pool = make_pool(database, 1, name="relay-test")
    pool.open(wait=True)
    try:
        with pytest.raises(Exception, match="NonExistentQueue|does not exist"):
            outbox.relay_all(pool, sqs, moto.url + "/123456789012/no-such-queue")
    finally:
        pool.close()
    assert len(_outbox_rows(database)) == 1

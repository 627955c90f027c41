"""Checkout: one transaction, idempotent, one order per cart; order status and ownership."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from local.services import aws_client
from tests.app.support import AppServer, new_user, receive_all, wait_until

pytestmark = pytest.mark.services


def _fill(client: Any, auth: dict[str, str], **items: int) -> None:
    for sku, quantity in items.items():
        assert client.put(f"/cart/items/{sku}", json={"quantity": quantity}, headers=auth).status_code == 200


def _order_rows(database_url: str, user_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT id::text, status, items FROM orders WHERE user_id = %s", (user_id,)).fetchall()


def test_checkout_creates_a_pending_order_and_empties_the_cart(client: Any, module_db: str) -> None:
    user, auth = new_user(client)
    _fill(client, auth, B2=1, A1=3)
    response = client.post("/orders", headers=auth)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "status", "items"}
    assert body["status"] == "pending"
    assert body["items"] == [{"sku": "A1", "quantity": 3}, {"sku": "B2", "quantity": 1}]
    assert client.get("/cart", headers=auth).json() == {"items": []}
    assert _order_rows(module_db, user["id"]) == [(body["id"], "pending", body["items"])]


def test_checkout_publishes_one_message(make_database: Callable[[], str], make_aws: Any, make_settings: Any) -> None:
    aws = make_aws()
    with AppServer(make_settings(make_database(), aws)) as server:
        _, auth = new_user(server.client)
        _fill(server.client, auth, X1=1)
        order_id = server.client.post("/orders", headers=auth).json()["id"]
        sqs = aws_client("sqs", server.settings.aws_endpoint_url)
        messages = wait_until(lambda: receive_all(sqs, aws.queue_url), timeout=10)
        assert [json.loads(m["Body"])["order_id"] for m in messages] == [order_id]
        assert receive_all(sqs, aws.queue_url) == []


def test_checkout_of_an_empty_cart_is_409(client: Any) -> None:
    _, auth = new_user(client)
    response = client.post("/orders", headers=auth)
    assert response.status_code == 409
    assert response.json() == {"detail": "the cart is empty"}


def test_same_idempotency_key_returns_the_same_order_once(client: Any, module_db: str) -> None:
    user, auth = new_user(client)
    _fill(client, auth, K1=2)
    headers = {**auth, "Idempotency-Key": "checkout-7f3a"}
    first = client.post("/orders", headers=headers)
    second = client.post("/orders", headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(_order_rows(module_db, user["id"])) == 1
    # A new key on the now empty cart is a new checkout attempt, and there is nothing to order.
    assert client.post("/orders", headers={**auth, "Idempotency-Key": "other"}).status_code == 409


def test_idempotency_keys_are_per_user(client: Any) -> None:
    _, alice = new_user(client)
    _, bob = new_user(client)
    _fill(client, alice, A=1)
    _fill(client, bob, B=1)
    a = client.post("/orders", headers={**alice, "Idempotency-Key": "same"}).json()
    b = client.post("/orders", headers={**bob, "Idempotency-Key": "same"}).json()
    assert a["id"] != b["id"] and b["items"] == [{"sku": "B", "quantity": 1}]


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey"])
def test_malformed_idempotency_key_is_422(client: Any, key: str) -> None:
    _, auth = new_user(client)
    _fill(client, auth, A=1)
    assert client.post("/orders", headers={**auth, "Idempotency-Key": key}).status_code == 422
    assert client.get("/cart", headers=auth).json()["items"] == [{"sku": "A", "quantity": 1}]


def _concurrent_checkouts(server: AppServer, auth: dict[str, str], keys: list[str | None]) -> list[Any]:
    barrier = threading.Barrier(len(keys))
    results: list[Any] = [None] * len(keys)

    def run(i: int, key: str | None) -> None:
        headers = dict(auth) if key is None else {**auth, "Idempotency-Key": key}
        barrier.wait()
        results[i] = server.client.post("/orders", headers=headers)

    threads = [threading.Thread(target=run, args=(i, k)) for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_checkouts_of_one_cart_make_one_order(server: AppServer, module_db: str) -> None:
    user, auth = new_user(server.client)
    _fill(server.client, auth, C1=1, C2=2)
    results = _concurrent_checkouts(server, auth, [None] * 6)
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1, [r.text for r in results]
    assert set(statuses) <= {201, 409}
    assert len(_order_rows(module_db, user["id"])) == 1


def test_concurrent_retries_with_one_key_all_get_the_same_order(server: AppServer, module_db: str) -> None:
    user, auth = new_user(server.client)
    _fill(server.client, auth, R1=1)
    results = _concurrent_checkouts(server, auth, ["retry-key"] * 5)
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    assert len(_order_rows(module_db, user["id"])) == 1


def test_items_added_during_checkout_are_kept(client: Any, server: AppServer) -> None:
    user, auth = new_user(client)
    _fill(client, auth, KEEP=1)
    cart = server.state.carts.get(user["id"])
    # Another request changes the cart between the checkout's read and its clean-up.
    _fill(client, auth, KEEP=5, NEW=1)
    assert server.state.carts.finish_checkout(user["id"], cart)
    assert client.get("/cart", headers=auth).json() == {
        "items": [{"sku": "KEEP", "quantity": 5}, {"sku": "NEW", "quantity": 1}]
    }
    # The cart got a new identity, so it can be checked out again.
    assert client.post("/orders", headers=auth).status_code == 201


def test_get_order_returns_it_to_its_owner_only(client: Any) -> None:
    _, alice = new_user(client)
    _, bob = new_user(client)
    _fill(client, alice, O1=2)
    created = client.post("/orders", headers=alice).json()
    mine = client.get(f"/orders/{created['id']}", headers=alice)
    assert mine.status_code == 200
    assert mine.json() == {"id": created["id"], "status": "pending", "items": [{"sku": "O1", "quantity": 2}]}
    theirs = client.get(f"/orders/{created['id']}", headers=bob)
    assert theirs.status_code == 404
    assert theirs.json() == {"detail": "order not found"}


@pytest.mark.parametrize(
    "order_id",
    [
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
        "1",
        # Forms Python's uuid.UUID accepts and PostgreSQL refuses (a 422 from the DataError, before).
        "urn:uuid:00000000-0000-0000-0000-000000000000",
        "{00000000-0000-0000-0000-000000000000}",
        "00000000000000000000000000000000",
    ],
)
def test_unknown_orders_are_404(client: Any, order_id: str) -> None:
    _, auth = new_user(client)
    response = client.get(f"/orders/{order_id}", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "order not found"}


def test_an_order_with_a_presigned_receipt_url_is_never_stored_by_a_cache(client: Any, module_db: str) -> None:
    _, auth = new_user(client)
    _fill(client, auth, C1=1)
    order_id = client.post("/orders", headers=auth).json()["id"]
    with psycopg.connect(module_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE orders SET status = 'ready', receipt_key = %s WHERE id = %s",
            (f"receipts/{order_id}.json", order_id),
        )
    response = client.get(f"/orders/{order_id}", headers=auth)
    assert response.status_code == 200
    assert "Signature=" in response.json()["receipt_url"]
    assert response.headers["cache-control"] == "no-store"


def test_an_order_is_found_only_by_the_id_it_was_given_as(client: Any) -> None:
    _, auth = new_user(client)
    _fill(client, auth, U1=1)
    created = client.post("/orders", headers=auth).json()
    assert client.get(f"/orders/{created['id'].upper()}", headers=auth).status_code == 200
    assert client.get(f"/orders/urn:uuid:{created['id']}", headers=auth).status_code == 404

"""The cart store against a plain-dict model, with checkouts racing concurrent edits (property-based)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cart import CartStore

pytestmark = pytest.mark.services

SKUS = st.sampled_from(["A", "B", "C", "D"])
OPS = st.lists(st.tuples(st.sampled_from(["set", "remove"]), SKUS, st.integers(1, 3)), max_size=8)


@pytest.fixture(scope="module")
def store(redis_service: Any) -> Iterator[CartStore]:
    client = redis.Redis.from_url(redis_service.url, decode_responses=True)
    yield CartStore(client, ttl_seconds=600)
    client.close()


def _apply(store: CartStore, model: dict[str, int], user: str, ops: list[tuple[str, str, int]]) -> None:
    for op, sku, quantity in ops:
        if op == "set":
            store.set_item(user, sku, quantity)
            model[sku] = quantity
        else:
            store.remove_item(user, sku)
            model.pop(sku, None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=OPS, during=OPS)
def test_checkout_removes_exactly_the_ordered_lines(store: CartStore, before: list, during: list) -> None:
    user = uuid.uuid4().hex
    model: dict[str, int] = {}
    _apply(store, model, user, before)
    snapshot = store.get(user)
    assert {i["sku"]: i["quantity"] for i in snapshot.items} == model
    _apply(store, model, user, during)
    store.finish_checkout(user, snapshot)
    ordered = {i["sku"]: i["quantity"] for i in snapshot.items}
    expected = {sku: q for sku, q in model.items() if ordered.get(sku) != q}
    after = store.get(user)
    if snapshot.cart_id is None:
        # Nothing was ever checked out: the cart is untouched.
        expected = model
    assert {i["sku"]: i["quantity"] for i in after.items} == expected
    if snapshot.cart_id is not None and after.items:
        # What is left is a new cart: it can be ordered again.
        assert after.cart_id != snapshot.cart_id

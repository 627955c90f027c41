"""Orders in PostgreSQL: checkout (order + outbox message in one transaction) and look-ups."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from app.cart import Cart


class CartAlreadyOrdered(Exception):
    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    status: str
    items: list[dict[str, Any]]
    receipt_key: str | None = None

    def created_body(self) -> dict[str, Any]:
        """What checkout answered; a replay with the same Idempotency-Key answers it again."""
        return {"id": self.id, "status": "pending", "items": self.items}


_BY_KEY = (
    "SELECT id::text, user_id::text, status, items, receipt_key FROM orders WHERE user_id = %s AND idempotency_key = %s"
)
_BY_ID = "SELECT id::text, user_id::text, status, items, receipt_key FROM orders WHERE id = %s AND user_id = %s"


def _row(row: tuple[Any, ...]) -> Order:
    return Order(id=row[0], user_id=row[1], status=row[2], items=row[3], receipt_key=row[4])


def find_by_idempotency_key(pool: ConnectionPool, user_id: str, key: str) -> Order | None:
    with pool.connection() as conn:
        row = conn.execute(_BY_KEY, (user_id, key)).fetchone()
    return _row(row) if row else None


def _find_by_cart(conn: psycopg.Connection, user_id: str, cart_id: str) -> str | None:
    row = conn.execute("SELECT id::text FROM orders WHERE user_id = %s AND cart_id = %s", (user_id, cart_id)).fetchone()
    return row[0] if row else None


def place(pool: ConnectionPool, user_id: str, cart: Cart, idempotency_key: str | None) -> Order:
    """Commit the order and its outbox message together; raise when the cart or key was used."""
    order_id = str(uuid.uuid4())
    with pool.connection() as conn:
        try:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO orders (id, user_id, items, cart_id, idempotency_key) VALUES (%s, %s, %s, %s, %s)",
                    (order_id, user_id, Jsonb(cart.items), cart.cart_id, idempotency_key),
                )
                conn.execute(
                    "INSERT INTO outbox (payload) VALUES (%s)",
                    (Jsonb({"type": "order.placed", "version": 1, "order_id": order_id}),),
                )
        except psycopg.errors.UniqueViolation:
            if idempotency_key is not None:
                row = conn.execute(_BY_KEY, (user_id, idempotency_key)).fetchone()
                if row:
                    return _row(row)
            existing = _find_by_cart(conn, user_id, str(cart.cart_id))
            if existing:
                raise CartAlreadyOrdered(existing) from None
            raise
    return Order(id=order_id, user_id=user_id, status="pending", items=cart.items)


_CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def get(pool: ConnectionPool, user_id: str, order_id: str) -> Order | None:
    # Only the form the API hands out (8-4-4-4-12 hex digits): uuid.UUID also takes "urn:uuid:...",
    # braces and no hyphens; PostgreSQL's uuid type refuses the urn form (a DataError, answered 422).
    if not _CANONICAL_UUID.match(order_id):
        return None
    with pool.connection() as conn:
        row = conn.execute(_BY_ID, (order_id, user_id)).fetchone()
    return _row(row) if row else None

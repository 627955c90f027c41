"""Checkout and order status."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import redis
from fastapi import Header, HTTPException
from fastapi.responses import JSONResponse

from app import orders
from app.cart import Cart
from app.routers import resource_router
from app.routers.deps import StateDep, UserDep
from app.schemas import OrderCreated, OrderView, errors
from app.state import AppState

router = resource_router()
log = logging.getLogger("app.orders")

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,255}$", max_length=255)]
RECEIPT_URL_TTL_SECONDS = 900


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderCreated,
    responses=errors(401, 409, 422, 503, e409="the cart is empty, or was already checked out (the order is named)"),
)
def checkout(user: UserDep, app: StateDep, idempotency_key: IdempotencyKey = None) -> Any:
    rt = app.rt
    if idempotency_key is not None:
        earlier = orders.find_by_idempotency_key(rt.pool, user.user_id, idempotency_key)
        if earlier:
            return JSONResponse(earlier.created_body(), status_code=201)
    cart = app.carts.get(user.user_id)
    if not cart.items or cart.cart_id is None:
        # A concurrent retry with this key may have ordered the cart since the look-up above.
        if idempotency_key is not None:
            earlier = orders.find_by_idempotency_key(rt.pool, user.user_id, idempotency_key)
            if earlier:
                return JSONResponse(earlier.created_body(), status_code=201)
        raise HTTPException(409, "the cart is empty")
    try:
        order = orders.place(rt.pool, user.user_id, cart, idempotency_key)
    except orders.CartAlreadyOrdered as exc:
        _finish_cart(app, user.user_id, cart)
        raise HTTPException(409, f"this cart was already checked out as order {exc.order_id}") from None
    _finish_cart(app, user.user_id, cart)
    if app.relay is not None:
        app.relay.kick()
    return JSONResponse(order.created_body(), status_code=201)


def _finish_cart(app: AppState, user_id: str, cart: Cart) -> None:
    # The order is committed; emptying the cart is best effort. If Redis fails here the cart keeps
    # its identity, and a retried checkout is answered from the existing order instead of a new one.
    try:
        app.carts.finish_checkout(user_id, cart)
    except redis.RedisError as exc:
        log.warning("cart not emptied after checkout", extra={"error": f"{type(exc).__name__}: {exc}"})


@router.get(
    "/orders/{order_id}",
    response_model=OrderView,
    response_model_exclude_none=True,
    responses=errors(401, 404, 422, 503),
)
def get_order(order_id: str, user: UserDep, app: StateDep) -> dict[str, Any]:
    order = orders.get(app.rt.pool, user.user_id, order_id)
    if order is None:
        # Someone else's order is indistinguishable from a missing one.
        raise HTTPException(404, "order not found")
    body: dict[str, Any] = {"id": order.id, "status": order.status, "items": order.items}
    if order.status == "ready" and order.receipt_key:
        body["receipt_url"] = app.rt.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": app.settings.s3_bucket, "Key": order.receipt_key},
            ExpiresIn=RECEIPT_URL_TTL_SECONDS,
        )
    return body

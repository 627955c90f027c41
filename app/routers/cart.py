"""The cart (Redis only): read it, set a line's quantity, remove a line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from app.cart import MAX_LINES, CartFull
from app.routers.deps import CartUserDep, StateDep
from app.schemas import CartView, errors

router = APIRouter()

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Sku = Annotated[str, Path(pattern=SKU_PATTERN, description="1-64 letters, digits, _ or -")]


class Quantity(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quantity: Annotated[int, Field(ge=1, le=1000)]


CartBody = dict[str, list[dict[str, int | str]]]


@router.get("/cart", response_model=CartView, responses=errors(401, 503))
def get_cart(user: CartUserDep, app: StateDep) -> CartBody:
    return app.carts.get(user.user_id).body()


@router.put(
    "/cart/items/{sku}",
    response_model=CartView,
    responses=errors(401, 409, 413, 422, 503, e409=f"the cart already holds {MAX_LINES} different SKUs"),
)
def put_item(sku: Sku, body: Quantity, user: CartUserDep, app: StateDep) -> CartBody:
    try:
        return app.carts.set_item(user.user_id, sku, body.quantity).body()
    except CartFull as exc:
        raise HTTPException(409, str(exc)) from None


@router.delete("/cart/items/{sku}", response_model=CartView, responses=errors(401, 422, 503))
def delete_item(sku: Sku, user: CartUserDep, app: StateDep) -> CartBody:
    return app.carts.remove_item(user.user_id, sku).body()

"""The cart (Redis only): read it, set a line's quantity, remove a line.

The routes run on the event loop with the asynchronous Redis client: a cart request takes no
thread, and setting a line checks that the token's user exists in the same round trip
(app/cart.py, `_SET_ITEM`). They answer with the cart as built (`Cart.body`), already in
CartView's shape: `response_model` documents it, and tests/app check it against the document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.cart import MAX_LINES, USER_UNKNOWN, CartFull
from app.routers import resource_router
from app.routers.deps import CartUserDep, StateDep, TokenDep, refuse
from app.schemas import CartView, errors
from app.users import cache_key, current

router = resource_router()

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Sku = Annotated[str, Path(pattern=SKU_PATTERN, description="1-64 letters, digits, _ or -")]


class Quantity(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quantity: Annotated[int, Field(ge=1, le=1000)]


@router.get("/cart", response_model=CartView, responses=errors(401, 503))
async def get_cart(user: CartUserDep, app: StateDep) -> JSONResponse:
    return JSONResponse((await app.acarts.get(user.user_id)).body())


@router.put(
    "/cart/items/{sku}",
    response_model=CartView,
    responses=errors(401, 409, 413, 422, 503, e409=f"the cart already holds {MAX_LINES} different SKUs"),
)
async def put_item(sku: Sku, body: Quantity, principal: TokenDep, app: StateDep) -> JSONResponse:
    user_id, generation = principal.user_id, principal.generation
    try:
        outcome = await app.acarts.set_item_if_user(user_id, cache_key(user_id), sku, body.quantity, generation)
        if outcome == USER_UNKNOWN:
            # Not in the user cache: PostgreSQL decides (and fills the cache), then once more.
            known = await app.users.arefresh(user_id)
            if not current(known, generation):
                raise refuse(known)
            outcome = await app.acarts.set_item_if_user(user_id, cache_key(user_id), sku, body.quantity, generation)
    except CartFull as exc:
        raise HTTPException(409, str(exc)) from None
    if isinstance(outcome, int):
        # The cache says no (or, after a fill, vanished again: refused rather than written unchecked).
        raise refuse(await app.users.ageneration(user_id))
    return JSONResponse(outcome.body())


@router.delete("/cart/items/{sku}", response_model=CartView, responses=errors(401, 422, 503))
async def delete_item(sku: Sku, user: CartUserDep, app: StateDep) -> JSONResponse:
    return JSONResponse((await app.acarts.remove_item(user.user_id, sku)).body())

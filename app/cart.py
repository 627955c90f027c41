"""The cart: session state kept in Redis only, one hash per user with a sliding TTL.

Hash fields are SKUs mapped to quantities, plus `_id`, the cart's identity. The id is what an order
records, so one cart can become at most one order; it changes whenever a checkout completes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

ID_FIELD = "_id"  # SKUs cannot start with "_", so the field never collides with an item.
MAX_LINES = 100

# Runs after an order committed: removes exactly the lines that were ordered (a line changed
# meanwhile is kept) and gives what is left a new identity, all in one atomic step.
_FINISH_CHECKOUT = """
if redis.call('HGET', KEYS[1], '_id') ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
if redis.call('HLEN', KEYS[1]) <= 1 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], '_id', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return 1
"""


# Sets one line, in one atomic step so concurrent adds cannot push a cart past MAX_LINES: a new
# SKU is refused when the cart already holds that many (the `_id` field is not a line).
# ARGV: sku, quantity, new cart id (used if the cart has none), TTL, MAX_LINES. Returns the whole
# hash, or false when the cart is full.
# With a second key (the user's token-generation cache entry, app/users.py) and the token's
# generation as ARGV[6], the line is set only when that entry says the user exists and the token is
# current: otherwise nothing changes and the answer is USER_UNKNOWN (no entry) or USER_GONE (no such
# user, or a revoked token), so a cart request costs one round trip, token check included.
_SET_ITEM = """
if #KEYS > 1 then
  local known = redis.call('GET', KEYS[2])
  if not known then return -1 end
  local generation = tonumber(known)
  if generation == 0 or tonumber(ARGV[6]) < generation then return 0 end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  local lines = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], '_id')
  if lines >= tonumber(ARGV[5]) then return false end
end
redis.call('HSETNX', KEYS[1], '_id', ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return redis.call('HGETALL', KEYS[1])
"""


USER_UNKNOWN = -1
USER_GONE = 0


class CartFull(Exception):
    pass


@dataclass(frozen=True)
class Cart:
    cart_id: str | None
    items: list[dict[str, int | str]]

    def body(self) -> dict[str, list[dict[str, int | str]]]:
        return {"items": self.items}


def _key(user_id: str) -> str:
    return f"cart:{user_id}"


def _to_cart(raw: dict[str, str]) -> Cart:
    cart_id = raw.pop(ID_FIELD, None)
    items: list[dict[str, int | str]] = [
        {"sku": sku, "quantity": int(quantity)} for sku, quantity in sorted(raw.items())
    ]
    return Cart(cart_id, items)


class CartStore:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._finish = client.register_script(_FINISH_CHECKOUT)
        self._set_item = client.register_script(_SET_ITEM)

    def get(self, user_id: str) -> Cart:
        return _to_cart(dict(self.client.hgetall(_key(user_id))))  # type: ignore[arg-type]

    def set_item(self, user_id: str, sku: str, quantity: int) -> Cart:
        flat = self._set_item(keys=[_key(user_id)], args=[sku, quantity, uuid.uuid4().hex, self.ttl_seconds, MAX_LINES])
        if not flat:
            raise CartFull(f"a cart holds at most {MAX_LINES} different SKUs")
        return _to_cart(dict(zip(flat[::2], flat[1::2], strict=True)))

    def remove_item(self, user_id: str, sku: str) -> Cart:
        key = _key(user_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(key, sku)
        pipe.expire(key, self.ttl_seconds)
        pipe.hgetall(key)
        return _to_cart(dict(pipe.execute()[-1]))

    def finish_checkout(self, user_id: str, cart: Cart) -> bool:
        args: list[str | int] = [str(cart.cart_id), uuid.uuid4().hex, self.ttl_seconds]
        for item in cart.items:
            args += [str(item["sku"]), str(item["quantity"])]
        return bool(self._finish(keys=[_key(user_id)], args=args))


class AsyncCartStore:
    """The cart routes' store on the event loop (redis.asyncio), the same scripts as CartStore."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: int) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        # EVALSHA names a script by its SHA-1 (Redis chose it; nothing here relies on it as a security hash).
        self._set_item_sha = hashlib.sha1(_SET_ITEM.encode(), usedforsecurity=False).hexdigest()

    async def _run_set_item(self, keys: list[str], args: list[str | int]) -> Any:
        # EVALSHA directly: redis-py's Script object re-imports and type-checks on every call.
        try:
            return await self.client.evalsha(self._set_item_sha, len(keys), *keys, *args)
        except NoScriptError:
            # A restarted or failed-over Redis has forgotten the script: load it once more.
            self._set_item_sha = await self.client.script_load(_SET_ITEM)
            return await self.client.evalsha(self._set_item_sha, len(keys), *keys, *args)

    async def get(self, user_id: str) -> Cart:
        return _to_cart(dict(await self.client.hgetall(_key(user_id))))  # type: ignore[arg-type]

    async def set_item_if_user(
        self, user_id: str, user_key: str, sku: str, quantity: int, generation: int = 1
    ) -> Cart | int:
        """The cart after setting the line, or USER_UNKNOWN / USER_GONE (nothing changed): `generation`
        is the token's, refused when the user's is higher."""
        answer = await self._run_set_item(
            [_key(user_id), user_key], [sku, quantity, uuid.uuid4().hex, self.ttl_seconds, MAX_LINES, generation]
        )
        if isinstance(answer, int):
            return answer
        if not answer:
            raise CartFull(f"a cart holds at most {MAX_LINES} different SKUs")
        return _to_cart(dict(zip(answer[::2], answer[1::2], strict=True)))

    async def remove_item(self, user_id: str, sku: str) -> Cart:
        key = _key(user_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(key, sku)
            pipe.expire(key, self.ttl_seconds)
            pipe.hgetall(key)
            return _to_cart(dict((await pipe.execute())[-1]))

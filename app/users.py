"""Whether the subject of a validly signed token still exists.

A token outlives nothing: a user deleted after login (or a token minted for a subject that never
existed, with a stolen or test key) must get 401, not a cart, and never a 500 at checkout.

Cart routes otherwise touch Redis only, so they ask a Redis cache first (`user:<id>` = "1" or
"0", for `APP_USER_CACHE_TTL_SECONDS`) and PostgreSQL only on a miss; login fills the cache. Order
routes need PostgreSQL anyway and ask it directly, so they never wait on Redis. Whoever deletes a
user calls `forget()` so the cache does not vouch for them until it expires.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

_EXISTS = "SELECT 1 FROM users WHERE id = %s"


def cache_key(user_id: str) -> str:
    return f"user:{user_id}"


class UserDirectory:
    def __init__(
        self, client: redis.Redis, pool: ConnectionPool, ttl_seconds: int, aclient: aioredis.Redis | None = None
    ) -> None:
        self.client = client
        self.aclient = aclient
        self.pool = pool
        self.ttl_seconds = ttl_seconds

    def exists_in_database(self, user_id: str) -> bool:
        with self.pool.connection() as conn:
            return conn.execute(_EXISTS, (user_id,)).fetchone() is not None

    def exists(self, user_id: str) -> bool:
        """Redis first; PostgreSQL on a miss. Raises only when neither can answer."""
        cached = self.client.get(cache_key(user_id))
        if cached is not None:
            return cached == "1"
        found = self.exists_in_database(user_id)
        self.client.set(cache_key(user_id), "1" if found else "0", ex=self.ttl_seconds)
        return found

    async def aexists(self, user_id: str) -> bool:
        """`exists` for the event loop: the cache on the loop, PostgreSQL (on a miss) in a thread."""
        assert self.aclient is not None, "no event-loop Redis client"
        cached = await self.aclient.get(cache_key(user_id))
        if cached is not None:
            return cached == "1"
        return await self.arefresh(user_id)

    async def arefresh(self, user_id: str) -> bool:
        """Asks PostgreSQL and caches the answer (after the cache had none)."""
        assert self.aclient is not None, "no event-loop Redis client"
        found = await run_in_threadpool(self.exists_in_database, user_id)
        await self.aclient.set(cache_key(user_id), "1" if found else "0", ex=self.ttl_seconds)
        return found

    def remember(self, user_id: str) -> None:
        self.client.set(cache_key(user_id), "1", ex=self.ttl_seconds)

    def forget(self, user_id: str) -> None:
        self.client.delete(cache_key(user_id))

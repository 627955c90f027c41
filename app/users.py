"""Whether the subject of a validly signed token still exists, and whether the token is still current.

A token outlives nothing: a user deleted after login (or a token minted for a subject that never
existed, with a stolen or test key) must get 401, not a cart, and never a 500 at checkout. And a
token issued before the user signed out or changed the password must get 401 on every replica: each
token carries the user's token generation at issue time (claim `gen`), `users.token_generation` in
PostgreSQL is the truth, and sign-out or a password change raises it.

Cart routes otherwise touch Redis only, so they ask a Redis cache first (`user-gen:<id>` = the
generation, or "0" for no such user, for `APP_USER_CACHE_TTL_SECONDS`) and PostgreSQL only on a miss.
Order routes need PostgreSQL anyway and ask it directly, so they never wait on Redis.

Keeping the cache no higher than the truth, so that a revocation holds within the request that made
it: the cache is filled only where it is empty (SET NX), and a revocation deletes the entry before it
raises the generation and writes the new one after (a plain SET). A fill that read the old generation
either lands while the entry is absent and is overwritten by the revocation's write, or finds the
entry there and changes nothing. Whoever deletes a user calls `forget()`.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

_GENERATION = "SELECT token_generation FROM users WHERE id = %s"
_RAISE = "UPDATE users SET token_generation = token_generation + 1 WHERE id = %s RETURNING token_generation"
GONE = 0


def cache_key(user_id: str) -> str:
    return f"user-gen:{user_id}"


def current(generation: int, token_generation: int) -> bool:
    """A token is current while its user exists and no revocation came after it."""
    return generation != GONE and token_generation >= generation


class UserDirectory:
    def __init__(
        self, client: redis.Redis, pool: ConnectionPool, ttl_seconds: int, aclient: aioredis.Redis | None = None
    ) -> None:
        self.client = client
        self.aclient = aclient
        self.pool = pool
        self.ttl_seconds = ttl_seconds

    def generation_in_database(self, user_id: str) -> int:
        """The user's token generation, or GONE."""
        with self.pool.connection() as conn:
            row = conn.execute(_GENERATION, (user_id,)).fetchone()
        return int(row[0]) if row else GONE

    def generation(self, user_id: str) -> int:
        """Redis first; PostgreSQL on a miss. Raises only when neither can answer."""
        cached = self.client.get(cache_key(user_id))
        if cached is not None:
            return int(cached)  # type: ignore[arg-type,unused-ignore]
        found = self.generation_in_database(user_id)
        self.client.set(cache_key(user_id), str(found), ex=self.ttl_seconds, nx=True)
        return found

    async def ageneration(self, user_id: str) -> int:
        """`generation` for the event loop: the cache on the loop, PostgreSQL (on a miss) in a thread."""
        assert self.aclient is not None, "no event-loop Redis client"
        cached = await self.aclient.get(cache_key(user_id))
        if cached is not None:
            return int(cached)
        return await self.arefresh(user_id)

    async def arefresh(self, user_id: str) -> int:
        """Asks PostgreSQL and caches the answer where the cache has none."""
        assert self.aclient is not None, "no event-loop Redis client"
        found = await run_in_threadpool(self.generation_in_database, user_id)
        await self.aclient.set(cache_key(user_id), str(found), ex=self.ttl_seconds, nx=True)
        return found

    def remember(self, user_id: str, generation: int) -> None:
        self.client.set(cache_key(user_id), str(generation), ex=self.ttl_seconds, nx=True)

    def forget(self, user_id: str) -> None:
        self.client.delete(cache_key(user_id))

    def revoke(self, user_id: str, password_hash: str | None = None) -> int:
        """End every token issued so far (and set a new password hash, if given): the generation rises in
        PostgreSQL, and the cache holds the new one before this returns. Redis failing before the change
        raises with nothing changed; failing after it raises too (the caller answers 503): the cache
        entry is then gone, unless a request racing the change refilled it with the old generation in
        the milliseconds between, which holds until it expires (APP_USER_CACHE_TTL_SECONDS)."""
        self.client.delete(cache_key(user_id))
        with self.pool.connection() as conn, conn.transaction():
            if password_hash is not None:
                conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))
            row = conn.execute(_RAISE, (user_id,)).fetchone()
        generation = int(row[0]) if row else GONE
        self.client.set(cache_key(user_id), str(generation), ex=self.ttl_seconds)
        return generation

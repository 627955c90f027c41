"""PostgreSQL access: the connection pool and the start-up migrations.

Migrations are the numbered .sql files in app/migrations, applied in order inside one transaction
each, under a session advisory lock so replicas starting together apply them exactly once.
"""

from __future__ import annotations

import logging
import re
import time
from importlib import resources

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger("app.db")

# Arbitrary constant shared by every replica: "the migration lock" of this schema.
MIGRATION_LOCK_ID = 7_244_611_005
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def make_pool(conninfo: str, max_size: int, name: str = "app") -> ConnectionPool:
    """A pool that hands out checked, autocommit connections and fails fast when PostgreSQL is down."""
    return ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        open=False,
        name=name,
        timeout=2.0,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 3, "application_name": f"stateless-{name}"},
        # Give up a failed (re)connection quickly: the next request starts a fresh attempt, so the
        # pool recovers as soon as PostgreSQL is back instead of after an ever longer back-off.
        reconnect_timeout=2.0,
        max_idle=300,
    )


def migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("app.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conninfo: str) -> list[str]:
    """Apply pending migrations; returns the names applied by this call."""
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = conn.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for version, name, sql in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                applied.append(name)
                log.info("migration applied", extra={"migration": name})
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied


def migrate_with_retry(conninfo: str, deadline_seconds: float = 30.0) -> list[str]:
    """Wait for PostgreSQL at start-up instead of crash-looping while it is still booting."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            return migrate(conninfo)
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("database not reachable yet, retrying", extra={"error": str(exc).strip()})
            time.sleep(1.0)

"""Start-up migrations: applied once even when several replicas start together."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from app.db import migrate, migrations

pytestmark = pytest.mark.services


def test_migrations_are_numbered_sql_files() -> None:
    found = migrations()
    assert found and [version for version, _, _ in found] == sorted({version for version, _, _ in found})


def test_replicas_migrating_together_apply_each_migration_once(make_database: Callable[[], str]) -> None:
    database = make_database()
    barrier = threading.Barrier(5)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def replica() -> None:
        barrier.wait()
        try:
            applied.append(migrate(database))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(len(names) for names in applied) == [0, 0, 0, 0, len(migrations())]
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert [r[0] for r in rows] == [version for version, _, _ in migrations()]
    assert {"users", "orders", "outbox", "schema_migrations"} <= tables
    assert migrate(database) == []

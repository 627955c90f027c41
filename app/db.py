"""PostgreSQL access: credentials from Secrets Manager, the connection pool, and the migrations.

The app connects as its own least-privilege role. Its credentials come from the secret named by
APP_DATABASE_SECRET_ARN and change when the secret is rotated, so every new connection takes them from
`DbCredentials`: the cached value while it is fresh, the secret again after a TTL, and the secret again
at once when PostgreSQL refuses the password (the cached one is never trusted past an authentication
failure). Connections already open are not affected by a rotation.

Migrations are the numbered .sql files in app/migrations, applied in order inside one transaction
each, under a session advisory lock so runners starting together apply them exactly once. They run as
the master role (`python -m app migrate`), which also creates or updates the app's role.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import socket
import stringprep
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

log = logging.getLogger("app.db")

# Arbitrary constant shared by every runner: "the migration lock" of this schema.
MIGRATION_LOCK_ID = 7_244_611_005
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A query that has not finished after this long is abandoned (see `deadline`).
QUERY_DEADLINE_SECONDS = 5.0
CHECK_DEADLINE_SECONDS = 1.0


class DatabaseUnavailable(psycopg.OperationalError):
    """PostgreSQL did not answer in time; the connection was abandoned."""


@dataclass
class DbCredentials:
    """Username and password for new connections, re-read from their secret after `ttl` seconds or an
    authentication failure. `fetch` returns (username, password)."""

    fetch: Callable[[], tuple[str, str]]
    ttl: float = 300.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[str, str] | None = None
        self._read_at = 0.0
        self.reads = 0

    def current(self) -> tuple[str, str]:
        with self._lock:
            stale = self._value is None or time.monotonic() - self._read_at >= self.ttl
            if stale:
                try:
                    self._value = self.fetch()
                    self.reads += 1
                    self._read_at = time.monotonic()
                except Exception:
                    if self._value is None:
                        raise
                    # Secrets Manager is unreachable: the cached password still works until a rotation,
                    # and an authentication failure brings us back here.
                    log.warning("database secret not re-read; using the cached one")
            assert self._value is not None
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None


def is_auth_failure(exc: BaseException) -> bool:
    # 28P01 invalid_password, 28000 invalid_authorization_specification; libpq reports a refused
    # password at connect time as text only.
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate in ("28P01", "28000") or "password authentication failed" in str(exc)


def connection_class(credentials: DbCredentials | None) -> type[psycopg.Connection[Any]]:
    """psycopg's Connection, taking user and password from `credentials` for every new connection and
    retrying once with a freshly read secret when the password is refused."""
    if credentials is None:
        return psycopg.Connection
    source = credentials

    class SecretConnection(psycopg.Connection[Any]):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            for attempt in (1, 2):
                user, password = source.current()
                try:
                    return super().connect(conninfo, **{**kwargs, "user": user, "password": password})
                except psycopg.OperationalError as exc:
                    if attempt == 2 or not is_auth_failure(exc):
                        raise
                    log.warning("database password refused; re-reading the secret")
                    source.invalidate()
            raise AssertionError("unreachable")

    return SecretConnection


def _abort(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket down: a thread blocked on it gets an error at once. Used when
    PostgreSQL stops answering without closing (a stalled or paused server), where neither the server's
    statement_timeout nor TCP keepalives end the wait."""
    with contextlib.suppress(Exception):
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


@contextlib.contextmanager
def deadline(conn: psycopg.Connection[Any], seconds: float) -> Iterator[None]:
    """Abandon the connection if the block takes longer than `seconds` (raises DatabaseUnavailable)."""
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        _abort(conn)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except psycopg.Error as exc:
        if fired.is_set():
            raise DatabaseUnavailable(f"PostgreSQL did not answer within {seconds:g} s") from exc
        raise
    finally:
        timer.cancel()


def _check(conn: psycopg.Connection[Any]) -> None:
    with deadline(conn, CHECK_DEADLINE_SECONDS):
        ConnectionPool.check_connection(conn)


class GuardedPool(ConnectionPool):
    """A pool whose connections are abandoned when PostgreSQL stops answering, so a stalled database
    holds a request (and an endpoint thread) for a bounded time, never indefinitely."""

    query_deadline = QUERY_DEADLINE_SECONDS

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Any]:
        with super().connection(timeout) as conn, deadline(conn, self.query_deadline):
            yield conn


def make_pool(
    conninfo: str, max_size: int, name: str = "app", credentials: DbCredentials | None = None
) -> ConnectionPool:
    """A pool that hands out checked, autocommit connections and fails fast when PostgreSQL is down."""
    return GuardedPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        open=False,
        name=name,
        timeout=2.0,
        check=_check,
        connection_class=connection_class(credentials),
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


def migrate(conninfo: str, app_role: tuple[str, str] | None = None, **connect_kwargs: Any) -> list[str]:
    """Apply pending migrations; with `app_role` (username, password), also create or update that role
    with DML rights on the app's tables and nothing more. Returns the names applied by this call."""
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5, **connect_kwargs) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = conn.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for version, name, sql_text in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql_text)
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                applied.append(name)
                log.info("migration applied", extra={"migration": name})
            if app_role is not None:
                ensure_app_role(conn, *app_role)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied


SCRAM_ITERATIONS = 4096
SCRAM_SALT_BYTES = 16


def _saslprep(password: str) -> bytes:
    """The password as PostgreSQL hashes it (src/common/saslprep.c pg_saslprep, RFC 4013): ASCII as is;
    otherwise non-ASCII spaces to space, "mapped to nothing" characters dropped, NFKC; a password with a
    prohibited character is used as its raw UTF-8 bytes, as the server does."""
    if password.isascii():
        return password.encode()
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c))
    normalized = unicodedata.normalize("NFKC", mapped)
    prohibited = (stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3,
                  stringprep.in_table_c4, stringprep.in_table_c5, stringprep.in_table_c6, stringprep.in_table_c7,
                  stringprep.in_table_c8, stringprep.in_table_c9, stringprep.in_table_a1)
    if any(check(c) for c in normalized for check in prohibited):
        return password.encode()
    return normalized.encode()


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 secret PostgreSQL stores for `password` (src/common/scram-common.c
    scram_build_secret: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64; RFC 5802
    section 3: SaltedPassword = PBKDF2-HMAC-SHA-256, StoredKey = H(HMAC(SaltedPassword, "Client Key")),
    ServerKey = HMAC(SaltedPassword, "Server Key"); 16 random salt bytes and 4096 iterations are the
    server's own defaults)."""
    if iterations < 1:
        raise ValueError("SCRAM needs at least one iteration")
    salt = os.urandom(SCRAM_SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", _saslprep(password), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def ensure_app_role(conn: psycopg.Connection[Any], username: str, password: str) -> None:
    """The role web replicas and the worker log in as: LOGIN, no superuser, no CREATEDB/CREATEROLE, no
    DDL (it owns nothing and may not create in the schema), and SELECT/INSERT/UPDATE/DELETE on the app's
    tables only."""
    if not _ROLE_NAME.match(username):
        raise ValueError(f"the app's database username {username!r} must be a lower-case SQL identifier")
    role = sql.Identifier(username)
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)).fetchone()
        # CREATE ROLE's defaults are NOSUPERUSER NOREPLICATION NOBYPASSRLS; only a superuser may even
        # name those attributes (an RDS master is not one), so they are checked below instead.
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        # The statement carries the SCRAM verifier, never the password: a statement can reach the server's
        # log (log_statement, an error's STATEMENT line) and from there CloudWatch. A string already in
        # SCRAM format is stored as it is (PostgreSQL docs, CREATE ROLE: "If the presented password string
        # is already in MD5-encrypted or SCRAM-encrypted format, then it is stored as-is").
        conn.execute(
            sql.SQL("{} ROLE {} LOGIN NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                verb, role, sql.Literal(scram_sha256_verifier(password))
            )
        )
        flags = conn.execute(
            "SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = %s", (username,)
        ).fetchone()
        if flags is None or flags[0]:
            raise ValueError(f"database role {username} is privileged (superuser, replication or bypassrls)")
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database[0])))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database[0]), role))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(role))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            ).fetchall()
        ]
        for table in tables:
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {} TO {}").format(sql.Identifier(table), role)
            )
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))


def migrate_with_retry(
    conninfo: str, deadline_seconds: float = 30.0, app_role: tuple[str, str] | None = None, **connect_kwargs: Any
) -> list[str]:
    """Wait for PostgreSQL at start-up instead of crash-looping while it is still booting."""
    deadline_at = time.monotonic() + deadline_seconds
    while True:
        try:
            return migrate(conninfo, app_role, **connect_kwargs)
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline_at:
                raise
            log.warning("database not reachable yet, retrying", extra={"error": str(exc).strip()})
            time.sleep(1.0)

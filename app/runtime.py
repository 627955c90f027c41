"""Connections shared by the web app and the worker, built once per process from Settings.

Creates: the PostgreSQL pool (credentials from Secrets Manager, re-read after a TTL or a refused
password), the Redis client (with a circuit breaker, so a stalled Redis costs one short timeout and
then fails fast), the S3 (SigV4) and SQS clients, and the JWT key ring (a KMS signing key, or a PEM as
the fallback). Secrets named by *_SECRET_ARN variables are read from Secrets Manager, the same way in
the cloud and locally (moto), and never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import boto3
import redis
import redis.asyncio as aioredis
from botocore.config import Config
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool
from redis.backoff import NoBackoff
from redis.retry import Retry

from app import db
from app.keys import KeyRing, generate_private_key_pem
from app.settings import PLACEHOLDER_SECRETS, Settings, SettingsError

Role = Literal["web", "worker"]

log = logging.getLogger("app.runtime")

# Requests fail over to a 503 quickly instead of hanging on an unreachable dependency.
AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
# Calls a request waits on (kms:Sign at login, a secret re-read before a new database connection):
# bounded to about two seconds, so a stalled endpoint never holds a request thread for long.
QUICK_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})
# S3 rejects SigV2 for SSE-KMS objects and in every region opened since 2014; botocore may still
# presign with SigV2 in us-east-1 unless told. Always SigV4 (X-Amz-Algorithm=AWS4-HMAC-SHA256):
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
S3_CONFIG = AWS_CONFIG.merge(Config(signature_version="s3v4"))
REDIS_SOCKET_TIMEOUT = 1.0
REDIS_BREAKER_COOLDOWN = 1.0


def aws_client(settings: Settings, service: str, config: Config = AWS_CONFIG) -> Any:
    # AWS_ENDPOINT_URL (moto locally) is passed explicitly too, so Settings built in code behave
    # exactly like Settings read from the environment.
    return boto3.client(service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url, config=config)


@dataclass
class Secrets:
    database_conninfo: str
    redis_url: str | None
    jwt_private_pem: str | None
    database_credentials: db.DbCredentials | None = None


def _fetch_secret(client: Any, arn: str, variable: str) -> str:
    try:
        # AWSCURRENT is GetSecretValue's default on AWS; asked for by name because moto answers a request
        # without a stage with the version created first, even after a rotation moved AWSCURRENT away
        # from it (tests/app/test_secrets.py checks the rotated value is what the app reads).
        value = client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    except Exception as exc:
        raise SettingsError(f"cannot read the secret named by {variable}: {type(exc).__name__}") from None
    if not isinstance(value, str) or value.strip().lower() in PLACEHOLDER_SECRETS:
        raise SettingsError(f"the secret named by {variable} is empty or a placeholder")
    return value


def read_login_secret(client: Any, arn: str, variable: str) -> tuple[str, str]:
    """(username, password) from a secret in the JSON shape RDS and the rotation templates use."""
    raw = _fetch_secret(client, arn, variable)
    try:
        secret = json.loads(raw)
        username, password = secret["username"], secret["password"]
    except (ValueError, KeyError, TypeError):
        raise SettingsError(f"the secret named by {variable} must be JSON with username and password") from None
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise SettingsError(f"the secret named by {variable} has an empty username or password")
    return username, password


def database_conninfo(settings: Settings) -> str:
    """Where the database is (no credentials): host, port, name and TLS settings."""
    params: dict[str, Any] = {
        "host": settings.database_host,
        "port": settings.database_port,
        "dbname": settings.database_name,
        "sslmode": settings.database_sslmode,
    }
    if settings.database_sslrootcert:
        params["sslrootcert"] = settings.database_sslrootcert
    return make_conninfo("", **params)


def resolve_secrets(settings: Settings, secrets_client: Any | None = None, role: Role = "web") -> Secrets:
    settings.check(role)
    web = role == "web"
    needs_client = settings.database_secret_arn or (
        web
        and (settings.redis_auth_secret_arn or (settings.jwt_private_key_secret_arn and not settings.jwt_private_key))
    )
    if needs_client and secrets_client is None:
        secrets_client = aws_client(settings, "secretsmanager", QUICK_CONFIG)

    credentials: db.DbCredentials | None = None
    if settings.database_url:
        conninfo = settings.database_url
    else:
        client, arn = secrets_client, str(settings.database_secret_arn)
        credentials = db.DbCredentials(
            lambda: read_login_secret(client, arn, "APP_DATABASE_SECRET_ARN"),
            ttl=settings.database_secret_ttl_seconds,
        )
        credentials.current()  # a secret that cannot be read stops the start, with its variable named
        conninfo = database_conninfo(settings)

    if not web:
        return Secrets(conninfo, None, None, credentials)
    redis_url = str(settings.redis_url)
    if settings.redis_auth_secret_arn:
        token = _fetch_secret(secrets_client, settings.redis_auth_secret_arn, "APP_REDIS_AUTH_SECRET_ARN")
        parts = urlsplit(redis_url)
        netloc = f":{quote(token, safe='')}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        redis_url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    pem: str | None
    if settings.jwt_kms_key_id:
        pem = None  # the signing key stays in KMS
    elif settings.jwt_private_key:
        pem = settings.jwt_private_key
    elif settings.jwt_private_key_secret_arn:
        pem = _fetch_secret(secrets_client, settings.jwt_private_key_secret_arn, "APP_JWT_PRIVATE_KEY_SECRET_ARN")
    else:
        # Only reachable in local mode (Settings.check refuses it in cloud mode). Tokens signed with
        # this key verify on this process alone.
        log.warning("no JWT key configured; generated a process-local key (APP_MODE=local)")
        pem = generate_private_key_pem()
    return Secrets(conninfo, redis_url, pem, credentials)


class Breaker:
    """Open for `cooldown` seconds after a failure: calls fail at once instead of each waiting for its
    own timeout, so a stalled dependency cannot tie up every request thread. The first call after the
    cooldown tries again."""

    def __init__(self, name: str, cooldown: float) -> None:
        self.name = name
        self.cooldown = cooldown
        self._open_until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def before(self) -> None:
        if self.is_open():
            raise redis.ConnectionError(f"{self.name} did not answer a moment ago; failing fast")

    def failed(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.cooldown


def _breaker_connection(base: type[redis.Connection], breaker: Breaker) -> type[redis.Connection]:
    class GuardedConnection(base):  # type: ignore[valid-type,misc]
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            breaker.before()
            try:
                super().send_packed_command(command, check_health)
            except (redis.TimeoutError, redis.ConnectionError):
                breaker.failed()
                raise

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().read_response(*args, **kwargs)
            except (redis.TimeoutError, redis.ConnectionError):
                breaker.failed()
                raise

    return GuardedConnection


def _async_breaker_connection(base: type[Any], breaker: Breaker) -> type[Any]:
    """The event loop's client opens its breaker on timeouts only (a stalled Redis). A connection
    error (reset, refused) fails at once anyway, and the one retry the client makes on a fresh
    connection is what carries a request over a Redis restart: a breaker opened by the stale
    connection would refuse that retry."""

    class GuardedConnection(base):
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            breaker.before()
            try:
                await super().send_packed_command(command, check_health)
            except redis.TimeoutError:
                breaker.failed()
                raise

        async def read_response(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().read_response(*args, **kwargs)
            except redis.TimeoutError:
                breaker.failed()
                raise

    return GuardedConnection


_REDIS_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "health_check_interval": 15,
    "decode_responses": True,
}


def make_redis(url: str, breaker: Breaker | None = None) -> redis.Redis:
    pool = redis.ConnectionPool.from_url(url, retry=Retry(NoBackoff(), 1), **_REDIS_OPTIONS)
    breaker = breaker or Breaker("Redis", REDIS_BREAKER_COOLDOWN)
    pool.connection_class = _breaker_connection(pool.connection_class, breaker)
    return redis.Redis(connection_pool=pool)


def make_async_redis(url: str, breaker: Breaker | None = None) -> aioredis.Redis:
    """The client the async routes (the cart) use on the event loop: no thread per request. Connections
    are made on first use, so it may be built outside the loop that will use it."""
    from redis.asyncio.retry import Retry as AsyncRetry

    pool = aioredis.ConnectionPool.from_url(url, retry=AsyncRetry(NoBackoff(), 1), **_REDIS_OPTIONS)
    breaker = breaker or Breaker("Redis", REDIS_BREAKER_COOLDOWN)
    pool.connection_class = _async_breaker_connection(pool.connection_class, breaker)
    return aioredis.Redis(connection_pool=pool)


@dataclass
class Runtime:
    settings: Settings
    secrets: Secrets
    keys: KeyRing | None
    pool: ConnectionPool
    redis: redis.Redis | None
    s3: Any
    sqs: Any
    kms: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The event loop's Redis client (web only), with a breaker of its own.
    aredis: aioredis.Redis | None = None
    redis_breakers: dict[str, Breaker] = field(default_factory=dict)

    def breakers(self) -> dict[str, Breaker]:
        """The Redis clients' circuit breakers by client ("threads", "loop"), for /metrics."""
        return self.redis_breakers

    @classmethod
    def build(cls, settings: Settings, role: Role = "web") -> Runtime:
        secrets = resolve_secrets(settings, role=role)
        keys: KeyRing | None = None
        kms = None
        if role == "web" and settings.jwt_kms_key_id:
            kms = aws_client(settings, "kms", QUICK_CONFIG)
            keys = KeyRing.from_kms(kms, settings.jwt_kms_key_id, settings.jwt_public_keys)
        elif secrets.jwt_private_pem:
            keys = KeyRing.build(secrets.jwt_private_pem, settings.jwt_public_keys)
        pool = db.make_pool(
            secrets.database_conninfo, settings.database_pool_size, name=role, credentials=secrets.database_credentials
        )
        breakers = {client: Breaker("Redis", REDIS_BREAKER_COOLDOWN) for client in ("threads", "loop")}
        return cls(
            settings=settings,
            secrets=secrets,
            keys=keys,
            pool=pool,
            redis=make_redis(secrets.redis_url, breakers["threads"]) if secrets.redis_url else None,
            aredis=make_async_redis(secrets.redis_url, breakers["loop"]) if secrets.redis_url else None,
            redis_breakers=breakers if secrets.redis_url else {},
            s3=aws_client(settings, "s3", S3_CONFIG),
            sqs=aws_client(settings, "sqs"),
            kms=kms,
        )

    def open(self) -> None:
        if self.settings.database_url:
            # The development shortcut: the URL's user owns the schema and migrates it at start-up. With
            # APP_DATABASE_SECRET_ARN the app's role has no DDL rights; `python -m app migrate` (the
            # migration runner) has applied them before any replica starts.
            db.migrate_with_retry(self.settings.database_url)
        self.pool.open(wait=False)

    @property
    def opened(self) -> bool:
        return not self.pool.closed

    async def aclose(self) -> None:
        """Closes what belongs to the event loop; `close` (in a thread) does the rest."""
        if self.aredis is not None:
            await self.aredis.aclose()

    def close(self) -> None:
        self.pool.close(timeout=5)
        if self.redis is not None:
            self.redis.close()

"""Connections shared by the web app and the worker, built once per process from Settings.

Creates: the PostgreSQL pool, the Redis client, the S3 and SQS clients, the JWT key ring, and for
readiness probes a one-connection pool plus quick-failing client twins (so a busy replica is not
reported unready). Secrets named by *_SECRET_ARN variables are fetched from Secrets Manager here,
at start-up, and never logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import boto3
import redis
from botocore.config import Config
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
PROBE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 1})


def aws_client(settings: Settings, service: str, config: Config = AWS_CONFIG) -> Any:
    # AWS_ENDPOINT_URL (moto locally) is passed explicitly too, so Settings built in code behave
    # exactly like Settings read from the environment.
    return boto3.client(service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url, config=config)


@dataclass
class Secrets:
    database_conninfo: str
    redis_url: str | None
    jwt_private_pem: str | None


def _fetch_secret(client: Any, arn: str, variable: str) -> str:
    try:
        value = client.get_secret_value(SecretId=arn)["SecretString"]
    except Exception as exc:
        raise SettingsError(f"cannot read the secret named by {variable}: {type(exc).__name__}") from None
    if not isinstance(value, str) or value.strip().lower() in PLACEHOLDER_SECRETS:
        raise SettingsError(f"the secret named by {variable} is empty or a placeholder")
    return value


def resolve_secrets(settings: Settings, secrets_client: Any | None = None, role: Role = "web") -> Secrets:
    settings.check(role)
    web = role == "web"
    needs_client = settings.database_secret_arn or (
        web
        and (settings.redis_auth_secret_arn or (settings.jwt_private_key_secret_arn and not settings.jwt_private_key))
    )
    if needs_client and secrets_client is None:
        secrets_client = aws_client(settings, "secretsmanager")

    if settings.database_url:
        conninfo = settings.database_url
    else:
        raw = _fetch_secret(secrets_client, str(settings.database_secret_arn), "APP_DATABASE_SECRET_ARN")
        try:
            secret = json.loads(raw)
            username, password = secret["username"], secret["password"]
        except (ValueError, KeyError, TypeError):
            raise SettingsError(
                "the secret named by APP_DATABASE_SECRET_ARN must be JSON with username and password"
            ) from None
        conninfo = (
            f"postgresql://{quote(username, safe='')}:{quote(password, safe='')}@"
            f"{settings.database_host}:{settings.database_port}/{settings.database_name}?sslmode=require"
        )

    if not web:
        return Secrets(conninfo, None, None)
    redis_url = str(settings.redis_url)
    if settings.redis_auth_secret_arn:
        token = _fetch_secret(secrets_client, settings.redis_auth_secret_arn, "APP_REDIS_AUTH_SECRET_ARN")
        parts = urlsplit(redis_url)
        netloc = f":{quote(token, safe='')}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        redis_url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    if settings.jwt_private_key:
        pem = settings.jwt_private_key
    elif settings.jwt_private_key_secret_arn:
        pem = _fetch_secret(secrets_client, settings.jwt_private_key_secret_arn, "APP_JWT_PRIVATE_KEY_SECRET_ARN")
    else:
        # Only reachable in local mode (Settings.check refuses it in cloud mode). Tokens signed with
        # this key verify on this process alone; the local environment passes one shared PEM instead.
        log.warning("no JWT key configured; generated a process-local key (APP_MODE=local)")
        pem = generate_private_key_pem()
    return Secrets(conninfo, redis_url, pem)


def make_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=15,
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
    )


@dataclass
class Runtime:
    settings: Settings
    secrets: Secrets
    keys: KeyRing | None
    pool: ConnectionPool
    redis: redis.Redis | None
    s3: Any
    sqs: Any
    s3_probe: Any = None
    sqs_probe: Any = None
    db_probe: ConnectionPool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, role: Role = "web") -> Runtime:
        secrets = resolve_secrets(settings, role=role)
        keys = KeyRing.build(secrets.jwt_private_pem, settings.jwt_public_keys) if secrets.jwt_private_pem else None
        pool = db.make_pool(secrets.database_conninfo, settings.database_pool_size, name=role)
        return cls(
            settings=settings,
            secrets=secrets,
            keys=keys,
            pool=pool,
            redis=make_redis(secrets.redis_url) if secrets.redis_url else None,
            s3=aws_client(settings, "s3"),
            sqs=aws_client(settings, "sqs"),
            s3_probe=aws_client(settings, "s3", PROBE_CONFIG),
            sqs_probe=aws_client(settings, "sqs", PROBE_CONFIG),
            db_probe=db.make_pool(secrets.database_conninfo, 1, name=f"{role}-probe") if role == "web" else None,
        )

    def open(self) -> None:
        db.migrate_with_retry(self.secrets.database_conninfo)
        self.pool.open(wait=False)
        if self.db_probe is not None:
            self.db_probe.open(wait=False)

    def close(self) -> None:
        self.pool.close(timeout=5)
        if self.db_probe is not None:
            self.db_probe.close(timeout=5)
        if self.redis is not None:
            self.redis.close()

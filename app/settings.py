"""Settings read from the environment only (12-factor).

Every variable is prefixed APP_ except the two AWS ones boto3 itself understands (AWS_REGION,
AWS_ENDPOINT_URL). `Settings.check()` refuses unsafe combinations before anything connects.
"""

from __future__ import annotations

import difflib
import os
import socket
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that must never reach production as a secret, whatever the variable.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "postgres", "default"})


class SettingsError(ValueError):
    """Configuration that the app refuses to start with; the message names the variable."""


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", extra="ignore", frozen=True)

    mode: Literal["local", "cloud"] = "cloud"
    instance_id: str = Field(default_factory=_default_instance_id)
    log_level: str = "INFO"
    port: int = Field(default=8000, ge=1, le=65535)
    # Longer than the load balancer's idle timeout (the ALB's default is 60 s), so the load balancer,
    # never the app, closes an idle connection: otherwise it may send a request on a connection the
    # app is closing, and answer 502.
    keepalive_timeout_seconds: int = Field(default=65, ge=1, le=4100)

    database_url: str | None = None
    database_host: str | None = None
    database_port: int = 5432
    database_name: str = "app"
    database_secret_arn: str | None = None
    # Read by the migration runner only (`python -m app migrate`); web and worker never get it.
    database_master_secret_arn: str | None = None
    database_sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = "verify-full"
    database_sslrootcert: str | None = None
    # The app's database secret is re-read before a new connection once it is this old (and at once
    # when PostgreSQL refuses the password).
    database_secret_ttl_seconds: float = Field(default=300, gt=0)
    database_pool_size: int = Field(default=16, ge=2, le=100)

    redis_url: str | None = None
    redis_auth_secret_arn: str | None = None

    s3_bucket: str | None = None
    sqs_queue_url: str | None = None
    sqs_dlq_url: str | None = None
    sqs_max_receive_count: int | None = Field(default=None, ge=1)

    jwt_kms_key_id: str | None = None
    jwt_private_key: str | None = None
    jwt_private_key_secret_arn: str | None = None
    jwt_public_keys: str | None = None
    jwt_issuer: str = "stateless-stack"
    jwt_audience: str = "stateless-stack-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    cart_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    max_body_bytes: int = Field(default=65536, ge=1024)
    outbox_relay_interval_seconds: float = Field(default=2.0, gt=0)

    # Abuse limits (app/throttle.py, app/server.py, app/users.py explain the defaults).
    # Failed logins: a hard limit per (account, address) only; account-wide and address-wide counts
    # slow unknown addresses down with a growing delay, never shut the owner out.
    login_max_failures_per_account_and_address: int = Field(default=10, ge=1, le=100)
    login_failures_before_account_delay: int = Field(default=20, ge=1)
    login_failures_before_address_delay: int = Field(default=100, ge=1)
    login_max_delay_account_seconds: int = Field(default=300, ge=1, le=3600)
    login_max_delay_address_seconds: int = Field(default=60, ge=1, le=3600)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=86400)
    login_known_address_days: int = Field(default=30, ge=1, le=365)
    # Successful logins (each one a KMS Sign call) and registrations (each one an argon2 hash).
    login_max_successes_per_account: int = Field(default=30, ge=1)
    login_max_successes_per_address: int = Field(default=300, ge=1)
    login_success_window_seconds: int = Field(default=300, ge=1, le=86400)
    registration_max_per_address: int = Field(default=20, ge=1)
    registration_window_seconds: int = Field(default=3600, ge=1, le=86400)
    trusted_proxy_hops: int = Field(default=1, ge=0, le=5)
    # apigateway ingress: the header API Gateway's parameter mapping overwrites with the client's
    # address ($context.identity.sourceIp); only the VPC link reaches the internal ALB, so it is
    # trusted instead of X-Forwarded-For. Empty: X-Forwarded-For and APP_TRUSTED_PROXY_HOPS.
    client_address_header: str = Field(default="", pattern=r"^([A-Za-z0-9-]{1,64})?$")
    # A replica whose event loop has not turned for this long exits, so its supervisor restarts it
    # (0 turns the watchdog off); app/watchdog.py.
    event_loop_watchdog_seconds: float = Field(default=30.0, ge=0, le=3600)
    # A request that reached this replica this long after the load balancer received it is answered
    # 503 without being acted on: its client has given up (and may have repeated it elsewhere), so a
    # replica thawing from a freeze must not apply it late, over newer writes. app/edge.py.
    request_max_age_seconds: float = Field(default=10.0, gt=0, le=3600)
    # A request body not received whole within this long is answered 408 (slow uploads hold a
    # connection and a buffer otherwise).
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    user_cache_ttl_seconds: int = Field(default=300, ge=1, le=3600)
    max_header_bytes: int = Field(default=65536, ge=4096, le=1048576)

    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "aws_region"))
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL", "aws_endpoint_url")
    )

    def __init__(self, **values: Any) -> None:
        # A misspelt variable would otherwise leave its setting at the default without a word.
        known = {f"APP_{n.upper()}" for n, f in Settings.model_fields.items() if f.validation_alias is None}
        for name in sorted(k for k in os.environ if k.upper().startswith("APP_")):
            if name.upper() not in known | {"APP_HOST"}:  # APP_HOST: the listen address, app/__main__.py
                close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise SettingsError(f"unknown environment variable {name}: no setting reads it{hint}")
        super().__init__(**values)

    @field_validator("database_url", "redis_url")
    @classmethod
    def _url_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        allowed = {
            "database_url": ("postgresql://", "postgres://"),
            "redis_url": ("redis://", "rediss://"),
        }[str(info.field_name)]
        if not value.startswith(allowed):
            raise ValueError(f"must start with {' or '.join(allowed)}")
        return value

    def check(self, role: Literal["web", "worker"] = "web") -> None:
        """Refuse configurations that would run insecurely or cannot work at all.

        The worker needs neither Redis nor the JWT key, so it is not asked for them.
        """
        web = role == "web"
        if not (self.database_url or (self.database_host and self.database_secret_arn)):
            raise SettingsError("set APP_DATABASE_URL, or APP_DATABASE_HOST with APP_DATABASE_SECRET_ARN")
        if web and not self.redis_url:
            raise SettingsError("set APP_REDIS_URL (redis:// or rediss://)")
        if not self.s3_bucket:
            raise SettingsError("set APP_S3_BUCKET")
        if not self.sqs_queue_url:
            raise SettingsError("set APP_SQS_QUEUE_URL")
        if self.mode == "local" or not web:
            return
        # Cloud mode: every secret must come from somewhere real, never from a default.
        if not (self.jwt_kms_key_id or self.jwt_private_key or self.jwt_private_key_secret_arn):
            raise SettingsError(
                "APP_MODE=cloud needs APP_JWT_KMS_KEY_ID (or APP_JWT_PRIVATE_KEY_SECRET_ARN / APP_JWT_PRIVATE_KEY); "
                "a generated key is only allowed with APP_MODE=local"
            )
        if self.jwt_private_key is not None and self.jwt_private_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise SettingsError("APP_JWT_PRIVATE_KEY holds a placeholder, not a key")
        if self.database_url:
            from urllib.parse import urlsplit

            password = urlsplit(self.database_url).password
            if password is not None and password.lower() in PLACEHOLDER_SECRETS:
                raise SettingsError("APP_DATABASE_URL carries a default password; use APP_DATABASE_SECRET_ARN")
        if self.redis_url:
            from urllib.parse import urlsplit

            password = urlsplit(self.redis_url).password
            if password is not None and password.lower() in PLACEHOLDER_SECRETS:
                raise SettingsError("APP_REDIS_URL carries a default password; use APP_REDIS_AUTH_SECRET_ARN")

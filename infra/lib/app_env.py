"""The reference app's runtime configuration contract: the environment variables it reads.

This is the one place that knows the variable names. Every compute flavour (instances, pods,
functions) builds its environment from `app_environment`, so they cannot drift apart. Secrets are
never values here: the app receives Secrets Manager ARNs and resolves them itself at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

APP_ENV_KEYS = (
    "APP_MODE",
    "APP_DATABASE_HOST",
    "APP_DATABASE_PORT",
    "APP_DATABASE_NAME",
    "APP_DATABASE_SECRET_ARN",
    "APP_REDIS_URL",
    "APP_REDIS_AUTH_SECRET_ARN",
    "APP_S3_BUCKET",
    "APP_SQS_QUEUE_URL",
    "APP_JWT_PRIVATE_KEY_SECRET_ARN",
    "APP_JWT_ISSUER",
    "APP_JWT_AUDIENCE",
    "AWS_REGION",
)

SECRET_ARN_KEYS = frozenset(
    {"APP_DATABASE_SECRET_ARN", "APP_REDIS_AUTH_SECRET_ARN", "APP_JWT_PRIVATE_KEY_SECRET_ARN"}
)

_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")


@dataclass(frozen=True, kw_only=True)
class AppEndpoints:
    """Resolved (plain string) addresses of everything the app talks to."""

    region: str
    database_host: str
    database_port: int
    database_name: str
    database_secret_arn: str
    redis_host: str
    redis_port: int
    redis_auth_secret_arn: str
    bucket: str
    queue_url: str
    jwt_private_key_secret_arn: str
    jwt_issuer: str
    jwt_audience: str

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ("", None):
                raise ValueError(f"app endpoint {f.name} is empty")
        for name in ("database_secret_arn", "redis_auth_secret_arn", "jwt_private_key_secret_arn"):
            if not _SECRET_ARN.match(getattr(self, name)):
                raise ValueError(
                    f"{name} must be a Secrets Manager ARN (the app resolves it), got {getattr(self, name)!r}"
                )


def app_environment(endpoints: AppEndpoints) -> dict[str, str]:
    """The app's environment, keys in contract order."""
    e = endpoints
    env = {
        "APP_MODE": "cloud",
        "APP_DATABASE_HOST": e.database_host,
        "APP_DATABASE_PORT": str(e.database_port),
        "APP_DATABASE_NAME": e.database_name,
        "APP_DATABASE_SECRET_ARN": e.database_secret_arn,
        # rediss: ElastiCache only accepts TLS connections (transit encryption is always on).
        "APP_REDIS_URL": f"rediss://{e.redis_host}:{e.redis_port}",
        "APP_REDIS_AUTH_SECRET_ARN": e.redis_auth_secret_arn,
        "APP_S3_BUCKET": e.bucket,
        "APP_SQS_QUEUE_URL": e.queue_url,
        "APP_JWT_PRIVATE_KEY_SECRET_ARN": e.jwt_private_key_secret_arn,
        "APP_JWT_ISSUER": e.jwt_issuer,
        "APP_JWT_AUDIENCE": e.jwt_audience,
        "AWS_REGION": e.region,
    }
    assert tuple(env) == APP_ENV_KEYS
    return env


def env_file(env: dict[str, str]) -> str:
    """`KEY=value` lines for `docker run --env-file`; values with newlines cannot be expressed."""
    lines = []
    for key, value in env.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: an env-file value cannot contain a newline")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"

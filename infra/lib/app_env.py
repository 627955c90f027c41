"""The reference app's runtime configuration contract: the environment variables it reads.

This is the one place that knows the variable names. Every compute flavour (instances, pods,
functions) builds its environment from `app_environment`, so they cannot drift apart. Secrets are
never values here: the app receives Secrets Manager ARNs (and the KMS key it signs with) and resolves
them itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from infra.lib import limits

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
    "APP_JWT_KMS_KEY_ID",
    "APP_JWT_ISSUER",
    "APP_JWT_AUDIENCE",
    "AWS_REGION",
    "APP_PORT",
    "APP_KEEPALIVE_TIMEOUT_SECONDS",
    "APP_DATABASE_SSLMODE",
    "APP_DATABASE_SSLROOTCERT",
)

# Set only with ingressMode apigateway: the header API Gateway's integration overwrites with the client's
# address (infra/components/api.py, CLIENT_ADDRESS_HEADER), which the app then trusts for its abuse
# limits instead of X-Forwarded-For (whose last hop is the VPC link there). It follows the contract keys.
CLIENT_ADDRESS_KEY = "APP_CLIENT_ADDRESS_HEADER"

# The app's own least-privilege database role and the Redis AUTH token. The RDS master secret is never
# part of this map: only the migration runner receives it, as MASTER_SECRET_KEY.
SECRET_ARN_KEYS = frozenset({"APP_DATABASE_SECRET_ARN", "APP_REDIS_AUTH_SECRET_ARN"})
MASTER_SECRET_KEY = "APP_DATABASE_MASTER_SECRET_ARN"

# Where app/Dockerfile puts the RDS certificate bundle (all regions), so verify-full can check the server.
RDS_CA_BUNDLE = "/etc/ssl/certs/rds-global-bundle.pem"
DATABASE_SSLMODE = "verify-full"

# The ALB keeps idle connections to a target open for its idle timeout and reuses them; a target that
# closes first races the next request on that connection and the ALB answers 502. AWS asks for a target
# keep-alive longer than the load balancer's idle timeout:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout
KEEPALIVE_MARGIN_SECONDS = 5

_SECRET_ARN = limits.SECRET_ARN
_KMS_KEY_ARN = limits.KMS_KEY_ARN
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A key naming secret material is only acceptable as a pointer to Secrets Manager.
_SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL|AUTH_KEY", re.I)


def keepalive_timeout(idle_timeout_seconds: int) -> int:
    """The app's keep-alive for a load balancer with this idle timeout."""
    if idle_timeout_seconds < 1:
        raise ValueError(f"idle timeout must be ≥ 1 second, got {idle_timeout_seconds}")
    return idle_timeout_seconds + KEEPALIVE_MARGIN_SECONDS


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
    jwt_kms_key_id: str
    jwt_issuer: str
    jwt_audience: str
    app_port: int
    keepalive_timeout_seconds: int
    client_address_header: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ("", None) and f.name != "client_address_header":
                raise ValueError(f"app endpoint {f.name} is empty")
        for name in ("database_secret_arn", "redis_auth_secret_arn"):
            if not _SECRET_ARN.match(getattr(self, name)):
                raise ValueError(
                    f"{name} must be a Secrets Manager ARN (the app resolves it), got {getattr(self, name)!r}"
                )
        if not _KMS_KEY_ARN.match(self.jwt_kms_key_id):
            raise ValueError(f"jwt_kms_key_id must be a KMS key ARN (the app signs with it), "
                             f"got {self.jwt_kms_key_id!r}")
        if not 1024 <= self.app_port <= 65535:
            raise ValueError(f"app_port must be an unprivileged port, got {self.app_port}")
        if self.keepalive_timeout_seconds < 1:
            raise ValueError(f"keepalive_timeout_seconds must be ≥ 1, got {self.keepalive_timeout_seconds}")


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
        "APP_JWT_KMS_KEY_ID": e.jwt_kms_key_id,
        "APP_JWT_ISSUER": e.jwt_issuer,
        "APP_JWT_AUDIENCE": e.jwt_audience,
        "AWS_REGION": e.region,
        "APP_PORT": str(e.app_port),
        "APP_KEEPALIVE_TIMEOUT_SECONDS": str(e.keepalive_timeout_seconds),
        "APP_DATABASE_SSLMODE": DATABASE_SSLMODE,
        "APP_DATABASE_SSLROOTCERT": RDS_CA_BUNDLE,
    }
    assert tuple(env) == APP_ENV_KEYS
    if e.client_address_header:
        env[CLIENT_ADDRESS_KEY] = e.client_address_header
    return env


def env_file(env: dict[str, str]) -> str:
    """`KEY=value` lines for `docker run --env-file`; values with newlines cannot be expressed."""
    lines = []
    for key, value in env.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: an env-file value cannot contain a newline")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def check_environment(environment: Mapping[str, object], where: str) -> None:
    """Refuses environment maps that would carry a secret's value instead of its ARN."""
    for key, value in environment.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"{where}: {key!r} is not a valid environment variable name")
        if _SECRET_WORDS.search(key) and not key.upper().endswith("_ARN"):
            raise ValueError(
                f"{where}: {key} looks like a secret value; pass the secret's ARN in a *_ARN variable and let "
                "the app read it from Secrets Manager"
            )
        if isinstance(value, str) and ("-----BEGIN" in value or re.search(r"://[^/@\s]+:[^/@\s]+@", value)):
            raise ValueError(f"{where}: {key} carries key material or a password in a URL; use a secret ARN")

"""Configuration: what local mode allows, what cloud mode refuses, and secrets from Secrets Manager."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import AliasChoices, ValidationError

from app.keys import generate_private_key_pem
from app.runtime import aws_client, resolve_secrets
from app.settings import Settings, SettingsError

BASE: dict[str, Any] = {
    "database_url": "postgresql://app@db.internal:5432/app",
    "redis_url": "rediss://cache.internal:6379/0",
    "s3_bucket": "receipts",
    "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
}


def test_local_mode_runs_without_a_key_and_generates_one() -> None:
    settings = Settings(mode="local", **BASE)
    settings.check()
    secrets = resolve_secrets(settings)
    assert secrets.jwt_private_pem is not None and "PRIVATE KEY" in secrets.jwt_private_pem


def test_local_mode_uses_the_shared_key_it_is_given() -> None:
    pem = generate_private_key_pem()
    assert resolve_secrets(Settings(mode="local", jwt_private_key=pem, **BASE)).jwt_private_pem == pem


def test_cloud_is_the_default_and_refuses_a_missing_key() -> None:
    with pytest.raises(SettingsError, match="APP_JWT_PRIVATE_KEY_SECRET_ARN"):
        Settings(**BASE).check()


@pytest.mark.parametrize("placeholder", ["changeme", "secret", " "])
def test_cloud_refuses_a_placeholder_key(placeholder: str) -> None:
    with pytest.raises(SettingsError, match="placeholder"):
        Settings(mode="cloud", jwt_private_key=placeholder, **BASE).check()


def test_cloud_refuses_a_default_database_password() -> None:
    values = {**BASE, "database_url": "postgresql://app:postgres@db.internal/app"}
    with pytest.raises(SettingsError, match="APP_DATABASE_URL"):
        Settings(mode="cloud", jwt_private_key_secret_arn="arn:aws:secretsmanager:x", **values).check()


@pytest.mark.parametrize(
    ("missing", "message"),
    [("s3_bucket", "APP_S3_BUCKET"), ("sqs_queue_url", "APP_SQS_QUEUE_URL"), ("redis_url", "APP_REDIS_URL")],
)
def test_missing_endpoints_are_named(missing: str, message: str) -> None:
    values = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=message):
        Settings(mode="local", **values).check()


def test_database_needs_a_url_or_host_and_secret() -> None:
    values = {k: v for k, v in BASE.items() if k != "database_url"}
    with pytest.raises(SettingsError, match="APP_DATABASE_HOST"):
        Settings(mode="local", **values).check()
    Settings(mode="local", database_host="db", database_secret_arn="arn:x", **values).check()


def test_worker_needs_neither_redis_nor_a_jwt_key() -> None:
    values = {k: v for k, v in BASE.items() if k != "redis_url"}
    Settings(mode="cloud", **values).check(role="worker")


@pytest.mark.parametrize(("field", "value"), [("database_url", "mysql://x"), ("redis_url", "http://x")])
def test_url_schemes_are_checked(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="must start with"):
        Settings(mode="local", **{**BASE, field: value})


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_MODE", "local")
    monkeypatch.setenv("APP_INSTANCE_ID", "replica-7")
    monkeypatch.setenv("APP_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    settings = Settings()
    assert (settings.mode, settings.instance_id, settings.max_body_bytes) == ("local", "replica-7", 2048)
    assert (settings.aws_region, settings.aws_endpoint_url) == ("eu-west-1", "http://127.0.0.1:1")


@pytest.mark.services
def test_cloud_secrets_come_from_secrets_manager(moto: Any) -> None:
    settings = Settings(
        mode="cloud",
        database_host="db.internal",
        database_port=5432,
        database_name="app",
        database_secret_arn="placeholder",
        redis_url="rediss://cache.internal:6379/0",
        s3_bucket="receipts",
        sqs_queue_url="https://sqs.example/orders",
        aws_endpoint_url=moto.url,
        aws_region="us-east-1",
    )
    client = aws_client(settings, "secretsmanager")
    pem = generate_private_key_pem()
    db_arn = client.create_secret(
        Name="db-app", SecretString=json.dumps({"username": "app", "password": "p@ss/w:rd"})
    )["ARN"]
    redis_arn = client.create_secret(Name="redis-auth", SecretString="token-with-32-characters-or-more!")["ARN"]
    jwt_arn = client.create_secret(Name="jwt-key", SecretString=pem)["ARN"]
    settings = settings.model_copy(
        update={
            "database_secret_arn": db_arn,
            "redis_auth_secret_arn": redis_arn,
            "jwt_private_key_secret_arn": jwt_arn,
        }
    )
    secrets = resolve_secrets(settings, client)
    # Where to connect, with TLS verified; who and with which password comes from the secret at each
    # new connection (and never sits in the connection string).
    assert secrets.database_conninfo == "host=db.internal port=5432 dbname=app sslmode=verify-full"
    assert secrets.database_credentials is not None
    assert secrets.database_credentials.current() == ("app", "p@ss/w:rd")
    assert secrets.redis_url == "rediss://:token-with-32-characters-or-more%21@cache.internal:6379/0"
    assert secrets.jwt_private_pem == pem

    bad_arn = client.create_secret(Name="db-bad", SecretString="not json")["ARN"]
    with pytest.raises(SettingsError, match="username and password"):
        resolve_secrets(settings.model_copy(update={"database_secret_arn": bad_arn}), client)
    with pytest.raises(SettingsError, match="APP_REDIS_AUTH_SECRET_ARN"):
        resolve_secrets(
            settings.model_copy(
                update={"redis_auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"}
            ),
            client,
        )


def test_cloud_accepts_a_kms_signing_key_and_asks_for_it_by_name() -> None:
    with pytest.raises(SettingsError, match="APP_JWT_KMS_KEY_ID"):
        Settings(**BASE).check()
    Settings(jwt_kms_key_id="1234abcd-12ab-34cd-56ef-1234567890ab", **BASE).check()


def test_secure_defaults_for_the_database_connection_and_keepalive() -> None:
    settings = Settings(**BASE)
    # Cloud: TLS with the server's certificate checked against the RDS CA bundle.
    assert settings.database_sslmode == "verify-full"
    # Longer than the ALB's default idle timeout of 60 s.
    assert settings.keepalive_timeout_seconds == 65
    assert settings.port == 8000
    with pytest.raises(ValueError, match="database_sslmode"):
        Settings(database_sslmode="prefer", **BASE)


def test_the_database_secret_must_carry_username_and_password(moto: Any) -> None:
    sm = aws_client(Settings(aws_endpoint_url=moto.url), "secretsmanager")
    arn = sm.create_secret(Name=f"t/{uuid.uuid4().hex}", SecretString=json.dumps({"username": "app"}))["ARN"]
    values = {k: v for k, v in BASE.items() if k != "database_url"}
    settings = Settings(
        mode="local", database_host="db.internal", database_secret_arn=arn, aws_endpoint_url=moto.url, **values
    )
    with pytest.raises(SettingsError, match="APP_DATABASE_SECRET_ARN must be JSON with username and password"):
        resolve_secrets(settings)


# ---------------------------------------------------------------- what infra writes is what the app reads

_INFRA_ENDPOINTS = {
    "region": "eu-west-1",
    "database_host": "db.example.internal",
    "database_port": 5432,
    "database_name": "app",
    "database_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf",
    "redis_host": "master.cache.example.internal",
    "redis_port": 6379,
    "redis_auth_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redis-AbCdEf",
    "bucket": "receipts",
    "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
    "jwt_kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "jwt_issuer": "https://issuer.example.com",
    "jwt_audience": "stateless-app",
    "app_port": 8080,
    "keepalive_timeout_seconds": 65,
}
# Another valid value for every variable whose value is not a number or a free string.
_OTHER_VALUE = {"APP_MODE": "local", "APP_DATABASE_SSLMODE": "require"}


def _infra_environment() -> dict[str, str]:
    from infra.components.api import CLIENT_ADDRESS_HEADER
    from infra.lib import app_env

    endpoints = {**_INFRA_ENDPOINTS, "client_address_header": CLIENT_ADDRESS_HEADER}  # the apigateway shape
    env = app_env.app_environment(app_env.AppEndpoints(**endpoints))  # type: ignore[arg-type]
    # The migration runner's one extra variable.
    env[app_env.MASTER_SECRET_KEY] = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-AbCdEf"
    return env


def _field_of(variable: str) -> str:
    """The Settings field that the environment variable sets (pydantic-settings' own lookup)."""
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = set(alias.choices) if isinstance(alias, AliasChoices) else {f"APP_{name}"}
        if variable.upper() in {str(n).upper() for n in names}:
            return name
    raise AssertionError(f"{variable}: no Settings field reads it")


def _settings_from(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_every_variable_infra_writes_maps_to_a_setting_and_changes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.lib import app_env

    env = _infra_environment()
    assert set(app_env.APP_ENV_KEYS) < set(env)
    base = _settings_from(monkeypatch, env).model_dump()
    for key, value in env.items():
        field = _field_of(key)
        assert str(base[field]) == value, f"{key}={value!r} was read as {field}={base[field]!r}"
        other = _OTHER_VALUE.get(key) or (str(int(value) + 1) if value.isdigit() else value + "-2")
        changed = _settings_from(monkeypatch, {**env, key: other}).model_dump()
        differing = {name for name in base if base[name] != changed[name] and name != "instance_id"}
        assert differing == {field}, f"changing {key} changed {sorted(differing)}"
    monkeypatch.setenv("APP_INSTANCE_ID", "replica-7")
    _settings_from(monkeypatch, env).check()  # what infra writes is a complete cloud configuration


def test_an_unknown_app_variable_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_REDIS_URI", "rediss://cache.internal:6379")
    expected = r"unknown environment variable APP_REDIS_URI: .*did you mean APP_REDIS_URL\?"
    with pytest.raises(SettingsError, match=expected):
        Settings(**BASE)
    monkeypatch.delenv("APP_REDIS_URI")
    monkeypatch.setenv("APP_NOTHING_LIKE_IT", "1")
    with pytest.raises(SettingsError, match=r"^unknown environment variable APP_NOTHING_LIKE_IT: no setting reads it$"):
        Settings(**BASE)


def test_the_listen_address_and_every_setting_are_known_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # APP_HOST is read by `python -m app` (and set by the image), not by Settings.
    monkeypatch.setenv("APP_HOST", "0.0.0.0")  # noqa: S104 - a value, nothing listens
    for name, field in Settings.model_fields.items():
        if field.validation_alias is None:
            monkeypatch.setenv(f"APP_{name.upper()}", "x")
    with pytest.raises(ValidationError) as caught:  # the values are wrong; the names are all known
        Settings()
    assert "unknown environment variable" not in str(caught.value)

"""The app's environment contract: every variable, secrets only as ARNs."""

import dataclasses

import pytest

from infra.lib import app_env

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}"


def endpoints(**changes: object) -> app_env.AppEndpoints:
    base = {
        "region": "us-east-1",
        "database_host": "db.example.internal",
        "database_port": 5432,
        "database_name": "app",
        "database_secret_arn": SECRET.format("rds!db"),
        "redis_host": "master.cache.example.internal",
        "redis_port": 6379,
        "redis_auth_secret_arn": SECRET.format("redis"),
        "bucket": "bucket",
        "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        "jwt_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "jwt_issuer": "https://issuer.example.com",
        "jwt_audience": "stateless-app",
        "app_port": 8080,
        "keepalive_timeout_seconds": 65,
    }
    base.update(changes)
    return app_env.AppEndpoints(**base)  # type: ignore[arg-type]


def test_environment_has_exactly_the_contract_keys() -> None:
    env = app_env.app_environment(endpoints())
    assert tuple(env) == app_env.APP_ENV_KEYS
    assert env["APP_MODE"] == "cloud"
    assert env["APP_REDIS_URL"] == "rediss://master.cache.example.internal:6379"
    assert env["APP_DATABASE_PORT"] == "5432"
    assert all(env[k].startswith("arn:aws:secretsmanager:") for k in app_env.SECRET_ARN_KEYS)
    assert app_env.MASTER_SECRET_KEY not in env
    assert env["APP_JWT_KMS_KEY_ID"].startswith("arn:aws:kms:")
    assert "APP_JWT_PRIVATE_KEY_SECRET_ARN" not in env
    assert (env["APP_PORT"], env["APP_KEEPALIVE_TIMEOUT_SECONDS"]) == ("8080", "65")
    assert env["APP_DATABASE_SSLMODE"] == "verify-full"
    assert env["APP_DATABASE_SSLROOTCERT"] == "/etc/ssl/certs/rds-global-bundle.pem"


@pytest.mark.parametrize("field", ["database_secret_arn", "redis_auth_secret_arn"])
def test_a_secret_value_instead_of_an_arn_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match="Secrets Manager ARN"):
        endpoints(**{field: "hunter2-plaintext"})


def test_the_signing_key_must_be_a_kms_key_arn() -> None:
    with pytest.raises(ValueError, match="KMS key ARN"):
        endpoints(jwt_kms_key_id="-----BEGIN PRIVATE KEY-----")


def test_keepalive_outlasts_the_load_balancer_idle_timeout() -> None:
    assert app_env.keepalive_timeout(60) == 65
    assert app_env.keepalive_timeout(300) == 305
    with pytest.raises(ValueError):
        app_env.keepalive_timeout(0)


# The client address header is empty unless the stack sits behind API Gateway.
@pytest.mark.parametrize(
    "field", [f.name for f in dataclasses.fields(app_env.AppEndpoints) if f.name != "client_address_header"]
)
def test_empty_values_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        endpoints(**{field: ""})


def test_env_file_lines_and_newline_refusal() -> None:
    assert app_env.env_file({"A": "1", "B": "x y"}) == "A=1\nB=x y\n"
    with pytest.raises(ValueError, match="newline"):
        app_env.env_file({"A": "1\nB=2"})


def test_the_client_address_header_is_set_only_behind_api_gateway() -> None:
    from infra.components.api import CLIENT_ADDRESS_HEADER

    assert app_env.CLIENT_ADDRESS_KEY not in app_env.app_environment(endpoints())
    env = app_env.app_environment(endpoints(client_address_header=CLIENT_ADDRESS_HEADER))
    assert env[app_env.CLIENT_ADDRESS_KEY] == "x-client-source-ip"
    # The contract keys come first, in their order; the optional key follows them.
    assert tuple(env)[: len(app_env.APP_ENV_KEYS)] == app_env.APP_ENV_KEYS
    assert list(env)[len(app_env.APP_ENV_KEYS):] == [app_env.CLIENT_ADDRESS_KEY]

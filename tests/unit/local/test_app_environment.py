"""What a replica and the worker are given by the local environment: the cloud's contract, with the
database password and the signing key left out (the app reads the one from Secrets Manager and signs
with the other in KMS)."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings
from local import app_process, haproxy, moto
from local.service import Service


def environment() -> dict[str, str]:
    postgres = Service(
        name="postgres", port=5999, url="postgresql://postgres:master-pw@127.0.0.1:5999/app",
        base_dir=Path("/nonexistent"), log_path=Path("/nonexistent/log"), _launch=lambda: None,  # type: ignore[arg-type,return-value]
    )  # fmt: skip
    return app_process.app_environment(
        instance_id="replica-1",
        postgres=postgres,
        redis_url="redis://127.0.0.1:6999/0",
        moto_url="http://127.0.0.1:7999",
        resources=moto.AwsResources("bucket", "http://q", "http://dlq", 3),
        cloud=moto.CloudSecrets(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:master",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        lb_url="http://127.0.0.1:8999",
        inherited={"PATH": "/usr/bin", "APP_DATABASE_URL": "postgresql://leak", "SECRET_THING": "x"},
    )


def test_the_app_gets_secret_references_never_secrets():
    values = environment()
    assert values["APP_DATABASE_SECRET_ARN"].endswith(":secret:app")
    assert values["APP_JWT_KMS_KEY_ID"]
    for absent in ("APP_DATABASE_URL", "APP_DATABASE_MASTER_SECRET_ARN", "APP_JWT_PRIVATE_KEY", "SECRET_THING"):
        assert absent not in values
    assert not any("master-pw" in value or "PRIVATE KEY" in value for value in values.values())
    settings = Settings(**{k[4:].lower(): v for k, v in values.items() if k.startswith("APP_")})
    assert (settings.database_host, settings.database_port, settings.database_name) == ("127.0.0.1", 5999, "app")
    assert settings.database_sslmode == "disable"


def test_the_apps_keepalive_outlasts_the_load_balancers_idle_timeout():
    values = environment()
    idle = haproxy.stack_idle_timeout()
    assert int(values["APP_KEEPALIVE_TIMEOUT_SECONDS"]) == idle + 5
    assert Settings().keepalive_timeout_seconds > idle


def test_each_replica_listens_on_its_own_port_from_app_port():
    replica = app_process.replica_environment(environment(), "replica-2", 41234)
    assert replica["APP_PORT"] == "41234" and replica["APP_INSTANCE_ID"] == "replica-2"
    assert "--port" not in app_process.replica_command()

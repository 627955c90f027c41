"""The app's processes in the local environment: web replicas, the worker and the migration run.

Each gets the app's whole configuration from its environment (12-factor, nothing on disk), built by
`app_environment` the way infra writes it for the cloud; a replica is ready when GET /readyz answers
200 (`probe.ready`), the worker when it survives its start-up.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from local import haproxy, moto, probe, procs
from local.service import Service, ServiceError, launch_on_port

REPO_ROOT = Path(__file__).resolve().parent.parent
JWT_AUDIENCE = "stateless-stack-api"
DATABASE_NAME = "app"
# Variables a replica inherits from the caller; everything else it gets is set explicitly here.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV")


def replica_command() -> list[str]:
    """How to run one web replica: the app's own entry point, its port and keep-alive from the
    environment (APP_PORT, APP_KEEPALIVE_TIMEOUT_SECONDS) as in the cloud."""
    return [sys.executable, "-m", "app", "--host", "127.0.0.1"]


def replica_environment(env: Mapping[str, str], instance_id: str, port: int) -> dict[str, str]:
    return {**env, "APP_INSTANCE_ID": instance_id, "APP_PORT": str(port)}


def worker_command() -> list[str]:
    # A short long-poll keeps SIGTERM prompt: the worker finishes its current poll before it stops.
    return [sys.executable, "-m", "app.worker", "--wait-seconds", "2"]


def app_environment(
    *,
    instance_id: str,
    postgres: Service,
    redis_url: str,
    moto_url: str,
    resources: moto.AwsResources,
    cloud: moto.CloudSecrets,
    lb_url: str,
    inherited: Mapping[str, str],
) -> dict[str, str]:
    """The environment of a replica or the worker: the app's whole configuration, nothing on disk. The
    database password and the signing key are not in it: the app reads the one from Secrets Manager and
    signs with the other in KMS, as in the cloud."""
    env = {key: inherited[key] for key in _INHERITED if key in inherited}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            # The app writes nothing to disk, not even bytecode caches.
            "PYTHONDONTWRITEBYTECODE": "1",
            "APP_MODE": "local",
            "APP_INSTANCE_ID": instance_id,
            "APP_DATABASE_HOST": "127.0.0.1",
            "APP_DATABASE_PORT": str(postgres.port),
            "APP_DATABASE_NAME": DATABASE_NAME,
            "APP_DATABASE_SECRET_ARN": cloud.database_secret_arn,
            # Loopback; the cloud uses verify-full with the RDS CA bundle.
            "APP_DATABASE_SSLMODE": "disable",
            "APP_REDIS_URL": redis_url,
            "APP_S3_BUCKET": resources.bucket,
            "APP_SQS_QUEUE_URL": resources.queue_url,
            "APP_SQS_DLQ_URL": resources.dlq_url,
            "APP_SQS_MAX_RECEIVE_COUNT": str(resources.max_receive_count),
            "APP_JWT_KMS_KEY_ID": cloud.jwt_kms_key_id,
            "APP_JWT_ISSUER": lb_url,
            "APP_JWT_AUDIENCE": JWT_AUDIENCE,
            # The load balancer, never the app, closes idle connections (as infra sets it from the
            # stack's ALB idle timeout).
            "APP_KEEPALIVE_TIMEOUT_SECONDS": str(haproxy.app_keepalive_for(haproxy.stack_idle_timeout())),
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_REGION": moto.AWS_REGION,
            "AWS_DEFAULT_REGION": moto.AWS_REGION,
            **moto.AWS_TEST_CREDENTIALS,
        }
    )
    return env


def run_migrations(env: Mapping[str, str], master_secret_arn: str, state_dir: Path, timeout: float) -> None:
    """`python -m app migrate` with the master secret, as the cloud's migration runner does before any
    replica starts: the schema, and the app's own role with the password from its secret."""
    log_path = state_dir / "logs" / "migrate.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        result = subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            env={**env, "APP_INSTANCE_ID": "migrate", "APP_DATABASE_MASTER_SECRET_ARN": master_secret_arn},
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise ServiceError(f"migrate: `python -m app migrate` exited {result.returncode}\n{procs.tail(log_path)}")


def app_process(
    name: str, argv: list[str], env: Mapping[str, str], state_dir: Path, *, url: str | None, timeout: float
) -> Service:
    """A replica (url given: ready when /readyz answers 200) or the worker (ready when it stays up)."""
    log_path = state_dir / "logs" / f"{name}.log"
    port = int(url.rsplit(":", 1)[1]) if url else None

    def started() -> Callable[[], bool]:
        if url:
            return lambda: probe.ready(url)
        # The worker has no port; surviving its start-up (imports, settings, first connect) is the sign.
        settle = time.monotonic() + 1.5
        return lambda: time.monotonic() >= settle

    def launch() -> subprocess.Popen[bytes]:
        return launch_on_port(name, port, argv, log_path=log_path, env=env, cwd=REPO_ROOT, ready=started(),
                              timeout=timeout)

    return Service(name=name, port=port or 0, url=url or "", base_dir=state_dir, log_path=log_path, _launch=launch)

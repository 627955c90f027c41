"""Fixtures for the app tests: real PostgreSQL, Redis and moto (S3 + SQS) started for the session.

Isolation: every module gets its own database, every test that counts messages its own bucket and
queues, and every test its own users (so carts never collide in the shared Redis).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from app.keys import generate_private_key_pem
from app.settings import Settings
from local import services
from tests.app.support import AppServer

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": services.AWS_REGION,
}


def _start(starter: Callable[..., services.Service], base: Path, **kwargs: Any) -> services.Service:
    """Start a service, trying once more on failure: on a busy machine a free port found a moment
    ago can be taken by another process before the server binds it."""
    try:
        return starter(base, **kwargs)
    except services.ServiceError as exc:
        sys.stderr.write(f"service start failed, retrying once: {exc}\n")
        return starter(base / "retry", **kwargs)


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def postgres(services_dir: Path) -> Iterator[services.Service]:
    service = _start(services.start_postgres, services_dir, durable=False)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis_service(services_dir: Path) -> Iterator[services.Service]:
    service = _start(services.start_redis, services_dir)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """A Redis for tests that need nothing else (marked `redis`): the one at TEST_REDIS_URL when
    set (bench.mutation starts one for a whole mutation run instead of one per mutant), else the
    session's own. Tests that stop or proxy Redis use `redis_service`, which is always their own."""
    return os.environ.get("TEST_REDIS_URL") or request.getfixturevalue("redis_service").url


@pytest.fixture(scope="session")
def moto(services_dir: Path) -> Iterator[services.Service]:
    saved = {key: os.environ.get(key) for key in AWS_ENV}
    os.environ.update(AWS_ENV)
    service = _start(services.start_moto, services_dir)
    yield service
    service.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def make_database(postgres: services.Service) -> Callable[[], str]:
    """Creates an empty database owned by the app role; returns its URL."""

    def create() -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            host=postgres.details["socket_dir"],
            port=postgres.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER app").format(sql.Identifier(name)))
        return postgres.url.rsplit("/", 1)[0] + f"/{name}"

    return create


@pytest.fixture(scope="session")
def jwt_pem() -> str:
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def make_aws(moto: services.Service) -> Callable[..., services.AwsResources]:
    def create(**kwargs: Any) -> services.AwsResources:
        suffix = uuid.uuid4().hex[:10]
        kwargs.setdefault("bucket", f"receipts-{suffix}")
        kwargs.setdefault("queue", f"orders-{suffix}")
        return services.create_aws_resources(moto.url, **kwargs)

    return create


@pytest.fixture(scope="session")
def make_settings(redis_service: services.Service, moto: services.Service, jwt_pem: str) -> Callable[..., Settings]:
    def build(database_url: str, aws: services.AwsResources, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "mode": "local",
            "instance_id": f"test-{uuid.uuid4().hex[:6]}",
            "database_url": database_url,
            "database_pool_size": 4,
            "redis_url": redis_service.url,
            "s3_bucket": aws.bucket,
            "sqs_queue_url": aws.queue_url,
            "sqs_dlq_url": aws.dlq_url,
            "jwt_private_key": jwt_pem,
            "aws_endpoint_url": moto.url,
            "aws_region": services.AWS_REGION,
            "outbox_relay_interval_seconds": 0.5,
            # Every test client comes from 127.0.0.1 and registers and logs in many users: the
            # per-address limits are tested with their own settings (tests/app/test_login_throttle.py).
            "registration_max_per_address": 100_000,
            "login_max_successes_per_address": 100_000,
            "login_failures_before_address_delay": 100_000,
            # The app runs in the test process: a watchdog exit would end the whole run
            # (tests/app/test_watchdog.py starts one on purpose).
            "event_loop_watchdog_seconds": 0,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture(scope="module")
def module_db(make_database: Callable[[], str]) -> str:
    return make_database()


@pytest.fixture(scope="module")
def module_aws(make_aws: Callable[..., services.AwsResources]) -> services.AwsResources:
    return make_aws()


@pytest.fixture(scope="module")
def server(
    module_db: str, module_aws: services.AwsResources, make_settings: Callable[..., Settings]
) -> Iterator[AppServer]:
    """One app for the module; tests keep to their own users."""
    with AppServer(make_settings(module_db, module_aws)) as app_server:
        yield app_server


@pytest.fixture
def client(server: AppServer) -> Any:
    return server.client

"""The local environment's building blocks on real services: restartable stores, the AWS resources on
moto, clear errors for missing packages, and an `up` that fails cleans up after itself."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from local import app_process, env, moto, postgres, procs
from local import redis as redis_server
from local.service import Service, ServiceError, require_binary

pytestmark = pytest.mark.services


def processes_mentioning(base_dir: Path) -> list[str]:
    """Live processes whose command line names base_dir or its PostgreSQL cluster (which may live
    elsewhere when the postgres user cannot reach base_dir): nothing else names those."""
    needles = {str(base_dir), str((base_dir / "postgres").resolve())}
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and procs.is_running(int(entry.name)):
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(n in cmdline for n in needles) and int(entry.name) != os.getpid():
                found.append(f"{entry.name}: {cmdline}")
    return found


def test_postgres_keeps_committed_rows_through_a_sigkill_restart(tmp_path: Path):
    with postgres.start_postgres(tmp_path) as pg:
        assert pg.url.startswith("postgresql://app:app@127.0.0.1:")
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
            conn.execute("INSERT INTO orders VALUES (1), (2)")
        first_pid, port = pg.pid, pg.port
        assert processes_mentioning(tmp_path)  # the scan used below does find live services
        pg.restart(kill=True)
        assert pg.pid != first_pid
        assert pg.port == port
        assert not procs.is_running(first_pid)
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT count(*) FROM orders").fetchone() == (2,)
            # Only loopback: the server reports the address it listens on.
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        if os.geteuid() == 0:
            data = Path(pg.details["data_dir"])
            assert data.stat().st_uid != 0, "PostgreSQL must not run as root"
        group = pg.pid
    assert procs.group_members(group) == []


def test_redis_restarts_on_its_port_and_keeps_nothing_on_disk(tmp_path: Path):
    with redis_server.start_redis(tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("cart:1", "x")
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        server.restart()
        assert client.get("cart:1") is None
        client.close()
    assert list((tmp_path / "redis").iterdir()) == []


def test_moto_gets_the_bucket_queue_and_dead_letter_queue_again_after_a_restart(tmp_path: Path):
    with moto.start_moto(tmp_path) as server:
        resources = moto.provision_aws(server, max_receive_count=4)
        server.restart()
        sqs = moto.aws_client("sqs", server.url)
        attributes = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        dlq_arn = sqs.get_queue_attributes(QueueUrl=resources.dlq_url, AttributeNames=["QueueArn"])["Attributes"]
        assert redrive == {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 4}
        s3 = moto.aws_client("s3", server.url)
        assert s3.head_bucket(Bucket=resources.bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_bad_redrive_limit_is_refused():
    with pytest.raises(ValueError, match="max_receive_count must be at least 1"):
        moto.create_aws_resources("http://127.0.0.1:1", max_receive_count=0)


def test_missing_packages_name_the_install_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(postgres, "POSTGRES_GLOB", str(tmp_path / "nowhere" / "*" / "bin" / "postgres"))
    with pytest.raises(ServiceError, match=r"apt-get install postgresql"):
        postgres.start_postgres(tmp_path)
    with pytest.raises(ServiceError, match=r"no-such-server is not installed: run `apt-get install pkg`"):
        require_binary("no-such-server", "pkg")


@pytest.fixture
def running_redis(tmp_path: Path):
    with redis_server.start_redis(tmp_path / "taken") as server:
        yield server


def test_a_second_server_on_a_taken_port_is_refused(tmp_path: Path, running_redis: Service):
    with pytest.raises(ServiceError, match=f"port {running_redis.port} on 127.0.0.1 is already in use"):
        redis_server.start_redis(tmp_path / "b", port=running_redis.port)


def test_a_failed_up_says_which_part_failed_and_stops_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    broken = [sys.executable, "-c", "import sys; sys.exit('replica cannot start: no such module')"]
    monkeypatch.setattr(app_process, "replica_command", lambda: broken)
    state_dir = tmp_path / "state"
    with pytest.raises(env.UpError, match=r"replicas failed: .*replica-1 exited before it was ready") as failure:
        env.up(replicas=2, state_dir=state_dir, durable=False)
    assert "replica cannot start: no such module" in str(failure.value)
    assert not (state_dir / "run.json").exists()
    assert processes_mentioning(state_dir) == []


def test_up_refuses_a_taken_port_before_starting_anything(tmp_path: Path, running_redis: Service):
    with pytest.raises(env.UpError, match=f"port {running_redis.port} on 127.0.0.1 is already in use"):
        env.up(port=running_redis.port, state_dir=tmp_path / "state")
    assert not (tmp_path / "state" / "postgres").exists()

"""`down` signals only the processes `up` recorded, and only while they are still those processes."""

import subprocess
import sys
from dataclasses import replace

import pytest

from local import env, procs, runinfo
from local.runinfo import Replica, RunInfo


@pytest.fixture
def bystander():
    """A live process that `down` must never touch."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def run_with(pid: int, identities) -> RunInfo:
    return RunInfo(
        lb_url="http://127.0.0.1:1",
        replicas=(Replica("replica-1", pid, "http://127.0.0.1:2"),),
        worker_pid=pid,
        services={name: {"pid": pid, "url": "http://127.0.0.1:3"} for name in ("redis", "postgres", "moto", "haproxy")},
        identities=identities,
    )


def test_a_recycled_pid_is_left_alone(tmp_path, bystander):
    real = procs.identify(bystander.pid)
    recycled = replace(real, start_ticks=real.start_ticks - 1)
    run = run_with(bystander.pid, {role: recycled for role in ("replica-1", "worker", *runinfo.SERVICE_NAMES)})
    runinfo.write(tmp_path, run)
    report = env.down(state_dir=tmp_path)
    assert all("now belongs to another process; left alone" in line for line in report), report
    assert procs.is_running(bystander.pid)
    assert not (tmp_path / "run.json").exists()


def test_a_pid_without_a_record_is_left_alone(tmp_path, bystander):
    runinfo.write(tmp_path, run_with(bystander.pid, {}))
    report = env.down(state_dir=tmp_path)
    assert all("left alone (no record" in line for line in report), report
    assert procs.is_running(bystander.pid)


def test_the_recorded_process_is_stopped_and_down_is_safe_twice(tmp_path, bystander):
    identity = procs.identify(bystander.pid)
    run = run_with(bystander.pid, {"replica-1": identity})
    runinfo.write(tmp_path, run)
    report = env.down(state_dir=tmp_path, timeout=5)
    assert f"replica-1: stopped (pid {bystander.pid})" in report
    bystander.wait(timeout=5)
    assert not procs.is_running(bystander.pid)
    assert env.down(state_dir=tmp_path) == ["nothing to stop (no run.json)"]


def test_up_refuses_while_a_recorded_process_runs(tmp_path, bystander):
    identity = procs.identify(bystander.pid)
    runinfo.write(tmp_path, run_with(bystander.pid, {"worker": identity}))
    with pytest.raises(env.AlreadyUpError, match="already up at http://127.0.0.1:1 .*worker"):
        env.up(state_dir=tmp_path)


def test_up_refuses_bad_arguments_before_starting_anything(tmp_path):
    with pytest.raises(ValueError, match="--replicas must be between 1 and 32"):
        env.up(replicas=0, state_dir=tmp_path)
    with pytest.raises(ValueError, match="--port must be between 1024 and 65535"):
        env.up(port=80, state_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []

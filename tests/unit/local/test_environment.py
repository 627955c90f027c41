"""The running-environment handle's own logic, without starting anything."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from local.environment import LocalEnvironment
from local.runinfo import Replica, RunInfo


class Recording(LocalEnvironment):
    def restart_replica(self, replica_id: str, sig: int = signal.SIGTERM) -> None:
        self.restarted.append((replica_id, sig))

    restarted: list[tuple[str, int]]


def handle(tmp_path: Path, app_env: dict[str, str] | None = None) -> Recording:
    run = RunInfo(
        lb_url="http://127.0.0.1:1",
        replicas=tuple(Replica(id=f"replica-{i}", pid=100 + i, url=f"http://127.0.0.1:{2000 + i}") for i in (1, 2)),
        worker_pid=99,
        services={},
        app_env=app_env,
    )
    env = Recording(run, tmp_path)
    env.restarted = []
    return env


def test_a_rolling_restart_takes_one_replica_at_a_time_and_waits_for_each(tmp_path: Path) -> None:
    env = handle(tmp_path)
    waited: list[str] = []

    def back(replica_id: str, since: float) -> None:
        assert env.restarted[-1][0] == replica_id  # the wait follows that replica's restart
        waited.append(replica_id)

    out = env.rolling_restart(back)
    assert env.restarted == [("replica-1", signal.SIGTERM), ("replica-2", signal.SIGTERM)]
    assert waited == ["replica-1", "replica-2"] and set(out) == {"replica-1", "replica-2"}


def test_a_replica_that_does_not_come_back_fails_with_haproxys_server_states(tmp_path: Path) -> None:
    env = handle(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "haproxy.log").write_text("noise\nServer app/replica-1 is DOWN\nmore noise\n")

    def never(replica_id: str, since: float) -> None:
        raise TimeoutError(f"{replica_id} never served again")

    with pytest.raises(TimeoutError, match=r"(?s)replica-1 never served again.*replica-1 is DOWN") as failure:
        env.rolling_restart(never)
    assert "noise" not in str(failure.value)
    assert env.restarted == [("replica-1", signal.SIGTERM)]


def test_the_app_environment_is_only_what_up_recorded(tmp_path: Path) -> None:
    assert handle(tmp_path, {"APP_MODE": "local"}).app_env("x") == {"APP_MODE": "local", "APP_INSTANCE_ID": "x"}
    with pytest.raises(RuntimeError, match="does not record the app's environment"):
        handle(tmp_path).app_env()

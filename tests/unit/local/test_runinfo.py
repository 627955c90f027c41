"""run.json: exactly the documented shape, read back identically, malformed files refused clearly."""

import json

import pytest

from local import runinfo
from local.procs import Identity
from local.runinfo import Replica, RunFileError, RunInfo


def sample() -> RunInfo:
    return RunInfo(
        lb_url="http://127.0.0.1:8080",
        replicas=(
            Replica("replica-1", 1001, "http://127.0.0.1:9001"),
            Replica("replica-2", 1002, "http://127.0.0.1:9002"),
        ),
        worker_pid=1003,
        services={
            "redis": {"url": "redis://127.0.0.1:6379/0", "pid": 1004},
            "postgres": {"url": "postgresql://app:app@127.0.0.1:5432/app", "pid": 1005},
            "moto": {"url": "http://127.0.0.1:5000", "pid": 1006, "bucket": "b", "queue_url": "q"},
            "haproxy": {"pid": 1007},
        },
        identities={"replica-1": Identity(1001, 555, ("python", "-m", "app"))},
        app_env={"APP_JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"},
    )


def test_documented_shape_exactly():
    data = sample().to_json()
    assert set(data) == {"lb_url", "replicas", "worker", "services"}
    assert all(set(r) == {"id", "pid", "url"} for r in data["replicas"])
    assert set(data["worker"]) == {"pid"}
    assert set(data["services"]) == {"redis", "postgres", "moto", "haproxy"}
    for name in ("redis", "postgres", "moto"):
        assert {"url", "pid"} <= set(data["services"][name])
    assert "pid" in data["services"]["haproxy"]


def test_round_trip_through_the_state_directory(tmp_path):
    run = sample()
    path = runinfo.write(tmp_path, run)
    assert path == tmp_path / "run.json"
    back = runinfo.read(tmp_path)
    assert back == run
    assert back.identities == run.identities
    assert back.pids() == {
        "replica-1": 1001,
        "replica-2": 1002,
        "worker": 1003,
        "redis": 1004,
        "postgres": 1005,
        "moto": 1006,
        "haproxy": 1007,
    }


def test_the_signing_key_never_reaches_disk(tmp_path):
    runinfo.write(tmp_path, sample())
    for path in tmp_path.iterdir():
        assert "PRIVATE KEY" not in path.read_text(), path
    assert runinfo.read(tmp_path).app_env is None


def test_missing_file_means_not_up(tmp_path):
    assert runinfo.read(tmp_path) is None


def test_remove_is_idempotent(tmp_path):
    runinfo.write(tmp_path, sample())
    runinfo.remove(tmp_path)
    runinfo.remove(tmp_path)
    assert runinfo.read(tmp_path) is None
    assert not (tmp_path / "processes.json").exists()


def broken(mutate):
    data = sample().to_json()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        (broken(lambda d: d.pop("lb_url")), "missing field 'lb_url'"),
        (broken(lambda d: d["replicas"][0].pop("url")), r"replicas\[0\]: missing field 'url'"),
        (broken(lambda d: d["replicas"][1].update(pid="12")), r"replicas\[1\]: field 'pid' must be a int"),
        (broken(lambda d: d["replicas"][0].update(pid=True)), "must be a int"),
        (broken(lambda d: d["worker"].update(pid=1)), "pid 1 is not a process"),
        (broken(lambda d: d["services"].pop("redis")), "services.redis is missing"),
        (broken(lambda d: d["services"]["postgres"].pop("url")), "services.postgres: missing field 'url'"),
    ],
)
def test_malformed_run_file_is_refused_with_the_field_named(data, message):
    with pytest.raises(RunFileError, match=message):
        RunInfo.from_json(data)


def test_unparsable_files_are_named(tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(RunFileError, match="run.json is not valid JSON"):
        runinfo.read(tmp_path)
    runinfo.write(tmp_path, sample())
    (tmp_path / "processes.json").write_text(json.dumps({"replica-1": {"pid": "x"}}))
    with pytest.raises(RunFileError, match="malformed process record"):
        runinfo.read(tmp_path)


def test_unknown_replica_is_named():
    with pytest.raises(KeyError, match="replica-9.*known: replica-1, replica-2"):
        sample().replica("replica-9")

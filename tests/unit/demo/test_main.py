"""The demo's control flow: verdicts stop it, failures and interrupts still tear down, exit statuses."""

import argparse
import io
import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import demo.__main__ as demo_main
from demo.__main__ import Interrupted, Progress, StepFailed, interrupts_raise, run_demo, step_plans
from demo.client import ScenarioError
from policies.gate.evaluate import Violation


@pytest.fixture
def progress() -> Progress:
    return Progress(total=4, out=io.StringIO())


@pytest.fixture
def mock_plans(monkeypatch):
    """Gate stand-in: each stack's verdict comes from `verdicts`; the run it judged is kept with it."""
    verdicts = {"dev": 0, "staging": 0, "prod": 0}
    calls = []

    def gate_result(stack, program):
        calls.append(stack)
        mandatory = verdicts[stack]
        violation = Violation("p", "mandatory", "u", "aws:s3/bucket:Bucket", "b", "m")
        bucket = SimpleNamespace(urn="u", type="aws:s3/bucket:Bucket", name="b")
        run = SimpleNamespace(project="p", outputs={"url": f"https://{stack}"}, resources=[])
        return SimpleNamespace(
            stack=stack, project="p", resources=[bucket], violations=[violation] * mandatory,
            exit_code=1 if mandatory else 0, run=run,
        )

    monkeypatch.setattr(demo_main.plans, "gate_result", gate_result)
    verdicts["calls"] = calls
    return verdicts


def test_every_stack_is_summarised_and_the_graph_stack_run_is_kept(mock_plans, progress):
    kept, summaries = step_plans(progress, ["dev", "staging", "prod"], Path("."), "prod")
    assert [s.stack for s in summaries] == ["dev", "staging", "prod"]
    assert mock_plans["calls"] == ["dev", "staging", "prod"]  # one gate run per stack, nothing else
    text = progress.out.getvalue()
    assert kept.outputs == {"url": "https://prod"}
    for stack in ("dev", "staging", "prod"):
        assert f"stack {stack}: 1 resources of 1 types, 1 outputs; verdict PASS" in text


def test_a_mandatory_violation_fails_the_step_after_printing_every_stack(mock_plans, progress):
    mock_plans["staging"] = 2
    with pytest.raises(StepFailed, match=r"mandatory violations in staging \(2 mandatory\)"):
        step_plans(progress, ["dev", "staging", "prod"], Path("."), "prod")
    assert "stack prod:" in progress.out.getvalue()


class FakeEnv:
    class UpError(Exception):
        pass

    class AlreadyUpError(Exception):
        pass

    def __init__(self):
        self.calls = []

    def up(self, **kwargs):
        self.calls.append("up")
        return SimpleNamespace(lb_url="http://127.0.0.1:1", replicas=[SimpleNamespace(id="replica-1", pid=10)])

    def down(self, **kwargs):
        self.calls.append("down")
        return ["haproxy: stopped"]


def demo_args(tmp_path: Path) -> argparse.Namespace:
    return argparse.Namespace(
        program=".", stacks=["dev"], graph_stack="dev", graph_output=[tmp_path / "g.dot"], replicas=3,
        state_dir=str(tmp_path / "state"),
    )


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (ScenarioError("check out: expected HTTP 201, got 503"), StepFailed),
        (Interrupted("SIGINT"), Interrupted),
        (KeyboardInterrupt(), KeyboardInterrupt),
    ],
)
def test_the_environment_is_torn_down_when_the_scenario_fails_or_is_interrupted(
    monkeypatch, mock_plans, progress, tmp_path, failure, expected
):
    import local.env
    import local.environment

    fake = FakeEnv()
    monkeypatch.setattr(local, "env", fake)
    monkeypatch.setattr(local.environment, "env", fake)

    def scenario(run, **kwargs):
        raise failure

    monkeypatch.setattr(demo_main, "run_scenario", scenario)
    with pytest.raises(expected):
        run_demo(demo_args(tmp_path), progress)
    assert fake.calls == ["up", "down"]
    assert "[4/4] teardown" in progress.out.getvalue()


def test_a_failed_teardown_fails_the_demo_and_says_how_to_finish(monkeypatch, mock_plans, progress, tmp_path):
    import local.env
    import local.environment

    class StuckEnv(FakeEnv):
        def down(self, **kwargs):
            self.calls.append("down")
            raise RuntimeError("replica-1: could not be stopped")

    fake = StuckEnv()
    monkeypatch.setattr(local, "env", fake)
    monkeypatch.setattr(local.environment, "env", fake)
    monkeypatch.setattr(demo_main, "run_scenario", lambda run, **kwargs: None)
    with pytest.raises(StepFailed, match="teardown: RuntimeError: replica-1: could not be stopped"):
        run_demo(demo_args(tmp_path), progress)
    assert "run `python -m local down`" in progress.out.getvalue()


def test_sigint_and_sigterm_become_an_exception_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted, match="SIGTERM"), interrupts_raise():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_fewer_than_two_replicas_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        demo_main.main(["--replicas", "1"])
    assert exited.value.code == 2
    assert "--replicas must be at least 2" in capsys.readouterr().err

"""The child's side of the protocol (policies/gate/mockengine/child.py), in this process: one line per
stack (its run or the error that ended it) and then the interpreter, whatever happened."""

from __future__ import annotations

import io
import json
import os
import platform
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from policies.gate.mockengine import ProgramRun, child, run_program, stack_workers
from policies.gate.program_process import from_json
from tests.unit.policies.gate.helpers import PROGRAMS


def _serve(program: Path, stacks: list[str], **extra: Any) -> tuple[int | None, list[dict[str, Any]]]:
    out = io.StringIO()
    request = {"program": str(program), "stacks": stacks, "options": {"preview": True}, **extra}
    status = child.serve(request, out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_stack_is_its_run_then_the_interpreter() -> None:
    status, lines = _serve(PROGRAMS / "compliant_web", ["dev"])
    assert status is None
    assert [next(iter(k for k in line if k != "stack")) for line in lines] == ["run", "interpreter"]
    assert lines[0]["stack"] == "dev"
    run = from_json(ProgramRun, lines[0]["run"])
    expected = run_program(PROGRAMS / "compliant_web", "dev", preview=True)
    assert [r.urn for r in run.resources] == [r.urn for r in expected.resources]
    interpreter = lines[1]["interpreter"]
    assert interpreter["executable"] == sys.executable
    assert interpreter["python"] == platform.python_version()
    assert {"pulumi", "pulumi-aws"} <= set(interpreter["packages"])
    assert all(name == "pulumi" or name.startswith("pulumi-") for name in interpreter["packages"])


def test_stacks_come_in_order_when_run_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_workers, "cores", lambda: 1)
    status, lines = _serve(PROGRAMS / "stack_isolation", ["dev", "prod", "dev"])
    assert status is None
    assert [line.get("stack") for line in lines] == ["dev", "prod", "dev", None]
    assert "interpreter" in lines[-1]


def test_a_stack_file_that_cannot_be_read_is_a_project_error_and_ends_the_run() -> None:
    status, lines = _serve(PROGRAMS / "bad_stack_config", ["dev", "prod"])
    assert status is None
    assert lines[0]["stack"] == "dev"
    assert lines[0]["error"] == {
        "kind": "project",
        "message": f"{PROGRAMS / 'bad_stack_config' / 'stacks' / 'Pulumi.dev.yaml'}: not valid YAML (line 3): "
        "did not find expected ',' or ']'",
    }
    assert "interpreter" in lines[1] and len(lines) == 2


def test_a_program_error_names_the_users_file_and_line() -> None:
    status, lines = _serve(PROGRAMS / "raises_in_module", ["dev"])
    error = lines[0]["error"]
    assert status is None
    assert error["kind"] == "program"
    assert error["message"] == "azs must be at least 1"
    assert error["where"] == [str(PROGRAMS / "raises_in_module" / "sizing.py"), 3]
    assert error["traceback"].startswith("Traceback (most recent call last):\n")
    # The trace is Python's own text, its lines joined as they are.
    assert error["traceback"].splitlines()[1].startswith("  File ")
    assert "subnet_count" in error["traceback"]
    assert lines[0]["stack"] == "dev" and "interpreter" in lines[1]


def test_a_failure_of_the_engine_itself_is_one_line_with_its_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("state")

    monkeypatch.setattr("policies.gate.mockengine.run.run_program", broken)
    _, lines = _serve(PROGRAMS / "compliant_web", ["dev"])
    assert lines[0]["stack"] == "dev"
    assert lines[0]["error"]["kind"] == "engine"
    assert lines[0]["error"]["message"] == "KeyError: 'state'"
    assert lines[0]["error"]["traceback"].startswith("Traceback (most recent call last):\n")
    assert lines[0]["error"]["traceback"].splitlines()[1].startswith("  File ")
    assert "broken" in lines[0]["error"]["traceback"]


def test_no_stacks_is_only_the_interpreter() -> None:
    status, lines = _serve(PROGRAMS / "compliant_web", [])
    assert status is None and len(lines) == 1 and "interpreter" in lines[0]


def test_the_project_directory_locates_the_users_frames(tmp_path: Path) -> None:
    # The run's error is placed in the project's files; a frame outside the project directory is not
    # the user's.
    _, lines = _serve(PROGRAMS / "raises_in_module", ["dev"], project_dir=str(tmp_path))
    assert lines[0]["error"]["where"] == [str(PROGRAMS / "raises_in_module" / "sizing.py"), 3]
    assert os.path.isabs(lines[0]["error"]["where"][0])


def test_the_time_limit_is_disarmed_once_the_run_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    armed: list[float] = []
    cancelled: list[bool] = []
    monkeypatch.setattr(
        child.faulthandler, "dump_traceback_later", lambda t, exit=False: armed.append(t) if exit is True else None
    )
    monkeypatch.setattr(child.faulthandler, "cancel_dump_traceback_later", lambda: cancelled.append(True))
    _serve(PROGRAMS / "compliant_web", ["dev"], timeout=30)
    assert armed == [30.0] and cancelled == [True]
    armed.clear()
    _serve(PROGRAMS / "compliant_web", ["dev"], timeout=None)
    assert armed == []


class _Ended(Exception):
    pass


def _main(
    monkeypatch: pytest.MonkeyPatch, request: dict[str, Any], status: int | None = None
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """child.main in this process: the request on stdin, the results read back from the descriptor it
    was given; how the process would have ended is recorded instead."""
    ended: list[tuple[str, int]] = []

    def exit_(code: int) -> None:
        ended.append(("exit", code))
        raise _Ended

    def kill(pid: int, sig: int) -> None:
        assert pid == os.getpid(), "the child signals itself, nothing else"
        ended.append(("kill", sig))

    def reset(sig: int, handler: Any) -> None:
        assert handler is signal.SIG_DFL
        ended.append(("reset", sig))
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            raise OSError(22, "Invalid argument")  # as signal.signal answers for these two

    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(request)))
    monkeypatch.setattr(child.os, "_exit", exit_)
    monkeypatch.setattr(child.os, "kill", kill)
    monkeypatch.setattr(child.signal, "signal", reset)
    if status is not None:
        monkeypatch.setattr(child, "serve", lambda req, out: status)
    read_end, write_end = os.pipe()
    with pytest.raises(_Ended):
        child.main(write_end)
    with os.fdopen(read_end, encoding="utf-8") as results:
        lines = [json.loads(line) for line in results.read().splitlines()]
    return lines, ended


def test_main_answers_on_the_descriptor_it_is_given_and_ends_with_status_0(monkeypatch: pytest.MonkeyPatch) -> None:
    request = {"program": str(PROGRAMS / "compliant_web"), "stacks": ["dev"], "options": {"preview": True}}
    lines, ended = _main(monkeypatch, request)
    assert [("run" in line, "interpreter" in line) for line in lines] == [(True, False), (False, True)]
    assert ended == [("exit", 0)]


def test_main_ends_with_a_dead_workers_status(monkeypatch: pytest.MonkeyPatch) -> None:
    _, ended = _main(monkeypatch, {"stacks": []}, status=7)
    assert ended == [("exit", 7)]


def test_main_ends_by_the_signal_that_killed_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    _, ended = _main(monkeypatch, {"stacks": []}, status=-15)
    assert ended == [("reset", 15), ("kill", 15), ("exit", -15)]


def test_main_ends_by_a_signal_that_has_no_handler_to_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    _, ended = _main(monkeypatch, {"stacks": []}, status=-signal.SIGKILL)
    assert ended == [("reset", signal.SIGKILL), ("kill", signal.SIGKILL), ("exit", -signal.SIGKILL)]


def test_a_status_of_0_from_a_worker_is_no_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    _, ended = _main(monkeypatch, {"stacks": []}, status=0)
    assert ended == [("exit", 0)]


def test_main_ends_even_when_the_programs_streams_cannot_be_flushed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed(io.StringIO):
        def flush(self) -> None:
            raise ValueError("I/O operation on closed file.")

    monkeypatch.setattr(sys, "stdout", Closed())
    monkeypatch.setattr(sys, "stderr", Closed())
    _, ended = _main(monkeypatch, {"stacks": []}, status=3)
    assert ended == [("exit", 3)]


@pytest.mark.parametrize("debug", [False, True])
def test_warnings_are_silenced_unless_debugging(monkeypatch: pytest.MonkeyPatch, debug: bool) -> None:
    with warnings.catch_warnings():
        warnings.resetwarnings()
        _main(monkeypatch, {"stacks": [], "debug": debug}, status=1)
        silenced = [f for f in warnings.filters if f[0] == "ignore" and f[2] is Warning and f[1] is None]
    assert bool(silenced) is not debug


# What a run's values become on the way to the gate, and where an error is placed.


def test_assets_and_archives_travel_as_the_engine_serializes_them() -> None:
    import pulumi

    from policies.gate.mockengine import assets

    sig = assets.SIG_KEY
    assert child.to_json(pulumi.FileAsset("app.zip")) == {sig: assets.ASSET_SIG, "path": "app.zip"}
    assert child.to_json(pulumi.StringAsset("hi")) == {sig: assets.ASSET_SIG, "text": "hi"}
    assert child.to_json(pulumi.RemoteAsset("https://example.test/a")) == {
        sig: assets.ASSET_SIG,
        "uri": "https://example.test/a",
    }
    assert child.to_json(pulumi.FileArchive("build")) == {sig: assets.ARCHIVE_SIG, "path": "build"}
    assert child.to_json(pulumi.AssetArchive({"index.py": pulumi.StringAsset("x = 1")})) == {
        sig: assets.ARCHIVE_SIG,
        "assets": {"index.py": {sig: assets.ASSET_SIG, "text": "x = 1"}},
    }


def test_plain_values_travel_as_they_are_and_anything_else_as_its_text() -> None:
    assert child.to_json({"a": (1, 2.5), 3: [None, True, "s"]}) == {"a": [1, 2.5], "3": [None, True, "s"]}
    assert child.to_json(Path("/x/y")) == "/x/y"
    assert child.to_json({"b", "a", 3}) == sorted(["b", "a", 3], key=repr)
    assert child.to_json(frozenset({("k", 1)})) == [["k", 1]]

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    assert child.to_json(Thing()) == "a thing"


def _raise_from(path: Path, source: str) -> BaseException:
    """What running `source` as the file `path` raises (written there, run as a program file is)."""
    import runpy

    path.write_text(source)
    try:
        runpy.run_path(str(path))
    except Exception as exc:
        return exc
    raise AssertionError("the source did not raise")


def test_the_users_frame_is_the_innermost_in_the_project(tmp_path: Path) -> None:
    source = "def inner():\n    raise ValueError('x')\n\ndef outer():\n    inner()\n\nouter()\n"
    exc = _raise_from(tmp_path / "main.py", source)
    assert child.user_frame(exc, str(tmp_path)) == (str(tmp_path / "main.py"), 2)
    assert child.user_frame(exc, str(tmp_path / "elsewhere")) is None


def test_the_users_frame_is_found_in_what_an_error_was_raised_from(tmp_path: Path) -> None:
    cause = _raise_from(tmp_path / "main.py", "raise KeyError('k')\n")
    try:
        raise RuntimeError("wrapped") from cause
    except RuntimeError as exc:
        wrapped = exc
    assert child.user_frame(wrapped, str(tmp_path)) == (str(tmp_path / "main.py"), 1)


def test_installed_code_inside_the_project_is_not_the_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    exc = _raise_from(site / "lib.py", "raise ValueError('in a package')\n")
    assert child.user_frame(exc, str(tmp_path)) is None
    assert child.is_user_file(str(tmp_path / "main.py"), str(tmp_path))
    assert not child.is_user_file(str(site / "lib.py"), str(tmp_path))
    assert not child.is_user_file(str(child.ENGINE_DIR / "run.py"), str(child.ENGINE_DIR.parent))
    assert not child.is_user_file(str(tmp_path.parent / "other.py"), str(tmp_path))


def test_a_cycle_of_causes_ends_the_search(tmp_path: Path) -> None:
    first = _raise_from(tmp_path / "a.py", "raise KeyError('a')\n")
    second = _raise_from(tmp_path / "b.py", "raise KeyError('b')\n")
    first.__context__, second.__context__ = second, first
    found: list[Any] = []
    # In a thread, so that a search that never ends fails the test instead of hanging the run.
    searcher = threading.Thread(target=lambda: found.append(child.user_frame(first, str(tmp_path / "x"))), daemon=True)
    searcher.start()
    searcher.join(10)
    assert found == [None], "the search did not end on a cycle of causes"


def test_the_interpreter_names_the_installed_pulumi_packages_with_their_versions() -> None:
    from importlib import metadata

    described = child._describe_interpreter({"pulumi_aaa_not_installed", "pulumi_aws", "boto3"})
    packages = described["packages"]
    # A module without a distribution is left out, and the ones after it are still named.
    assert packages["pulumi-aws"] == metadata.version("pulumi-aws")
    assert packages["pulumi"] == metadata.version("pulumi")
    assert "pulumi-aaa-not-installed" not in packages and "boto3" not in packages


def test_inside_compares_whole_path_parts(tmp_path: Path) -> None:
    assert child._inside(str(tmp_path / "a" / "b.py"), str(tmp_path / "a"))
    assert not child._inside(str(tmp_path / "ab" / "b.py"), str(tmp_path / "a"))
    # A directory given relative cannot be compared with an absolute path: not inside.
    assert not child._inside(str(tmp_path / "a.py"), "relative")


def test_debian_dist_packages_are_installed_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "usr" / "lib" / "python3" / "dist-packages"
    monkeypatch.setattr(sys, "path", [*sys.path, str(dist)])
    assert str(dist) in child._foreign_dirs()
    assert not child.is_user_file(str(dist / "x.py"), str(tmp_path))


def test_the_run_options_reach_the_run_and_default_to_an_update() -> None:
    _, preview = _serve(PROGRAMS / "compliant_web", ["dev"])
    assert from_json(ProgramRun, preview[0]["run"]).preview is True
    out = io.StringIO()
    child.serve({"program": str(PROGRAMS / "compliant_web"), "stacks": ["dev"]}, out)
    update = json.loads(out.getvalue().splitlines()[0])
    assert from_json(ProgramRun, update["run"]).preview is False


def test_the_second_stack_starts_ahead_and_its_worker_goes_to_the_later_stacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ahead = object()
    started: list[tuple[str, Any, float | None]] = []
    handed: list[Any] = []

    def start_ahead(stack: str, run: Any, deadline: float | None) -> object:
        started.append((stack, run, deadline))
        return ahead

    monkeypatch.setattr(stack_workers, "start_ahead", start_ahead)
    monkeypatch.setattr(stack_workers, "run_stacks", lambda stacks, run, emit, **kw: handed.append(kw["ahead"]))
    before = time.monotonic()
    _serve(PROGRAMS / "compliant_web", ["dev", "prod"], timeout=40)
    [(stack, run_here, deadline)] = started
    assert stack == "prod" and handed == [ahead]
    assert deadline is not None and before + 39 < deadline <= time.monotonic() + 40
    assert run_here("prod")["stack"] == "prod"


def test_a_failed_first_stack_lets_the_worker_started_ahead_go(monkeypatch: pytest.MonkeyPatch) -> None:
    ahead = object()
    abandoned: list[Any] = []
    monkeypatch.setattr(stack_workers, "start_ahead", lambda *args: ahead)
    monkeypatch.setattr(stack_workers, "abandon", abandoned.append)
    status, lines = _serve(PROGRAMS / "bad_stack_config", ["dev", "prod"])
    assert abandoned == [ahead] and status is None
    assert [("error" in line, "interpreter" in line) for line in lines] == [(True, False), (False, True)]


def test_one_stack_starts_nothing_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_workers, "start_ahead", lambda *args: pytest.fail("started a worker ahead"))
    status, lines = _serve(PROGRAMS / "compliant_web", ["dev"])
    assert status is None and "run" in lines[0]


def test_later_stacks_get_the_time_limit_and_the_same_run(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run_stacks(stacks: list[str], run_one: Any, emit: Any, **kwargs: Any) -> None:
        seen.update(kwargs, stacks=stacks, later=run_one(stacks[0]))

    monkeypatch.setattr(stack_workers, "run_stacks", run_stacks)
    monkeypatch.setattr(stack_workers, "start_ahead", lambda *a: None)
    started = time.monotonic()
    _serve(PROGRAMS / "compliant_web", ["dev", "prod"], timeout=40)
    assert seen["stacks"] == ["prod"]
    assert started + 39 < seen["deadline"] <= time.monotonic() + 40
    assert seen["imported"] == set() and seen["ahead"] is None
    assert seen["later"]["stack"] == "prod" and from_json(ProgramRun, seen["later"]["run"]).preview is True


def _failing_program(tmp_path: Path) -> Any:
    """A stand-in run whose failure has no place of its own: the child looks for it in the traceback."""
    import runpy

    from policies.gate.mockengine.run import ProgramError

    script = tmp_path / "main.py"
    script.write_text("def check():\n    raise ValueError('no subnets')\n\ncheck()\n")

    def run_program(program: str, stack: str, **options: Any) -> Any:
        try:
            runpy.run_path(str(script))
        except ValueError as exc:
            raise ProgramError(str(exc)) from exc

    return run_program


def test_an_error_without_a_place_is_placed_in_the_project_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policies.gate.mockengine.run.run_program", _failing_program(tmp_path))
    _, lines = _serve(tmp_path, ["dev"])
    assert lines[0]["error"]["where"] == [str(tmp_path / "main.py"), 2]
    _, named = _serve(tmp_path / "sub", ["dev"], project_dir=str(tmp_path))
    assert named[0]["error"]["where"] == [str(tmp_path / "main.py"), 2]
    _, outside = _serve(tmp_path, ["dev"], project_dir=str(tmp_path / "elsewhere"))
    assert outside[0]["error"]["where"] is None
    assert outside[0]["error"]["message"] == "no subnets"

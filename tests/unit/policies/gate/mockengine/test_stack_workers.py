"""Stacks after the first run side by side in processes forked from the child that ran the first
(policies/gate/mockengine/stack_workers.py): what the gate sees is what one process running them in
turn would give it: results and prints in the order of the stacks, the first error ending the run,
a dying or hanging stack reported as such, every provider any stack imported named."""

from __future__ import annotations

import faulthandler
import io
import os
import signal
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies.gate import GateError, run_gates
from policies.gate.mockengine import run_program, stack_workers
from tests.unit.policies.gate.helpers import PROGRAMS

STACKS = ("a", "b", "c")


def _project(tmp_path: Path, main: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(main))
    for stack in STACKS:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(f"config:\n  scratch:size: {len(stack) + ord(stack)}\n")
    return tmp_path


def test_stacks_come_back_in_order_each_with_its_own_config_and_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = """
        import os
        import pulumi
        import pulumi_aws as aws
        stack = pulumi.get_stack()
        print(f"running {stack}")
        aws.sqs.Queue(f"jobs-{stack}")
        pulumi.export("size", pulumi.Config().require_int("size"))
        pulumi.export("pid", os.getpid())
    """
    results = run_gates(list(STACKS), _project(tmp_path, main))
    assert [r.stack for r in results] == list(STACKS)
    runs = [r.run for r in results]
    assert [run.outputs["size"] for run in runs if run] == [98, 99, 100]
    assert [[res.name for res in run.resources if res.type == "aws:sqs/queue:Queue"] for run in runs if run] == [
        ["jobs-a"],
        ["jobs-b"],
        ["jobs-c"],
    ]
    printed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("running ")]
    assert printed == ["running a", "running b", "running c"]
    # Side by side where the machine has the cores for it; in turn, in one process, where not.
    pids = [run.outputs["pid"] for run in runs if run]
    assert (len(set(pids)) == 3) == (stack_workers.cores() >= 2)


def test_a_program_that_starts_threads_has_its_stacks_run_in_turn(tmp_path: Path) -> None:
    # A fork would copy only the calling thread: with the program's own thread alive, no fork.
    main = """
        import os, threading, time
        import pulumi
        if pulumi.get_stack() == "a":
            # Waits on an event nobody sets, for at most 30 s: alive for the whole run.
            threading.Thread(target=threading.Event().wait, args=(30,), daemon=True).start()
        pulumi.export("pid", os.getpid())
    """
    results = run_gates(list(STACKS), _project(tmp_path, main))
    assert len({r.run.outputs["pid"] for r in results if r.run}) == 1
    assert [r.stack for r in results] == list(STACKS)


def test_an_error_in_a_later_stack_ends_the_run_with_that_error(tmp_path: Path) -> None:
    main = """
        import pulumi
        if pulumi.get_stack() == "b":
            raise ValueError("stack b has no subnets")
    """
    with pytest.raises(GateError, match=r"__main__.py:4: the program failed: stack b has no subnets$"):
        run_gates(list(STACKS), _project(tmp_path, main))


def test_a_later_stack_whose_process_dies_is_reported_with_its_status(tmp_path: Path) -> None:
    main = """
        import os
        import pulumi
        if pulumi.get_stack() == "b":
            os._exit(7)
    """
    with pytest.raises(GateError, match="stopped with status 7 before stack 'b' was done"):
        run_gates(list(STACKS), _project(tmp_path, main))


def test_a_later_stack_killed_by_a_signal_is_reported_with_it(tmp_path: Path) -> None:
    main = """
        import os, signal
        import pulumi
        if pulumi.get_stack() == "c":
            os.kill(os.getpid(), signal.SIGKILL)
    """
    with pytest.raises(GateError, match="stopped with status -9 before stack 'c' was done"):
        run_gates(list(STACKS), _project(tmp_path, main))


def test_a_later_stack_that_hangs_is_stopped_where_it_waits(tmp_path: Path) -> None:
    main = """
        import time
        import pulumi

        def wait_for_ever():
            while True:
                time.sleep(0.05)

        if pulumi.get_stack() == "b":
            wait_for_ever()
    """
    with pytest.raises(
        GateError,
        match=r"did not finish within 2 s \(--timeout\) for stack 'b'; it was waiting at \S*__main__.py:7 "
        r"\(in wait_for_ever\)$",
    ):
        run_gates(list(STACKS), _project(tmp_path, main), timeout=2)


def test_a_provider_only_a_later_stack_imports_is_named(tmp_path: Path) -> None:
    main = """
        import pulumi
        if pulumi.get_stack() == "c":
            import pulumi_kubernetes
    """
    results = run_gates(list(STACKS), _project(tmp_path, main))
    used = results[0].interpreter
    assert used is not None
    assert "pulumi-kubernetes" in used.packages and "pulumi" in used.packages


def test_a_run_leaves_no_thread_behind_to_fork_without() -> None:
    # Monitor calls run in the loop's thread (run.py _InlineExecutor), not in the SDK's pool.
    before = {thread.ident for thread in threading.enumerate()}
    run = run_program(PROGRAMS / "compliant_web", "dev", preview=True)
    assert run.resources
    assert [thread.name for thread in threading.enumerate() if thread.ident not in before] == []


# In this process: the choice of how many stacks run at once, and the path without forking.


def test_cores_are_those_the_process_may_use_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert stack_workers.cores() == 3


def test_cores_fall_back_to_the_cpu_count_without_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert stack_workers.cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert stack_workers.cores() == 1


@pytest.mark.parametrize("platform", ["darwin", "win32", "freebsd14"])
def test_no_fork_outside_linux(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert stack_workers.cores() == 1


def test_with_one_core_stacks_run_in_turn_up_to_the_first_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_workers, "cores", lambda: 1)
    ran: list[str] = []
    emitted: list[dict[str, Any]] = []

    def run_one(stack: str) -> dict[str, Any]:
        ran.append(stack)
        return {"stack": stack, "error": {"kind": "program"}} if stack == "b" else {"stack": stack, "run": {}}

    imported: set[str] = set()
    status = stack_workers.run_stacks(["a", "b", "c"], run_one, emitted.append, deadline=None, imported=imported)
    assert status is None
    assert ran == ["a", "b"]
    assert [m["stack"] for m in emitted] == ["a", "b"]
    assert imported == set()


def test_no_stacks_left_runs_and_emits_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(stack: str) -> dict[str, Any]:
        raise AssertionError(stack)

    emitted: list[dict[str, Any]] = []
    assert stack_workers.run_stacks([], never, emitted.append, deadline=None, imported=set()) is None
    assert emitted == []


def test_pulumi_packages_are_the_top_level_pulumi_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pulumi_example.sub.deep", sys)
    monkeypatch.setitem(sys.modules, "notpulumi", sys)
    found = stack_workers.pulumi_packages()
    assert "pulumi_example" in found and "pulumi" in found
    assert "notpulumi" not in found and all("." not in name for name in found)
    assert found == sorted(found)


@pytest.mark.parametrize("received", [b"", b"not json\n", b"[1, 2]\n", b'{"stack": "a"'])
def test_a_worker_that_wrote_no_whole_result_has_no_message(received: bytes) -> None:
    worker = stack_workers._Worker("a", 0, -1, None, bytearray(received))  # type: ignore[arg-type]
    assert worker.message() is None


def test_a_worker_result_is_its_one_line() -> None:
    worker = stack_workers._Worker("a", 0, -1, None, bytearray(b'{"stack": "a", "run": {}}\n'))  # type: ignore[arg-type]
    assert worker.message() == {"stack": "a", "run": {}}


# The forked path in this process, with a stand-in for the program's run: forced on (two cores, no
# other thread to worry about) whatever the machine, so that it is measured everywhere.


@pytest.fixture
def released(tmp_path: Path) -> Iterator[Path]:
    """A flag a stand-in stack waits for (see _wait_for): set when the test is over, so that a worker
    the test did not stop ends soon after."""
    flag = tmp_path / "released"
    yield flag
    flag.touch()


def _wait_for(flag: Path, limit: float = 30.0) -> None:
    """A stack that hangs: blocks until `flag` exists, for at most `limit` seconds."""
    deadline = time.monotonic() + limit
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "fork"):
        pytest.fail("the gate's stack workers need os.fork on this platform")
    monkeypatch.setattr(stack_workers, "cores", lambda: 2)
    monkeypatch.setattr(stack_workers, "_only_thread", lambda: True)


def _run(
    stacks: list[str], run_one: Any, deadline: float | None = None, ahead: Any = None
) -> tuple[int | None, list[dict[str, Any]]]:
    emitted: list[dict[str, Any]] = []
    imported: set[str] = set()
    status = stack_workers.run_stacks(
        stacks, run_one, emitted.append, deadline=deadline, imported=imported, ahead=ahead
    )
    return status, emitted


@pytest.mark.usefixtures("forking")
def test_forked_stacks_relay_results_and_prints_in_stack_order(capfd: pytest.CaptureFixture[str]) -> None:
    # The program's prints reach the process's descriptors 1 and 2 (in the child, sys.stdout and
    # sys.stderr are those; under pytest they are pytest's own objects).
    def run_one(stack: str) -> dict[str, Any]:
        os.write(1, f"printed by {stack}\n".encode())
        os.write(2, f"warned by {stack}\n".encode())
        return {"stack": stack, "run": {"pid": os.getpid(), "size": len(stack) * "x" * 50_000}}

    status, emitted = _run(["a", "bb", "ccc"], run_one)
    assert status is None
    assert [m["stack"] for m in emitted] == ["a", "bb", "ccc"]
    assert [len(m["run"]["size"]) for m in emitted] == [50_000, 100_000, 150_000]  # beyond a pipe's buffer
    assert len({m["run"]["pid"] for m in emitted} | {os.getpid()}) == 4
    assert all("imported" not in m for m in emitted)
    lines = [line for line in capfd.readouterr().err.splitlines() if line.endswith(("a", "bb", "ccc"))]
    assert lines == ["printed by a", "warned by a", "printed by bb", "warned by bb", "printed by ccc", "warned by ccc"]


@pytest.mark.usefixtures("forking")
def test_a_forked_stack_error_ends_the_run_after_it() -> None:
    def run_one(stack: str) -> dict[str, Any]:
        if stack == "b":
            return {"stack": stack, "error": {"kind": "program", "message": "no"}}
        return {"stack": stack, "run": {}}

    status, emitted = _run(["a", "b", "c", "d"], run_one)
    assert status is None
    assert [m["stack"] for m in emitted] == ["a", "b"]
    assert emitted[1]["error"] == {"kind": "program", "message": "no"}


@pytest.mark.usefixtures("forking")
def test_a_forked_stack_that_exits_ends_the_run_with_its_status(capfd: pytest.CaptureFixture[str]) -> None:
    def run_one(stack: str) -> dict[str, Any]:
        if stack == "b":
            os.write(1, b"last words of b\n")
            os._exit(7)
        return {"stack": stack, "run": {}}

    status, emitted = _run(["a", "b", "c"], run_one)
    assert status == 7
    assert [m["stack"] for m in emitted] == ["a"]
    assert "last words of b" in capfd.readouterr().err


@pytest.mark.usefixtures("forking")
def test_a_forked_stack_that_raises_ends_with_its_trace(capfd: pytest.CaptureFixture[str]) -> None:
    def run_one(stack: str) -> dict[str, Any]:
        raise RuntimeError(f"engine broke on {stack}")

    status, emitted = _run(["a", "b"], run_one)
    assert status == 70 and emitted == []
    err = capfd.readouterr().err
    assert "RuntimeError: engine broke on a" in err


@pytest.mark.usefixtures("forking")
def test_a_forked_stack_past_the_time_limit_dumps_where_it_waits(
    capfd: pytest.CaptureFixture[str], released: Path
) -> None:
    def run_one(stack: str) -> dict[str, Any]:
        if stack == "b":
            _wait_for(released)
        return {"stack": stack, "run": {}}

    started = time.monotonic()
    status, emitted = _run(["a", "b"], run_one, deadline=time.monotonic() + 1.0)
    assert status == 1 and [m["stack"] for m in emitted] == ["a"]
    err = capfd.readouterr().err
    assert "Timeout (" in err and "in run_one" in err
    assert time.monotonic() - started < stack_workers.KILL_GRACE_SECONDS + 30


@pytest.mark.usefixtures("forking")
def test_a_stack_forked_once_the_time_limit_is_past_is_stopped_at_once(capfd: pytest.CaptureFixture[str]) -> None:
    def run_one(stack: str) -> dict[str, Any]:
        time.sleep(0.3)  # a short stack, that only a time limit already past stops
        return {"stack": stack, "run": {}}

    status, emitted = _run(["a"], run_one, deadline=time.monotonic() - 1.0)
    assert status == 1 and emitted == []
    assert "Timeout (" in capfd.readouterr().err


@pytest.mark.usefixtures("forking")
def test_a_forked_stack_that_outlasts_the_grace_is_killed(monkeypatch: pytest.MonkeyPatch, released: Path) -> None:
    # A worker whose dump never comes (the time limit cannot fire) is killed once the grace is over.
    monkeypatch.setattr(stack_workers.faulthandler, "dump_traceback_later", lambda *a, **k: None)
    monkeypatch.setattr(stack_workers, "KILL_GRACE_SECONDS", 0.5)

    def run_one(stack: str) -> dict[str, Any]:
        _wait_for(released)
        return {"stack": stack, "run": {}}

    status, emitted = _run(["a", "b", "c"], run_one, deadline=time.monotonic() + 0.5)
    assert status == -9 and emitted == []


@pytest.mark.usefixtures("forking")
def test_stacks_waiting_for_a_core_start_as_one_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_workers, "cores", lambda: 2)
    started: list[str] = []
    real_fork = stack_workers._fork

    def counting_fork(stack: str, run_one: Any, deadline: float | None) -> Any:
        started.append(stack)
        return real_fork(stack, run_one, deadline)

    monkeypatch.setattr(stack_workers, "_fork", counting_fork)
    status, emitted = _run(["a", "b", "c", "d", "e"], lambda s: {"stack": s, "run": {}})
    assert status is None and [m["stack"] for m in emitted] == ["a", "b", "c", "d", "e"]
    assert started == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("pid", [0, -1, -4242])
def test_stopping_never_signals_or_waits_for_a_process_group(monkeypatch: pytest.MonkeyPatch, pid: int) -> None:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(os, "kill", lambda p, s: calls.append(("kill", p)))
    monkeypatch.setattr(os, "waitpid", lambda p, o: calls.append(("waitpid", p)) or (p, 0))
    read_end, write_end = os.pipe()
    os.close(write_end)
    with tempfile.TemporaryFile() as output:
        stack_workers._stop([stack_workers._Worker("a", pid, read_end, output)])
        assert output.closed
    assert calls == []


@pytest.mark.parametrize("pid", [1, 4242])
def test_stopping_kills_and_reaps_a_worker_by_its_pid(monkeypatch: pytest.MonkeyPatch, pid: int) -> None:
    calls: list[tuple[str, int, int]] = []
    monkeypatch.setattr(os, "kill", lambda p, s: calls.append(("kill", p, s)))
    monkeypatch.setattr(os, "waitpid", lambda p, o: calls.append(("waitpid", p, o)) or (p, 0))
    read_end, write_end = os.pipe()
    os.close(write_end)
    with tempfile.TemporaryFile() as output:
        stack_workers._stop([stack_workers._Worker("a", pid, read_end, output)])
    assert calls == [("kill", pid, int(signal.SIGKILL)), ("waitpid", pid, 0)]
    with pytest.raises(OSError):
        os.fstat(read_end)


@pytest.mark.parametrize(("threads", "alone"), [(1, True), (2, False), (5, False)])
def test_fork_only_with_no_thread_but_this_one(monkeypatch: pytest.MonkeyPatch, threads: int, alone: bool) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: threads)
    assert stack_workers._only_thread() is alone


@pytest.mark.usefixtures("forking")
def test_no_more_stacks_run_at_once_than_there_are_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    running: list[int] = []
    most: list[int] = [0]
    fork, reap = stack_workers._fork, stack_workers._reap

    def counting_fork(*args: Any) -> Any:
        running.append(1)
        most[0] = max(most[0], len(running))
        return fork(*args)

    def counting_reap(*args: Any) -> None:
        running.pop()
        reap(*args)

    monkeypatch.setattr(stack_workers, "_fork", counting_fork)
    monkeypatch.setattr(stack_workers, "_reap", counting_reap)
    status, emitted = _run(["a", "b", "c", "d"], lambda s: {"stack": s, "run": {}})
    assert status is None and len(emitted) == 4
    assert most[0] == 2


@pytest.mark.usefixtures("forking")
def test_a_worker_that_exits_cleanly_without_a_result_still_ends_the_run_as_failed() -> None:
    def run_one(stack: str) -> dict[str, Any]:
        if stack == "b":
            os._exit(0)
        return {"stack": stack, "run": {}}

    status, emitted = _run(["a", "b"], run_one)
    assert status == 1 and [m["stack"] for m in emitted] == ["a"]


@pytest.mark.usefixtures("forking")
def test_a_worker_finishing_within_the_grace_is_not_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_workers.faulthandler, "dump_traceback_later", lambda *a, **k: None)
    monkeypatch.setattr(stack_workers, "KILL_GRACE_SECONDS", 0.9)

    def run_one(stack: str) -> dict[str, Any]:
        time.sleep(0.2)
        return {"stack": stack, "run": {}}

    status, emitted = _run(["a"], run_one, deadline=time.monotonic())
    assert status is None and [m["stack"] for m in emitted] == ["a"]


@pytest.mark.usefixtures("forking")
def test_each_worker_runs_on_an_event_loop_of_its_own() -> None:
    import asyncio

    parent = asyncio.new_event_loop()
    asyncio.set_event_loop(parent)
    try:
        status, emitted = _run(["a", "b"], lambda s: {"stack": s, "run": {"loop": id(asyncio.get_event_loop())}})
    finally:
        # The tests after this one run programs on the current loop: they get a fresh one.
        asyncio.set_event_loop(asyncio.new_event_loop())
        parent.close()
    assert status is None
    assert all(m["run"]["loop"] != id(parent) for m in emitted)


def _reaped_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_stopping_a_worker_already_gone_and_closed_raises_nothing() -> None:
    with tempfile.TemporaryFile() as output:
        read_end, write_end = os.pipe()  # closed at once: a number no open file has
        os.close(write_end)
        os.close(read_end)
        worker = stack_workers._Worker("a", _reaped_pid(), read_end, output)
        stack_workers._kill(worker)
        stack_workers._stop([worker])
        assert output.closed


def test_a_stream_that_cannot_be_flushed_raises_nothing_and_the_other_is_still_flushed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flushed: list[str] = []

    class Gone(io.StringIO):
        def flush(self) -> None:
            flushed.append("stdout")
            raise BrokenPipeError("the reading end is gone")

    class Kept(io.StringIO):
        def flush(self) -> None:
            flushed.append("stderr")

    monkeypatch.setattr(sys, "stdout", Gone())
    monkeypatch.setattr(sys, "stderr", Kept())
    stack_workers._flush()
    assert flushed == ["stdout", "stderr"]


@pytest.mark.usefixtures("forking")
def test_the_packages_forked_stacks_imported_are_gathered() -> None:
    imported: set[str] = set()
    emitted: list[dict[str, Any]] = []
    status = stack_workers.run_stacks(
        ["a", "b"], lambda s: {"stack": s, "run": {}}, emitted.append, deadline=None, imported=imported
    )
    assert status is None and len(emitted) == 2
    assert "pulumi" in imported and all(name.startswith("pulumi") for name in imported)


# A worker started ahead of the first stack's run.


@pytest.mark.usefixtures("forking")
def test_a_stack_started_ahead_comes_back_in_its_place() -> None:
    def run_one(stack: str) -> dict[str, Any]:
        return {"stack": stack, "run": {"pid": os.getpid()}}

    ahead = stack_workers.start_ahead("b", run_one, None)
    assert ahead is not None and ahead.stack == "b"
    status, emitted = _run(["b", "c", "d"], run_one, ahead=ahead)
    assert status is None
    assert [m["stack"] for m in emitted] == ["b", "c", "d"]
    assert emitted[0]["run"]["pid"] == ahead.pid
    assert len({m["run"]["pid"] for m in emitted} | {os.getpid()}) == 4


@pytest.mark.usefixtures("forking")
def test_a_stack_started_ahead_and_not_wanted_is_stopped_and_reaped(released: Path) -> None:
    ahead = stack_workers.start_ahead("b", lambda s: _wait_for(released) or {"stack": s, "run": {}}, None)
    assert ahead is not None
    stack_workers.abandon(ahead)
    with pytest.raises(ChildProcessError):
        os.waitpid(ahead.pid, os.WNOHANG)
    stack_workers.abandon(None)


@pytest.mark.usefixtures("forking")
def test_threads_after_the_first_stack_let_the_one_started_ahead_go_and_run_in_turn(
    monkeypatch: pytest.MonkeyPatch, released: Path
) -> None:
    ahead = stack_workers.start_ahead("b", lambda s: _wait_for(released) or {"stack": s, "run": {}}, None)
    assert ahead is not None
    monkeypatch.setattr(stack_workers, "_only_thread", lambda: False)
    status, emitted = _run(["b", "c"], lambda s: {"stack": s, "run": {"pid": os.getpid()}}, ahead=ahead)
    assert status is None
    assert [(m["stack"], m["run"]["pid"]) for m in emitted] == [("b", os.getpid()), ("c", os.getpid())]
    with pytest.raises(ChildProcessError):
        os.waitpid(ahead.pid, os.WNOHANG)


def test_nothing_starts_ahead_where_forking_is_not_for_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_workers, "cores", lambda: 1)
    assert stack_workers.start_ahead("b", lambda s: {"stack": s}, None) is None
    monkeypatch.setattr(stack_workers, "cores", lambda: 2)
    monkeypatch.setattr(stack_workers, "_only_thread", lambda: False)
    assert stack_workers.start_ahead("b", lambda s: {"stack": s}, None) is None


@pytest.mark.usefixtures("forking")
def test_a_stack_started_ahead_that_hangs_past_the_time_limit_dumps_where_it_waits(
    capfd: pytest.CaptureFixture[str], released: Path
) -> None:
    def run_one(stack: str) -> dict[str, Any]:
        _wait_for(released)
        return {"stack": stack, "run": {}}

    deadline = time.monotonic() + 1.0
    ahead = stack_workers.start_ahead("b", run_one, deadline)
    # start_ahead armed this process's own time limit again (with exit): this process is the test's.
    faulthandler.cancel_dump_traceback_later()
    assert ahead is not None
    status, emitted = _run(["b"], run_one, deadline=deadline, ahead=ahead)
    # The worker's own time limit fired (status 1, the place it waited): not the kill after the grace.
    assert status == 1 and emitted == []
    err = capfd.readouterr().err
    assert "Timeout (" in err and "in run_one" in err


@pytest.mark.usefixtures("forking")
def test_starting_ahead_rearms_this_process_time_limit_for_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(stack_workers.faulthandler, "cancel_dump_traceback_later", lambda: calls.append("cancel"))
    monkeypatch.setattr(
        stack_workers.faulthandler, "dump_traceback_later", lambda t, exit=False: calls.append(("arm", t, exit))
    )
    deadline = time.monotonic() + 30
    ahead = stack_workers.start_ahead("b", lambda s: {"stack": s, "run": {}}, deadline)
    stack_workers.abandon(ahead)
    assert calls[0] == "cancel"
    assert calls[1][0] == "arm" and 25 < calls[1][1] <= 30 and calls[1][2] is True
    calls.clear()
    stack_workers.abandon(stack_workers.start_ahead("b", lambda s: {"stack": s, "run": {}}, None))
    assert calls == ["cancel"]
    # A time limit already past fires at once, not a second later.
    calls.clear()
    stack_workers.abandon(stack_workers.start_ahead("b", lambda s: {"stack": s, "run": {}}, time.monotonic() - 5))
    assert calls == ["cancel", ("arm", 0.001, True)]

"""Runs the stacks after the first one side by side, in processes forked from the child
(mockengine/child.py), so that they start with the SDK imported (and, after the second, the first
stack's provider modules too) and the machine's cores share the runs.

- A worker runs one stack and writes its one result line to a pipe of its own; the program's prints
  and a time-limit dump go to a file of its own. Results are relayed in the order of the stacks, each
  after its prints, so the gate sees what it would see from one process running them in turn; the
  first error ends the run and stops the other workers.
- Forking is for Linux with more than one core and a process with no thread but the main one:
  elsewhere (macOS forbids fork after some system frameworks loaded) the stacks run in turn in this
  process.
- Each worker gets a fresh event loop and arms the time limit again for what is left of it; a worker
  that dies without a result ends the child with the worker's status, after its output.
- The second stack's worker may start ahead of the first stack's run (`start_ahead`): it imports
  its program's modules on the second core while the child imports them for the first, the import
  that is most of a stack's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import json
import os
import selectors
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

Message = dict[str, Any]
_CHUNK = 1 << 16
# Beyond the time limit, how long a worker gets to write its dump and exit before it is killed.
KILL_GRACE_SECONDS = 5.0


def cores() -> int:
    """How many stacks may run at once: the cores this process may use; 1 where forking is unsafe."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def pulumi_packages() -> list[str]:
    """The top-level `pulumi*` modules this process imported (a worker's own, for the interpreter's
    description: a stack may import a provider the others do not)."""
    return sorted({name.partition(".")[0] for name in list(sys.modules) if name.startswith("pulumi")})


@dataclass
class _Worker:
    stack: str
    pid: int
    result: int  # read end of the worker's result pipe
    output: IO[bytes]  # the worker's stdout and stderr
    received: bytearray = field(default_factory=bytearray)
    status: int | None = None  # exit code (negative: signal) once reaped

    def message(self) -> Message | None:
        with contextlib.suppress(ValueError):
            line = self.received.decode().strip()
            if line:
                message = json.loads(line)
                if isinstance(message, dict):
                    return message
        return None


def start_ahead(stack: str, run_one: Callable[[str], Message], deadline: float | None) -> _Worker | None:
    """The second stack's worker, forked before the first stack runs here: it imports what its program
    imports on another core while this process imports the same for the first (the later stacks fork
    from this process once those imports are done). None where forking is not for this machine."""
    if cores() < 2 or not _only_thread():
        return None
    # The time limit's watcher is a thread: a fork while it is armed would copy its held locks.
    faulthandler.cancel_dump_traceback_later()
    try:
        return _fork(stack, run_one, deadline)
    finally:
        if deadline is not None:
            faulthandler.dump_traceback_later(max(deadline - time.monotonic(), 0.001), exit=True)


def abandon(worker: _Worker | None) -> None:
    """A worker started ahead whose result is not wanted (the first stack failed): stopped and reaped."""
    if worker is not None:
        _stop([worker])


def run_stacks(
    stacks: Sequence[str],
    run_one: Callable[[str], Message],
    emit: Callable[[Message], None],
    *,
    deadline: float | None,
    imported: set[str],
    ahead: _Worker | None = None,
) -> int | None:
    """Runs `stacks` and emits their messages in order, up to the first error; `ahead` is the worker
    start_ahead started for the first of them. `imported` gains the pulumi packages the workers
    imported. Returns the exit status the child must end with when a worker died without a result
    (negative: the signal that killed it), else None."""
    if not stacks:
        return None
    if cores() < 2 or not _only_thread():
        # The program started threads of its own: no fork from here, and one started ahead is let go.
        abandon(ahead)
        for stack in stacks:
            message = run_one(stack)
            emit(message)
            if "error" in message:
                return None
        return None
    return _side_by_side(list(stacks), run_one, emit, deadline, imported, cores(), ahead)


def _only_thread() -> bool:
    """A fork copies only the calling thread, and a lock another thread held would stay held in the
    copy. The engine leaves no thread behind (monitor calls run in the loop's thread: run.py
    `_InlineExecutor`); a program that started threads of its own has its stacks run in turn."""
    return threading.active_count() == 1


def _side_by_side(
    stacks: list[str],
    run_one: Callable[[str], Message],
    emit: Callable[[Message], None],
    deadline: float | None,
    imported: set[str],
    slots: int,
    ahead: _Worker | None,
) -> int | None:
    # The time limit is the workers' now (each arms it for itself); this process only waits.
    faulthandler.cancel_dump_traceback_later()
    # What exists now is shared by every worker: kept out of the collector's passes, it is neither
    # traversed again in each worker nor copied page by page when the collector touches it.
    gc.freeze()
    running: dict[int, _Worker] = {}
    finished: dict[str, _Worker] = {}
    selector = selectors.DefaultSelector()
    if ahead is not None:
        running[ahead.result] = ahead
        selector.register(ahead.result, selectors.EVENT_READ)
    waiting = [stack for stack in stacks if ahead is None or stack != ahead.stack]
    try:
        for stack in stacks:
            while stack not in finished:
                while waiting and len(running) < slots:
                    worker = _fork(waiting.pop(0), run_one, deadline)
                    running[worker.result] = worker
                    selector.register(worker.result, selectors.EVENT_READ)
                _read(selector, running, finished, deadline)
            worker = finished[stack]
            _relay_output(worker)
            message = worker.message()
            if message is None:
                return worker.status or 1
            imported.update(message.pop("imported"))
            emit(message)
            if "error" in message:
                return None
        return None
    finally:
        _stop(running.values())
        selector.close()
        gc.unfreeze()


def _read(
    selector: selectors.BaseSelector, running: dict[int, _Worker], finished: dict[str, _Worker], deadline: float | None
) -> None:
    """Reads what the workers wrote until one finishes (or the time limit and its grace are past: then
    every running worker is killed and counts as finished without a result)."""
    timeout = None if deadline is None else deadline + KILL_GRACE_SECONDS - time.monotonic()
    if timeout is not None and timeout <= 0:
        for worker in list(running.values()):
            _kill(worker)
            _reap(selector, running, finished, worker)
        return
    for key, _ in selector.select(timeout):
        worker = running[int(key.fd)]
        chunk = os.read(worker.result, _CHUNK)
        if chunk:
            worker.received += chunk
        else:
            _reap(selector, running, finished, worker)


def _reap(
    selector: selectors.BaseSelector, running: dict[int, _Worker], finished: dict[str, _Worker], worker: _Worker
) -> None:
    selector.unregister(worker.result)
    os.close(worker.result)
    del running[worker.result]
    _, status = os.waitpid(worker.pid, 0)
    worker.status = os.waitstatus_to_exitcode(status)
    finished[worker.stack] = worker


def _fork(stack: str, run_one: Callable[[str], Message], deadline: float | None) -> _Worker:
    read_end, write_end = os.pipe()
    output = tempfile.TemporaryFile()  # noqa: SIM115 - the worker's output, read and closed once relayed
    # Whatever this process still buffers would otherwise be written again by the worker.
    _flush()
    pid = os.fork()
    if pid == 0:  # the worker
        status = 70  # unless it gets as far as its result
        try:
            os.close(read_end)
            os.dup2(output.fileno(), 1)
            os.dup2(output.fileno(), 2)
            # The inherited loop shares its selector and wake-up pipe with every other worker.
            asyncio.set_event_loop(asyncio.new_event_loop())
            if deadline is not None:
                faulthandler.dump_traceback_later(max(deadline - time.monotonic(), 0.001), exit=True)
            message = run_one(stack)
            message["imported"] = pulumi_packages()
            with os.fdopen(write_end, "wb") as out:
                out.write((json.dumps(message) + "\n").encode())
            status = 0
        except BaseException:  # whatever it was, the worker ends here with its trace
            traceback.print_exc()
        finally:
            _flush()
            os._exit(status)
    os.close(write_end)
    return _Worker(stack, pid, read_end, output)


def _relay_output(worker: _Worker) -> None:
    """The worker's prints (and dump) to this process's stderr, the gate's view of the program."""
    worker.output.seek(0)
    with os.fdopen(2, "wb", closefd=False) as stderr:
        shutil.copyfileobj(worker.output, stderr)
    worker.output.close()


def _kill(worker: _Worker) -> None:
    # Only a worker's own pid: 0 or a negative number would signal a whole process group.
    if worker.pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)


def _stop(workers: Iterable[_Worker]) -> None:
    for worker in list(workers):
        _kill(worker)
        if worker.pid > 0:  # waitpid(0) would wait for any child of the group
            with contextlib.suppress(ChildProcessError):
                os.waitpid(worker.pid, 0)
        with contextlib.suppress(OSError):
            os.close(worker.result)
        worker.output.close()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()

"""Runs a Pulumi Python program in its own interpreter (found by toolchain.py) under the mock engine,
and reads back what it registered.

The child is `<interpreter> -c BOOTSTRAP <mockengine dir>`: the bootstrap keeps the process's stdout as
the result channel and points fd 1 at stderr (the program's prints cannot corrupt a result), checks
the Python version and the `pulumi` SDK, loads policies/gate/mockengine under a private package name
(as policies/__main__.py loads the pack directory: importlib.util.spec_from_file_location, so nothing
of the gate's own site-packages joins the program's sys.path) and hands over to mockengine/child.py.
The request goes on stdin; one JSON result per stack comes back (child.py has the protocol); all the
stacks of a run share the child (later stacks in processes it forks), so the SDK is imported once.

`start` returns at once: the gate imports and prepares the judging side while the program runs, and
iterates `runs` as each stack's result comes in. A program that outlasts the time limit is stopped (the child
dumps its threads' stacks and exits; the gate kills it if it does not) and reported with the place in
the program where it was waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .toolchains.common import Interpreter

ENGINE_DIR = Path(__file__).resolve().parent / "mockengine"
ENGINE_PACKAGE = "_stateless_guard_engine"
MIN_PYTHON = (3, 10)
# How long past the time limit the child gets to dump its stacks before it is killed.
KILL_GRACE_SECONDS = 10.0

# Runs before anything else in the program's interpreter; it must parse on any Python 3.
BOOTSTRAP = f"""\
import gc, os, sys
# A short-lived process over a large, long-lived heap (the SDK and provider modules): the cyclic
# collector's frequent passes cost a third of a program run (bench/README.md, bench.gate).
gc.set_threshold(50000, 20, 1000)
if sys.path and sys.path[0] == "":
    del sys.path[0]
_result_fd = os.dup(1)
os.dup2(2, 1)
import json
def _refuse(kind, message):
    os.write(_result_fd, (json.dumps({{"error": {{"kind": kind, "message": message}}}}) + "\\n").encode())
    sys.exit(0)
if sys.version_info < {MIN_PYTHON!r}:
    _refuse("python", "Python %d.%d.%d" % sys.version_info[:3])
try:
    import pulumi
except ImportError as exc:
    _refuse("sdk", "%s: %s" % (exc.__class__.__name__, exc))
import importlib, importlib.util
_dir = sys.argv[1]
_spec = importlib.util.spec_from_file_location(
    {ENGINE_PACKAGE!r}, os.path.join(_dir, "__init__.py"), submodule_search_locations=[_dir]
)
_module = importlib.util.module_from_spec(_spec)
sys.modules[{ENGINE_PACKAGE!r}] = _module
_spec.loader.exec_module(_module)
importlib.import_module({ENGINE_PACKAGE!r} + ".child").main(_result_fd)
"""

_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<func>.+)$')


class ProgramProcessError(Exception):
    """The program could not be run or judged; `detail` is the child's traceback (for --debug)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class InterpreterUsed:
    """What the program actually ran with, as the child reported it."""

    executable: str
    python: str
    packages: Mapping[str, str] = field(default_factory=dict)
    found_by: str = ""


@functools.cache
def _fields(tp: type) -> tuple[tuple[str, Any], ...]:
    try:
        hints = typing.get_type_hints(tp)
    except Exception:  # an annotation this side cannot resolve: the field keeps its JSON value
        hints = {}
    return tuple((f.name, hints.get(f.name, Any)) for f in dataclasses.fields(tp))


def from_json(tp: Any, value: Any) -> Any:
    """Rebuilds a value of type `tp` (a dataclass, its field types) from child.to_json's output."""
    if value is None:
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp(**{name: from_json(hint, value[name]) for name, hint in _fields(tp) if name in value})
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        for option in options:
            with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
                return from_json(option, value)
        return value
    if tp is Path or tp is os.PathLike:
        return Path(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], v) for v in value)
        if args:
            return tuple(from_json(a, v) for a, v in zip(args, value, strict=False))
        return tuple(value)
    if origin in (frozenset, set):
        item = args[0] if args else Any
        return origin(from_json(item, v) for v in value)
    if origin in (list, Sequence):
        item = args[0] if args else Any
        return [from_json(item, v) for v in value]
    if origin in (dict, Mapping):
        item = args[1] if len(args) == 2 else Any
        return {k: from_json(item, v) for k, v in value.items()}
    if isinstance(tp, type) and tp not in (Any, object) and not isinstance(value, tp):
        if tp is float and isinstance(value, int):
            return float(value)
        raise TypeError(f"expected {tp.__name__}, got {type(value).__name__}")
    return value


def _display(path: str) -> str:
    """A path as a CI log shows it best: relative to the working directory when under it."""
    rel = os.path.relpath(path)
    # Outside it, the path starts with a `..` part (a directory named `..data` inside it does not).
    outside = rel == os.pardir or rel.startswith(os.pardir + os.sep)
    return path if outside else rel


def _is_program_file(path: str, project_dir: Path, venv: Path | None) -> bool:
    """A file of the program itself: under the project (an absolute path, as the gate resolves it), not in
    its virtualenv or any site-packages. Frames faulthandler names `<frozen ...>` or `<string>` are
    under no directory."""
    file = Path(path)
    if "site-packages" in file.parts or "dist-packages" in file.parts:
        return False
    if venv is not None and file.is_relative_to(venv):
        return False
    return file.is_relative_to(project_dir) and not file.is_relative_to(ENGINE_DIR)


def _waiting_place(dump: str, project_dir: Path, venv: Path | None = None) -> str:
    """The innermost frame of the program's own files in a faulthandler dump (each thread most recent
    call first), else the innermost frame of the main thread, which faulthandler lists last."""
    threads: list[list[re.Match[str]]] = []
    for line in dump.splitlines():
        if line.startswith(("Thread 0x", "Current thread 0x")):
            threads.append([])
        elif threads and (m := _FRAME.match(line)):
            threads[-1].append(m)
    for frames in threads:
        for m in frames:
            if _is_program_file(m["file"], project_dir, venv):
                return f"{_display(m['file'])}:{m['line']} (in {m['func']})"
    main = next((frames for frames in reversed(threads) if frames), None)
    if main:
        m = main[0]
        return (
            f"{m['file']}:{m['line']} (in {m['func']}): no frame of the program was running, so it was waiting "
            "for an Output that never resolves or a call that never returns"
        )
    return "an unknown place (the interpreter wrote no stack dump)"


@dataclass
class ProgramProcess:
    interpreter: Interpreter
    project_dir: Path
    stacks: list[str]
    timeout: float | None
    process: subprocess.Popen[bytes]
    started: float

    @classmethod
    def start(
        cls,
        interpreter: Interpreter,
        program_dir: Path,
        stacks: Sequence[str],
        *,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = 300.0,
        debug: bool = False,
        cwd: Path | None = None,
    ) -> ProgramProcess:
        request = {
            "program": str(program_dir),
            "project_dir": str(program_dir),
            "stacks": list(stacks),
            "options": dict(options or {}),
            "timeout": timeout,
            "debug": debug,
        }
        try:
            process = subprocess.Popen(
                [str(interpreter.executable), "-c", BOOTSTRAP, str(ENGINE_DIR)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd or program_dir,
                env=dict(interpreter.env) if interpreter.env else None,
            )
        except OSError as exc:
            raise ProgramProcessError(
                f"cannot start the program's interpreter {interpreter.executable} ({interpreter.how}): "
                f"{exc.strerror or exc}"
            ) from None
        # Written by a thread of its own, so that the gate goes on whatever the request's size.
        threading.Thread(
            target=_write_and_close, args=(process.stdin, json.dumps(request).encode()), daemon=True
        ).start()
        return cls(interpreter, program_dir, list(stacks), timeout, process, time.monotonic())

    def __post_init__(self) -> None:
        # Both pipes are drained as the child writes them: results are judged as they come (the child
        # runs the next stack meanwhile), and a program that prints a lot never blocks on a full pipe.
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: list[bytes] = []
        self._readers = [
            threading.Thread(target=_read_lines, args=(self.process.stdout, self._lines.put), daemon=True),
            threading.Thread(target=_read_all, args=(self.process.stderr, self._stderr.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.used: InterpreterUsed | None = None
        self.killed = False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)

    def _messages(self) -> Iterator[dict[str, Any]]:
        """The child's result lines as they come; stops at the end of the channel or at the deadline
        (then `self.killed`)."""
        deadline = None if self.timeout is None else self.started + self.timeout + KILL_GRACE_SECONDS
        self.killed = False
        while True:
            try:
                line = self._lines.get(timeout=None if deadline is None else max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                self.killed = True
                self.process.kill()
                return
            if line is None:
                return
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict):
                    yield message

    def _finish(self) -> str:
        """Waits for the child and both readers; the child's stderr."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=KILL_GRACE_SECONDS)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=KILL_GRACE_SECONDS)
        return b"".join(self._stderr).decode("utf-8", "replace")

    def runs(self, run_type: Any) -> Iterator[tuple[str, Any]]:
        """(stack, run) for every stack in order as the child reports it, runs rebuilt as `run_type`;
        ProgramProcessError when the program could not give one. `self.used` is the interpreter the
        program ran with, once all are done."""
        done: set[str] = set()
        error: Mapping[str, Any] | None = None
        for message in self._messages():
            if "error" in message:
                error = message["error"]
                break
            if "run" in message:
                done.add(message["stack"])
                yield message["stack"], from_json(run_type, message["run"])
            elif "interpreter" in message:
                used = message["interpreter"]
                self.used = InterpreterUsed(
                    used["executable"], used["python"], used.get("packages") or {}, self.interpreter.how
                )
        err = self._finish()
        dumped = "Timeout (" in err and "most recent call first" in err
        before, _, dump = err.partition("Timeout (") if dumped else (err, "", "")
        _forward(before)
        if error is not None:
            raise process_error(self.interpreter, error)
        missing = [s for s in self.stacks if s not in done]
        if not missing:
            return
        if dumped or self.killed:
            place = _waiting_place(dump, self.project_dir, self.interpreter.virtualenv)
            raise ProgramProcessError(
                f"the program did not finish within {self.timeout:g} s (--timeout) for stack {missing[0]!r}; "
                f"it was waiting at {place}",
                dump,
            )
        status = self.process.returncode
        last = next((line.strip() for line in reversed(err.splitlines()) if line.strip()), "")
        raise ProgramProcessError(
            f"the program's interpreter {self.interpreter.executable} stopped with status {status} before "
            f"stack {missing[0]!r} was done" + (f": {last}" if last else ""),
            err,
        )


def process_error(interpreter: Interpreter, error: Mapping[str, Any]) -> ProgramProcessError:
    """The gate's one line (and, for --debug, the program's traceback) for an error line of the child."""
    kind = error.get("kind")
    message = str(error.get("message") or "")
    interp = f"{interpreter.executable} ({interpreter.how})"
    if kind == "sdk":
        return ProgramProcessError(
            f"the program's interpreter {interp} has no Pulumi SDK ({message}); install the program's "
            f"packages into it: {interpreter.install_hint}"
        )
    if kind == "python":
        version = ".".join(str(n) for n in MIN_PYTHON)
        return ProgramProcessError(
            f"the program's interpreter {interp} is {message}; the gate runs programs on Python {version} or newer"
        )
    if kind == "program":
        where = error.get("where")
        location = f"{_display(where[0])}:{where[1]}: " if where else ""
        return ProgramProcessError(f"{location}the program failed: {message}", error.get("traceback") or "")
    if kind == "engine":
        return ProgramProcessError(f"the mock engine failed: {message}", error.get("traceback") or "")
    return ProgramProcessError(message)


def _write_and_close(stream: IO[bytes] | None, data: bytes) -> None:
    if stream is None:
        return
    with contextlib.suppress(OSError):  # a child that died before reading it is reported from its exit
        stream.write(data)
    with contextlib.suppress(OSError):
        stream.close()


def _read_lines(stream: IO[bytes] | None, put: Callable[[bytes | None], None]) -> None:
    if stream is not None:
        for line in stream:
            put(line)
    put(None)


def _read_all(stream: IO[bytes] | None, append: Callable[[bytes], None]) -> None:
    if stream is not None:
        while chunk := stream.read(65536):
            append(chunk)


def _forward(text: str) -> None:
    """The program's own output (and warnings) to the gate's stderr, as the CLI shows it."""
    if text:
        sys.stderr.write(text)
        sys.stderr.flush()

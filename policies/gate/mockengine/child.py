"""The mock engine's entry point in the program's own interpreter (started by
policies/gate/program_process.py, which loads this directory under a private package name).

Protocol: one JSON request on stdin, `{"program": DIR, "stacks": [...], "options": {run_program
keyword arguments}, "timeout": SECONDS | null, "debug": bool}`; on the result channel (the process's
original stdout, which nothing else writes to: the program's prints go to stderr), one JSON line per
stack, `{"stack", "run": ProgramRun as JSON}` or `{"stack", "error": {"kind", "message", "where",
"traceback"}}`, the first error ending the run, then `{"interpreter": {...}}`. The first stack runs in
this process; the second may start ahead in a process forked before that run, and the others run in
processes forked from this one once the first is done (stack_workers.py): the SDK is imported once,
the program's provider modules once for the first stack and every stack after the second, and the
stacks share the cores. A run that outlasts the
timeout gets its threads' stacks dumped on stderr (faulthandler) and the process ends; the gate reads
the place from the dump.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import json
import os
import platform
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath
from typing import IO, Any

from . import assets, stack_workers

ENGINE_DIR = Path(__file__).resolve().parent


def to_json(value: Any) -> Any:
    """A dataclass tree (ProgramRun and everything in it) as plain JSON values: dataclasses as objects
    of their fields, tuples and sets as lists, paths as strings. Any field the engine adds travels
    with it; the gate rebuilds the dataclasses from their type hints (program_process.from_json)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_json(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    asset = _serialized_asset(value)
    if asset is not None:
        return asset
    # A stack output that is an SDK object (an exported resource, an asset): its text is what a
    # report can show of it.
    return str(value)


def _serialized_asset(value: Any) -> dict[str, Any] | None:
    """An asset or archive (in a resource's state) as the engine serializes it: the signature and its
    text, path, uri or members (sdk/go/common/resource/asset, archive: Serialize)."""
    import pulumi

    if isinstance(value, pulumi.Asset | pulumi.Archive):
        sig = assets.ASSET_SIG if isinstance(value, pulumi.Asset) else assets.ARCHIVE_SIG
        out: dict[str, Any] = {assets.SIG_KEY: sig}
        for attr in ("text", "path", "uri"):
            if isinstance(getattr(value, attr, None), str):
                out[attr] = getattr(value, attr)
        if isinstance(value, pulumi.AssetArchive):
            out["assets"] = {k: to_json(v) for k, v in value.assets.items()}
        return out
    return None


def _inside(path: str, directory: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), directory]) == directory
    except ValueError:
        return False


def _foreign_dirs() -> list[str]:
    """Where code that is not the program's lives, even inside the project directory (a .venv)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(ENGINE_DIR)}
    dirs.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return [os.path.abspath(d) for d in dirs if d]


def is_user_file(path: str, project_dir: str) -> bool:
    return _inside(path, project_dir) and not any(_inside(path, d) for d in _foreign_dirs())


def user_frame(exc: BaseException, project_dir: str) -> tuple[str, int] | None:
    """The innermost frame of the program's own files in the traceback of the exception the program
    raised (the one whose message is reported), else of the exceptions it was raised from."""
    from .run import exception_chain

    for current in exception_chain(exc):
        found = None
        for frame, line in traceback.walk_tb(current.__traceback__):
            if is_user_file(frame.f_code.co_filename, project_dir):
                found = (frame.f_code.co_filename, line)
        if found is not None:
            return found
    return None


def _describe_interpreter(imported: Iterable[str] = ()) -> dict[str, Any]:
    from importlib import metadata

    packages: dict[str, str] = {}
    for name in sorted({*stack_workers.pulumi_packages(), *imported}):
        if name == "pulumi" or name.startswith("pulumi_"):
            dist = name.replace("_", "-")
            try:
                packages[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
    return {"executable": sys.executable, "python": platform.python_version(), "packages": packages}


def _emit(out: IO[str], message: Mapping[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def run_one(program: str, stack: str, options: Mapping[str, Any], project_dir: str) -> dict[str, Any]:
    """One stack's result line: its run, or the error that ended it."""
    from .project import ProjectError
    from .run import ProgramError, run_program

    try:
        return {"stack": stack, "run": to_json(run_program(program, stack, **options))}
    except ProjectError as exc:
        return {"stack": stack, "error": {"kind": "project", "message": str(exc)}}
    except ProgramError as exc:
        # The engine's own finding first (a failed callback's frame, a refused registration's
        # source position), else the innermost frame of the program's files in the traceback.
        where = exc.where or user_frame(exc, project_dir)
        return {
            "stack": stack,
            "error": {
                "kind": "program",
                "message": str(exc),
                "where": list(where) if where else None,
                "traceback": "".join(traceback.format_exception(exc)),
            },
        }
    except Exception as exc:  # the engine itself: still one line for the gate, the trace with --debug
        return {
            "stack": stack,
            "error": {
                "kind": "engine",
                "message": f"{exc.__class__.__name__}: {exc}",
                "traceback": "".join(traceback.format_exception(exc)),
            },
        }


def serve(request: Mapping[str, Any], out: IO[str]) -> int | None:
    """Answers one request on `out` (the protocol above). Returns the exit status the process must end
    with when a later stack's process died without a result (negative: the signal), else None."""
    timeout = request.get("timeout")
    deadline = time.monotonic() + float(timeout) if timeout else None
    if timeout:
        # exit=True: the process ends right after the dump, before the gate has to kill it.
        faulthandler.dump_traceback_later(float(timeout), exit=True)
    program = request["program"]
    project_dir = os.path.abspath(request.get("project_dir") or program)
    options = dict(request.get("options") or {})
    stacks = list(request["stacks"])
    imported: set[str] = set()
    status: int | None = None

    def run_here(stack: str) -> dict[str, Any]:
        return run_one(program, stack, options, project_dir)

    # The second stack starts ahead on another core; the first runs here, importing what the program
    # imports; the others start from that.
    ahead = stack_workers.start_ahead(stacks[1], run_here, deadline) if len(stacks) > 1 else None
    first = run_here(stacks[0]) if stacks else None
    if first is not None:
        _emit(out, first)
    if first is not None and "error" not in first:
        status = stack_workers.run_stacks(
            stacks[1:],
            run_here,
            lambda message: _emit(out, message),
            deadline=deadline,
            imported=imported,
            ahead=ahead,
        )
    else:
        stack_workers.abandon(ahead)
    faulthandler.cancel_dump_traceback_later()
    if status is None:
        _emit(out, {"interpreter": _describe_interpreter(imported)})
    return status


def main(result_fd: int) -> None:
    request = json.load(sys.stdin)
    if not request.get("debug"):
        warnings.simplefilter("ignore")
    out = os.fdopen(result_fd, "w", encoding="utf-8")
    status = serve(request, out)
    out.close()
    # The process ends here without the interpreter's teardown: freeing the SDK's and the provider's
    # module heap one object at a time takes longer than a stack's run (bench/README.md). The
    # program's own output is flushed first; nothing else is left to run.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if status is not None and status < 0:
        # A worker killed by a signal: this process ends the same way, as one process running the
        # stacks in turn would have.
        with contextlib.suppress(OSError):  # SIGKILL and SIGSTOP have no handler to reset
            signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    os._exit(status or 0)

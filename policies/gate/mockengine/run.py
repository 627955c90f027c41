"""Runs a Pulumi Python program under the SDK's mock engine and captures every resource it registers.

No Pulumi CLI, no provider plugin and no cloud credentials are involved: the program's resource
registrations go to an in-process monitor that records them (type, name, URN, parent, dependencies,
inputs with camelCase engine keys, the declaring file and line, whether the registration was remote:
a multi-language component that only the engine's provider could fill) and answers with the
provider answers of answers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import runpy
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor, Mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from . import assets
from .answers import DEFAULT_REGION, mock_invoke, mock_outputs
from .project import ProjectError, StackConfig, _qualify, load_project, load_stack_config
from .records import Resource

_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class ProgramError(Exception):
    """The program itself failed while it ran; the original exception is the __cause__."""



@dataclass(frozen=True)
class ProgramRun:
    project: str
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    config: StackConfig

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def by_urn(self) -> dict[str, Resource]:
        return {r.urn: r for r in self.resources}

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)}")
        return found[0]


def _engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    # The engine hands every value to the program as a string; structured values as JSON.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def _unwrap(value: Any, path: str, secret_paths: list[str]) -> Any:
    """Secret markers off, unknowns to None, resource references to their URN; records secret paths."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            secret_paths.append(path or ".")
            return _unwrap(value.get("value"), path, secret_paths)
        if sig is not None and "urn" in value:
            return value["urn"]
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    if value == _UNKNOWN:
        return None
    return value


def _struct_to_python(struct: Any) -> Any:
    return _integral(json_format.MessageToDict(struct)) if struct is not None else {}


def _integral(value: Any) -> Any:
    # protobuf Structs carry every number as a double; 5432.0 reads back as the 5432 the program wrote.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


class _Mocks(Mocks):
    def __init__(self, region: str) -> None:
        self.region = region

    def call(self, args: Any) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return mock_invoke(args.token, args.args, self.region), []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return mock_outputs(args.typ, args.name, args.inputs, self.region)


def _make_monitor(mocks: Mocks, workdir: Path) -> Any:
    class CapturingMonitor(MockMonitor):
        def __init__(self) -> None:
            super().__init__(mocks)
            self.captured: list[Resource] = []
            self.stack_outputs: dict[str, Any] = {}

        def RegisterResource(self, request: Any) -> Any:
            # The engine reads every asset and archive when it registers a resource (mockengine/assets.py).
            assets.read_registered(request.type, request.name, _struct_to_python(request.object), workdir)
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            secret_paths: list[str] = []
            inputs = _unwrap(_struct_to_python(request.object), "", secret_paths)
            reg = self.resources.get(response.urn)
            self.captured.append(
                Resource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=inputs,
                    parent=request.parent or None,
                    dependencies=tuple(request.dependencies),
                    property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
                    custom=bool(request.custom),
                    provider=request.provider or None,
                    protect=bool(request.protect),
                    secret_paths=tuple(secret_paths),
                    options={
                        "ignoreChanges": list(request.ignoreChanges),
                        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                        "retainOnDelete": bool(request.retainOnDelete),
                        "additionalSecretOutputs": list(request.additionalSecretOutputs),
                        "deletedWith": request.deletedWith or None,
                        "aliases": list(request.aliasURNs),
                    },
                    outputs=_unwrap(dict(reg.state), "", []) if reg is not None else {},
                    remote=bool(request.remote),
                    source=_source_position(request),
                )
            )
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:
            assets.read_registered("outputs of", request.urn, _struct_to_python(request.outputs), workdir)
            return super().RegisterResourceOutputs(request)

    return CapturingMonitor()


def _source_position(request: Any) -> tuple[str, int] | None:
    # The SDK sends the declaring frame as a file:// URI and a 1-based line
    # (pulumi/runtime/resource.py `_get_source_position_for_frame`; proto/pulumi/source.proto).
    if not request.HasField("sourcePosition"):
        return None
    position = request.sourcePosition
    parsed = urllib.parse.urlparse(position.uri)
    if parsed.scheme != "file" or position.line < 1:
        return None
    return urllib.request.url2pathname(parsed.path), int(position.line)


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _program_context(main_dir: Path) -> Iterator[None]:
    """cwd and import path as the Python language host sets them; the program's own modules are
    forgotten afterwards so that the next run imports them afresh."""
    before = set(sys.modules)
    old_cwd = Path.cwd()
    old_path = list(sys.path)
    os.chdir(main_dir)
    sys.path.insert(0, str(main_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        root = str(main_dir)
        # A virtualenv inside the program's directory (`main: .` beside `.venv`) holds the SDK and the
        # providers, which stay imported: a provider package registers itself once per process.
        installed = tuple(p for p in {sys.prefix, sys.exec_prefix, sys.base_prefix} if p)
        for mod in set(sys.modules) - before:
            file = getattr(sys.modules[mod], "__file__", None) or ""
            if file.startswith(root) and not file.startswith(installed) and "site-packages" not in file:
                del sys.modules[mod]


def run_program(
    program_dir: Path | str,
    stack: str,
    *,
    config_file: Path | str | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Runs the program for `stack` under the mock engine and returns what it registered.

    `config_overrides` keys may be fully qualified (`project:key`) or bare (the project's namespace);
    they win over the stack file, as `pulumi config set` would.
    """
    project = load_project(program_dir)
    config = load_stack_config(project, stack, config_file)
    values = dict(config.values)
    for key, value in (config_overrides or {}).items():
        values[_qualify(key, project.name)] = value
    config = StackConfig(values, config.secret_keys, config.path)
    region = str(values.get("aws:region") or DEFAULT_REGION)

    mocks = _Mocks(region)
    monitor = _make_monitor(mocks, project.main_dir)
    errors = _ErrorLog()
    logger = logging.getLogger("stateless.mockengine")
    logger.propagate = False
    logger.handlers[:] = [errors]

    runtime_settings.ROOT.set(None)
    runtime_config.set_all_config(_engine_config(values), sorted(config.secret_keys))
    runtime_mocks.set_mocks(
        mocks,
        project=project.name,
        stack=stack,
        preview=preview,
        logger=logger,
        monitor=monitor,
    )
    runtime_settings.SETTINGS.root_directory = str(project.directory)
    root = runtime_settings.get_root_resource()

    def program() -> None:
        runpy.run_path(str(project.entry), run_name="__main__")

    try:
        with _program_context(project.main_dir):
            _sync_await(run_pulumi_func(program))
            outputs = _resolve_outputs(root, _sync_await)
    except SystemExit as exc:
        settle_failed_run()
        raise ProgramError(f"the program exited with status {exc.code}") from exc
    except pulumi.RunError as exc:
        settle_failed_run()
        raise ProgramError(str(exc)) from exc
    except Exception as exc:
        settle_failed_run()
        raise ProgramError(_describe(exc)) from exc
    if errors.messages:
        raise ProgramError(errors.messages[0])
    return ProgramRun(project.name, stack, list(monitor.captured), outputs, config)


def settle_failed_run() -> None:
    """Finishes what a failed program left in flight and marks its errors as read.

    Registrations still running when a program fails hold futures whose exceptions nobody awaits;
    left to the garbage collector, CPython 3.11 can later fail in unrelated code ("AST constructor
    recursion depth mismatch"), so a failed run is settled before the next one starts.
    """
    loop = asyncio.get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()
    # A registration that failed stays among the outputs the runtime waits for, which outlive a run.
    runtime_settings.SETTINGS.outputs.clear()


def _resolve_outputs(root: Any, sync_await: Any) -> dict[str, Any]:
    exported = getattr(root, "outputs", None) or {}
    resolved: dict[str, Any] = {}
    for key, value in exported.items():
        out = pulumi.Output.from_input(value)
        resolved[key] = _unwrap(sync_await(out.future(with_unknowns=True)), key, [])
    return resolved


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text if isinstance(exc, ValueError | ProjectError) else f"{exc.__class__.__name__}: {text}"

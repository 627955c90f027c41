"""Runs a Pulumi Python program under the SDK's mock engine and captures every resource it registers.

No Pulumi CLI, no provider plugin and no cloud credentials are involved: the program's resource
registrations go to an in-process monitor that records them (type, name, URN, parent, dependencies,
inputs with camelCase engine keys, the declaring file and line, whether the registration was remote:
a multi-language component that only the engine's provider could fill) and answers with the
provider answers of answers.py.

The run is a preview, as `pulumi preview` runs a program (`is_dry_run()` true): what the mock provider
does not answer is unknown, `apply` callbacks over unknowns do not run, and unknown inputs reach the
record as the engine's UNKNOWN sentinel (records.UNKNOWN), which the judging side treats as "cannot be
judged" as the policy analyzer does. What the run could not see is reported with it: apply callbacks
that did not run, invokes nobody answered, stack references without supplied outputs, and the
property paths of each resource's unknown inputs. The engine's own refusals (a duplicate URN, a parent
never registered) fail the run as they fail a deployment.
"""

from __future__ import annotations

import asyncio
import collections.abc
import concurrent.futures
import contextlib
import contextvars
import gc
import importlib
import json
import logging
import os
import runpy
import sys
import traceback
import typing
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi import _types
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import rpc as runtime_rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import provider_pb2, resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from . import assets
from .answers import DEFAULT_REGION, mock_invoke, mock_outputs
from .project import ProjectError, StackConfig, _qualify, load_project, load_stack_config
from .records import UNKNOWN, Resource

# The SDK's wire signatures.
_SECRET_SIG = runtime_rpc._special_secret_sig
_RESOURCE_SIG = runtime_rpc._special_resource_sig
_SIG_KEY = runtime_rpc._special_sig_key
_UNKNOWN = UNKNOWN
_STACK_REFERENCE = "pulumi:pulumi:StackReference"

# The SDK and provider packages' own `apply` calls (attribute lifts, StackReference.get_output, ...)
# are plumbing; the count is of the program's callbacks.
_SDK_DIR = os.path.dirname(pulumi.__file__) + os.sep
# The module, not the function `pulumi.runtime.invoke` that the package exports under its name.
_INVOKE_MODULE: Any = importlib.import_module("pulumi.runtime.invoke")


class ProgramError(Exception):
    """The program itself failed while it ran; the original exception is the __cause__.

    `where` is the (file, line) of the program's own frame the failure came from, when there is one."""

    def __init__(self, message: str, where: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class ProgramRun:
    project: str
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    config: StackConfig
    # What the preview could not see (all plain values, so that a run round-trips through JSON):
    # apply callbacks that did not run because an input was unknown,
    unrun_callbacks: int = 0
    # invokes no answer exists for, [{"token", "count"}],
    unanswered_invokes: list[dict[str, Any]] = field(default_factory=list)
    # every StackReference and whether its outputs were supplied, [{"name", "supplied"}],
    stack_references: list[dict[str, Any]] = field(default_factory=list)
    # and, per URN, the property paths of inputs that were unknown.
    unknown_inputs: dict[str, list[str]] = field(default_factory=dict)
    preview: bool = True
    # With assets="lenient": the assets and archives whose paths did not exist, one line each
    # (resource, property, path); a strict run fails on the first instead.
    missing_assets: list[str] = field(default_factory=list)

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


def _unwrap(value: Any, path: str, secret_paths: list[str], unknown_paths: list[str] | None = None) -> Any:
    """Secret markers off, resource references to their URN, unknowns kept as the UNKNOWN sentinel;
    records secret paths and unknown paths."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            secret_paths.append(path or ".")
            return _unwrap(value.get("value"), path, secret_paths, unknown_paths)
        if sig is not None and "urn" in value:
            return value["urn"]
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secret_paths, unknown_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secret_paths, unknown_paths) for i, v in enumerate(value)]
    if isinstance(value, pulumi.output.Unknown):
        return _UNKNOWN
    if isinstance(value, str) and (value == _UNKNOWN or UNANSWERED_MARK in value):
        if unknown_paths is not None:
            unknown_paths.append(path or ".")
        return _UNKNOWN
    return value


def _provider_view(value: Any) -> Any:
    """Inputs as a provider receives them: secrets unwrapped, a resource reference downgraded to its
    ID (a component's: its URN), as the engine does for providers that do not accept references
    (pulumi/pulumi sdk/go/common/resource/plugin/rpc.go MarshalPropertyValue, KeepResources false);
    unknowns stay the sentinel, so that a provider answer echoing them stays unknown.

    No resource object is rebuilt from a reference. The SDK's MockMonitor does (rpc.deserialize_properties
    -> get_resource), on the executor thread's own event loop; the program's loop then awaits those
    objects' tracked outputs. Depending on thread timing that fails ("Task ... attached to a different
    loop", e.g. `role=lambda_role`) or waits forever for a loop nobody runs again (pulumi-eks node groups
    given `cluster=cluster`)."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            return _provider_view(value.get("value"))
        if sig == _RESOURCE_SIG:
            return value.get("id") or value.get("urn")
        return {k: _provider_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_provider_view(v) for v in value]
    return value


def _struct(values: Mapping[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(values, default=str)))
    return struct


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
        # Abstract in Mocks, never reached: the monitor's own Invoke answers every invoke (it counts
        # the unanswered ones and answers output-form invokes with unknowns, which `call` cannot).
        raise NotImplementedError

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return mock_outputs(args.typ, args.name, args.inputs, self.region)


# Set while an output-form invoke (`get_x_output`) is under way: its result may be unknown, as the
# engine answers an invoke it declines (ResourceInvokeResponse.unknown). A plain invoke's result is
# a plain value the program uses at once, so it gets the (possibly empty) answer as before.
_OUTPUT_INVOKE: contextvars.ContextVar[bool] = contextvars.ContextVar("stateless_output_invoke", default=False)
# The result type a plain invoke asked for, to answer an unanswered one with a well-shaped stand-in.
_PLAIN_RESULT: contextvars.ContextVar[Any] = contextvars.ContextVar("stateless_plain_result", default=None)

# Strings that stand for a value an unanswered plain invoke would have returned. A plain invoke's
# result is used at once (in an f-string, as an input), so it cannot be an unknown Output; wherever
# the marker reaches a resource input, the capture turns that input into UNKNOWN (not judged).
UNANSWERED_MARK = "unanswered-invoke:"


def _stand_in(typ: Any, token: str, path: str, depth: int = 0) -> Any:
    """A value of the shape `typ` with every string a marker naming the invoke and the property."""
    origin = typing.get_origin(typ)
    if typ is str:
        return f"{UNANSWERED_MARK}{token}:{path}"
    if typ is bool:
        return False
    if typ in (int, float):
        return 0
    if origin in (list, collections.abc.Sequence) or typ in (list,):
        return []
    if origin in (dict, collections.abc.Mapping) or typ in (dict,):
        return {}
    if depth < 3 and isinstance(typ, type) and _types.is_output_type(typ):
        return {
            name: _stand_in(t, token, f"{path}.{name}" if path else name, depth + 1)
            for name, t in _types.output_type_types(typ).items()
        }
    return None


class _Findings:
    """What the run could not see, gathered while it runs."""

    def __init__(self, stack_references: Mapping[str, Mapping[str, Any]], assets: str = "strict") -> None:
        self.unrun_callbacks = 0
        # With assets="lenient", the assets whose paths do not exist (not read, not failing the run).
        self.missing_assets: list[str] | None = [] if assets == "lenient" else None
        self.unanswered: Counter[str] = Counter()
        self.supplied = {name: dict(values) for name, values in stack_references.items()}
        self.references: dict[str, bool] = {}


def _is_program_code(filename: str) -> bool:
    """Code outside the SDK and the provider packages (site-packages/pulumi_aws/..., pulumi_eks/...)."""
    if filename.startswith(_SDK_DIR):
        return False
    return not any(part.startswith("pulumi_") for part in Path(filename).parts[:-1])


@contextlib.contextmanager
def _counting_applies(findings: _Findings, project_dir: Path) -> Iterator[None]:
    """Counts the program's apply callbacks that did not run because their input was unknown (under
    preview the SDK skips them: pulumi/output.py Output.apply, `if not (is_known or
    run_with_unknowns)`), and marks output-form invokes."""
    original_apply = pulumi.Output.apply
    original_invoke_output = _INVOKE_MODULE.invoke_output
    original_invoke = _INVOKE_MODULE.invoke

    def apply(self: Any, func: Callable[[Any], Any], run_with_unknowns: bool = False) -> Any:
        # Who calls apply decides whose callback it is: Output.concat's "".join or an attribute lift
        # is the SDK's; `ids.apply(len)` in the program is the program's.
        if run_with_unknowns or not _is_program_code(sys._getframe(1).f_code.co_filename):
            return original_apply(self, func, run_with_unknowns)
        ran = False

        def callback(value: Any) -> Any:
            nonlocal ran
            ran = True
            try:
                return func(value)
            except Exception as exc:
                # Where the program's callback failed: awaiting the failed output elsewhere re-raises
                # the error with only the awaiting frames.
                if getattr(exc, _WHERE, None) is None:
                    setattr(exc, _WHERE, _program_frame(exc.__traceback__, project_dir))
                raise

        result = original_apply(self, callback, run_with_unknowns)

        def settled(data: Any) -> None:
            if ran or data.cancelled() or data.exception() is not None:
                return
            if not data.result().is_known:
                findings.unrun_callbacks += 1

        result._data.add_done_callback(settled)
        return result

    def invoke_output(*args: Any, **kwargs: Any) -> Any:
        token = _OUTPUT_INVOKE.set(True)
        try:
            return original_invoke_output(*args, **kwargs)
        finally:
            _OUTPUT_INVOKE.reset(token)

    pulumi.Output.apply = apply  # type: ignore[method-assign]
    def invoke(tok: str, props: Any, opts: Any = None, typ: Any = None, package_ref: Any = None) -> Any:
        token = _PLAIN_RESULT.set(typ)
        try:
            return original_invoke(tok, props, opts, typ, package_ref)
        finally:
            _PLAIN_RESULT.reset(token)

    # Provider SDKs call `pulumi.runtime.invoke[_output]`; the *_single forms call the module's own.
    _INVOKE_MODULE.invoke_output = invoke_output
    pulumi.runtime.invoke_output = invoke_output
    _INVOKE_MODULE.invoke = invoke
    pulumi.runtime.invoke = invoke
    try:
        yield
    finally:
        pulumi.Output.apply = original_apply  # type: ignore[method-assign]
        _INVOKE_MODULE.invoke_output = original_invoke_output
        pulumi.runtime.invoke_output = original_invoke_output
        _INVOKE_MODULE.invoke = original_invoke
        pulumi.runtime.invoke = original_invoke


def _make_monitor(mocks: Mocks, workdir: Path, found: _Findings) -> Any:
    class CapturingMonitor(MockMonitor):
        def __init__(self) -> None:
            super().__init__(mocks)
            self.captured: list[Resource] = []
            self.unknown_inputs: dict[str, list[str]] = {}
            self.urns: set[str] = set()

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            # As the engine writes it: a child of the root stack has no parent type in its URN
            # (pulumi/pulumi sdk/go/common/resource/urn.go New, 80-93: the parent type is left out when
            # it is the root stack's). The SDK's MockMonitor.make_urn prefixes `pulumi:pulumi:Stack$`,
            # which real URNs (`pulumi stack --show-urns`, exports, waivers, baselines) never have.
            if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
                parent = ""
            return str(super().make_urn(parent, type_, name))

        def RegisterResource(self, request: Any) -> Any:
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == "pulumi:pulumi:Stack":
                self.urns.add(urn)
                return resource_pb2.RegisterResourceResponse(urn=urn)
            # The engine's refusals at registration (pulumi/pulumi pkg/resource/deploy/source_eval.go
            # resmon.RegisterResource -> tokens.ParseTypeToken for custom and remote types;
            # step_generator.go generateURN -> diag.GetDuplicateResourceURNError, checkParent).
            if (request.custom or request.remote) and request.type.count(":") < 2:
                raise ProgramError(
                    f"Type '{request.type}' is not a valid type token (must have format '*:*:*')",
                    _source_position(request),
                )
            if urn in self.urns:
                raise ProgramError(
                    f"Duplicate resource URN '{urn}'; try giving it a unique name", _source_position(request)
                )
            if request.parent and request.parent not in self.urns:
                raise ProgramError(f"could not find parent resource {request.parent}", _source_position(request))
            self.urns.add(urn)
            raw = _struct_to_python(request.object)
            # The engine reads every asset and archive when it registers a resource (mockengine/assets.py).
            assets.read_registered(request.type, request.name, raw, workdir, found.missing_assets)
            if request.remote:
                # A multi-language component: only its provider's Construct could answer, so every
                # output is unknown under preview.
                rid, state = "", dict[str, Any]()
            else:
                given_id, state = mocks.new_resource(
                    MockResourceArgs(
                        typ=request.type,
                        name=request.name,
                        inputs=_provider_view(raw),
                        provider=request.provider,
                        resource_id=request.importId,
                        custom=request.custom or False,
                    )
                )
                rid = given_id or ""
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, rid, state)
            secret_paths: list[str] = []
            unknown_paths: list[str] = []
            inputs = _unwrap(raw, "", secret_paths, unknown_paths)
            if unknown_paths:
                self.unknown_inputs[urn] = unknown_paths
            self.captured.append(
                Resource(
                    urn=urn,
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
                        "aliases": _aliases(request),
                    },
                    outputs=_unwrap(state, "", []),
                    remote=bool(request.remote),
                    source=_source_position(request),
                )
            )
            return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=_struct(state))

        def ReadResource(self, request: Any) -> Any:
            urn = self.make_urn(request.parent, request.type, request.name)
            raw = _provider_view(_struct_to_python(request.properties))
            if request.type == _STACK_REFERENCE:
                name = str(raw.get("name") or request.id)
                supplied = found.supplied.get(name)
                found.references[name] = supplied is not None
                # Without supplied outputs they are unknown, as for a stack a preview cannot read.
                state: dict[str, Any] = {"name": name}
                if supplied is not None:
                    state.update(outputs=supplied, secretOutputNames=[])
                rid = name
            else:
                given_id, state = mocks.new_resource(
                    MockResourceArgs(
                        typ=request.type, name=request.name, inputs=raw, provider=request.provider,
                        resource_id=request.id,
                    )
                )
                rid = given_id or request.id
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, rid, state)
            self.urns.add(urn)
            return resource_pb2.ReadResourceResponse(urn=urn, properties=_struct(state))

        def Invoke(self, request: Any) -> Any:
            args = _provider_view(_struct_to_python(request.args))
            if request.tok == "pulumi:pulumi:getResource":
                reg = self.resources.get(str(args.get("urn")))
                if reg is None:
                    raise ProgramError(f"unknown resource {args.get('urn')}")
                return resource_pb2.ResourceInvokeResponse(
                    **{"return": _struct({"urn": reg.urn, "id": reg.id, "state": reg.state})}
                )
            answer = mock_invoke(request.tok, args, str(getattr(mocks, "region", DEFAULT_REGION)))
            if answer is None:
                found.unanswered[request.tok] += 1
                if _OUTPUT_INVOKE.get():
                    return resource_pb2.ResourceInvokeResponse(unknown=True)
                typ = _PLAIN_RESULT.get()
                answer = _stand_in(typ, request.tok, "") if typ is not None else None
                answer = answer if isinstance(answer, dict) else {}
            return resource_pb2.ResourceInvokeResponse(**{"return": _struct(answer)})

        def Call(self, request: Any) -> Any:
            # A method of a multi-language component (e.g. an eks Cluster's getKubeconfig): only its
            # provider could answer; the result is unknown, as under preview for a resource to create.
            found.unanswered[request.tok] += 1
            # An unknown value makes the SDK resolve the whole result as unknown (invoke.py `call`).
            return provider_pb2.CallResponse(**{"return": _struct({"result": _UNKNOWN})})

        def RegisterResourceOutputs(self, request: Any) -> Any:
            assets.read_registered(
                "outputs of", request.urn, _struct_to_python(request.outputs), workdir, found.missing_assets
            )
            return super().RegisterResourceOutputs(request)

    return CapturingMonitor()


def _aliases(request: Any) -> list[Any]:
    """The registration's aliases as plain values: old URNs, and alias specs as dicts of the proto's
    fields (proto/pulumi/alias.proto `Alias.Spec`), which the engine turns into URNs itself (the SDK
    sends specs when the monitor supports them, as MockMonitor does)."""
    out: list[Any] = list(request.aliasURNs)
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            out.append(alias.urn)
        elif alias.WhichOneof("alias") == "spec":
            spec = alias.spec
            out.append(
                {
                    "name": spec.name,
                    "type": spec.type,
                    "stack": spec.stack,
                    "project": spec.project,
                    "parentUrn": spec.parentUrn,
                    "noParent": bool(spec.noParent),
                }
            )
    return out


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


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """The event loop's executor during a run: the call runs at once, in the loop's thread.

    The SDK sends every monitor call (register, read, invoke, outputs; pulumi/runtime/resource.py and
    invoke.py: `loop.run_in_executor(None, ...)`) to a thread pool because over gRPC each one blocks.
    Here the monitor is this module's, in process and never blocking, and a hop to a thread and back
    per call costs a quarter of a run (bench.gate). The program sees the same results in the same
    order of its awaits; no thread is left behind for a fork (stack_workers.py). A ThreadPoolExecutor
    by type, as `loop.set_default_executor` requires (asyncio/base_events.py, Python 3.11)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller's await raises it, as from a pool thread
            future.set_exception(exc)
        return future


def _loop_for_the_run() -> asyncio.AbstractEventLoop:
    """The loop the SDK's _sync_await runs the program on (sync_await.py `_ensure_event_loop`), with
    the executor that runs monitor calls in place."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    loop.set_default_executor(_InlineExecutor())
    return loop


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
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    assets: str = "strict",
) -> ProgramRun:
    """Runs the program for `stack` under the mock engine and returns what it registered.

    `preview=True` runs it as `pulumi preview` does (what the gate judges); the default runs it as an
    update, where every output the mock provider does not answer is a known None (what the
    infrastructure tests assert on). `stack_references` maps a StackReference name to the outputs of
    that stack (`pulumi stack output --json --show-secrets`); without them its outputs are unknown.
    `config_overrides` keys may be fully qualified (`project:key`) or bare (the project's namespace);
    they win over the stack file, as `pulumi config set` would.

    `assets="strict"` reads every asset and archive as the engine does and fails on the first it
    cannot read; `assets="lenient"` records those whose paths do not exist in `missing_assets` and
    goes on. Lenient is only for reconstructing what a past revision deployed (--against-rev's base,
    whose build outputs git does not keep), never for judging the program at hand.
    """
    if assets not in ("strict", "lenient"):
        raise ValueError(f"assets must be 'strict' or 'lenient', not {assets!r}")
    project = load_project(program_dir)
    config = load_stack_config(project, stack, config_file)
    values = dict(config.values)
    for key, value in (config_overrides or {}).items():
        values[_qualify(key, project.name)] = value
    config = StackConfig(values, config.secret_keys, config.path)
    region = str(values.get("aws:region") or DEFAULT_REGION)

    findings = _Findings(stack_references or {}, assets)
    mocks = _Mocks(region)
    monitor = _make_monitor(mocks, project.main_dir, findings)
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
    _loop_for_the_run()

    def program() -> None:
        runpy.run_path(str(project.entry), run_name="__main__")

    try:
        with _program_context(project.main_dir), _counting_applies(findings, project.directory):
            _sync_await(run_pulumi_func(program))
            outputs = _resolve_outputs(root, _sync_await)
    except SystemExit as exc:
        settle_failed_run()
        raise ProgramError(f"the program exited with status {exc.code}", _user_frame(exc, project.directory)) from exc
    except ProgramError:
        settle_failed_run()
        raise
    except pulumi.RunError as exc:
        settle_failed_run()
        raise ProgramError(str(exc), _user_frame(exc, project.directory)) from exc
    except Exception as exc:
        settle_failed_run()
        engine = _engine_refusal(exc)
        if engine is not None:
            raise engine from exc
        raise ProgramError(_describe(exc), _user_frame(exc, project.directory)) from exc
    if errors.messages:
        raise ProgramError(errors.messages[0])
    return ProgramRun(
        project.name,
        stack,
        list(monitor.captured),
        outputs,
        config,
        unrun_callbacks=findings.unrun_callbacks,
        unanswered_invokes=[{"token": t, "count": n} for t, n in sorted(findings.unanswered.items())],
        stack_references=[{"name": n, "supplied": s} for n, s in sorted(findings.references.items())],
        unknown_inputs=dict(monitor.unknown_inputs),
        preview=preview,
        missing_assets=list(findings.missing_assets or ()),
    )


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what it was raised from (else during), each once: a chain can loop."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _engine_refusal(exc: BaseException) -> ProgramError | None:
    """The engine's refusal raised in the monitor, however the SDK wrapped it on the way out."""
    return next((e for e in exception_chain(exc) if isinstance(e, ProgramError)), None)


_WHERE = "_stateless_program_frame"


def _program_frame(tb: Any, project_dir: Path) -> tuple[str, int] | None:
    """The innermost frame of a traceback that is the program's own code (in the project directory,
    outside any installed package)."""
    root = str(project_dir) + os.sep
    found: tuple[str, int] | None = None
    for frame in traceback.extract_tb(tb):
        name = frame.filename
        if name.startswith(root) and "site-packages" not in name and frame.lineno:
            found = (name, int(frame.lineno))
    return found


def _user_frame(exc: BaseException, project_dir: Path) -> tuple[str, int] | None:
    """Where in the program a failure came from, as the CLI shows the program's traceback rather than
    the SDK's: the frame a failed callback recorded, else the innermost program frame of the error
    or of what caused it."""
    for current in exception_chain(exc):
        recorded: tuple[str, int] | None = getattr(current, _WHERE, None)
        where = recorded or _program_frame(current.__traceback__, project_dir)
        if where is not None:
            return where
    return None


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

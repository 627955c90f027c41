"""Shared by the gate's command-line tests: run the gate's command (in this process, or as `python -m
policies.gate` in a fresh one), and check every SARIF document it writes against the official SARIF
2.1.0 schema."""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema

ROOT = Path(__file__).resolve().parents[4]
PROGRAMS = ROOT / "tests" / "fixtures" / "programs"
# The OASIS schema (errata01), kept beside the checkout: shared/schemas in the nearest directory above
# the repository root that has it (a worktree sits one level deeper than the main checkout).
SARIF_SCHEMA_FILE = next(
    (
        d / "shared" / "schemas" / "sarif-schema-2.1.0.json"
        for d in ROOT.parents
        if (d / "shared" / "schemas" / "sarif-schema-2.1.0.json").is_file()
    ),
    ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json",
)


# The JSON report, schema version 2 (policies/README.md "JSON report"): one object per stack...
_WAIVER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reason", "expires"],
    "properties": {"reason": {"type": "string", "minLength": 1}, "expires": {"type": ["string", "null"]}},
}
STACK_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "stack",
        "project",
        "resources",
        "violations",
        "summary",
        "verdict",
        "notes",
        "policyConfig",
        "unmatchedWaivers",
    ],
    "properties": {
        "stack": {"type": "string"},
        "project": {"type": "string"},
        "resources": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["urn", "type", "name"],
                "properties": {"urn": {"type": "string"}, "type": {"type": "string"}, "name": {"type": "string"}},
            },
        },
        "violations": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["policy", "enforcement", "urn", "type", "name", "message", "remediation"],
                "properties": {
                    "policy": {"type": "string"},
                    "enforcement": {"enum": ["mandatory", "advisory"]},
                    "urn": {"type": "string"},
                    "type": {"type": "string"},
                    "name": {"type": "string"},
                    "message": {"type": "string", "minLength": 1},
                    "remediation": {"type": "string"},
                    "waived": _WAIVER,
                    "baselined": {"const": True},
                },
            },
        },
        "summary": {
            "type": "object",
            "additionalProperties": False,
            "required": ["resources", "mandatory", "advisory", "waived", "baselined"],
            "properties": {
                k: {"type": "integer", "minimum": 0}
                for k in ("resources", "mandatory", "advisory", "waived", "baselined")
            },
        },
        "verdict": {"enum": ["PASS", "FAIL", "PASS (incomplete)"]},
        "notes": {"type": "array", "items": {"type": "string"}},
        "policyConfig": {"type": ["string", "null"]},
        "unmatchedWaivers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["policy", "resource", "reason", "expires"],
                "properties": {
                    "policy": {"type": "string"},
                    "resource": {"type": "string"},
                    "reason": {"type": "string"},
                    "expires": {"type": ["string", "null"]},
                },
            },
        },
        "baseline": {
            "type": "object",
            "additionalProperties": False,
            "required": ["matched", "gone"],
            "properties": {"matched": {"type": "integer", "minimum": 0}, "gone": {"type": "integer", "minimum": 0}},
        },
    },
}
# ...inside {"schemaVersion": 2, "stacks": [...]}; one stack's version 1 keys are also at the top level.
_LEGACY = ("stack", "project", "resources", "violations", "summary")
GATE_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["schemaVersion", "stacks"],
    "properties": {
        "schemaVersion": {"const": 2},
        "stacks": {"type": "array", "minItems": 1, "items": STACK_JSON_SCHEMA},
        **{k: STACK_JSON_SCHEMA["properties"][k] for k in _LEGACY},
    },
    "if": {"properties": {"stacks": {"maxItems": 1}}},
    "then": {"required": list(_LEGACY)},
    "else": {"not": {"anyOf": [{"required": [k]} for k in _LEGACY]}},
}


def valid_report(text: str) -> dict[str, Any]:
    """The JSON report in `text`, validated; a single stack's top-level keys are that stack's."""
    doc = json.loads(text)
    jsonschema.validate(doc, GATE_JSON_SCHEMA)
    if len(doc["stacks"]) == 1:
        assert {k: doc[k] for k in _LEGACY} == {k: doc["stacks"][0][k] for k in _LEGACY}
    return doc


def activated_env(**extra: str) -> dict[str, str]:
    """This environment with the test interpreter's virtualenv activated, as a user runs the gate: a
    fixture program's Pulumi.yaml names no virtualenv, so its interpreter is the `python3` first on
    PATH (policies/gate/toolchains/pip.py)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    env.update(extra)
    # A mutation run's coverage pass (bench/mutation) cannot see into a child process, and the child
    # would look for the run's configuration in its own working directory: it runs the plain code.
    if env.get("MUTANT_UNDER_TEST") == "stats":
        del env["MUTANT_UNDER_TEST"]
    return env


def gate(
    *args: str, cwd: Path = ROOT, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The gate's command with these arguments, in this process (its entry point, `command`, with the
    process's ending recorded instead): what it prints, what it writes on stderr and its exit status, as
    from the command. The program still runs in a child process of its own interpreter, as always; only
    the command's side is here, where a test can see into it. With `env`, the command runs in a fresh
    process with that environment (gate_process)."""
    if env is not None:
        return gate_process(*args, cwd=cwd, stdin=stdin, env=env)
    from policies.gate import __main__ as entry

    def end(code: int) -> None:
        raise _Ended(code)

    out, err = io.StringIO(), io.StringIO()
    threshold = gc.get_threshold()
    code = None
    try:
        with warnings.catch_warnings(), contextlib.chdir(cwd), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err), mock.patch.object(sys, "stdin", io.StringIO(stdin or "")), \
                mock.patch.object(sys, "argv", [entry.PROG, *args]), mock.patch.object(entry.os, "_exit", end):
            entry.command()
    except _Ended as ended:
        code = ended.code
    finally:
        # main() tunes the collector for a short-lived process; this one goes on.
        gc.set_threshold(*threshold)
    assert code is not None, "the command returned instead of ending the process"
    return subprocess.CompletedProcess(["policies.gate", *args], code, out.getvalue(), err.getvalue())


class _Ended(Exception):
    """How the command would have ended its process."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def gate_process(
    *args: str, cwd: Path = ROOT, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m policies.gate` in a fresh process: the entry point itself (its ending, its streams)."""
    return subprocess.run(
        [sys.executable, "-m", "policies.gate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
        # From another directory the gate is still this checkout's.
        env=env if env is not None else activated_env(PYTHONPATH=str(ROOT)),
    )


@functools.cache
def _sarif_validator() -> Any:
    schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def valid_sarif(text: str) -> dict[str, Any]:
    """The SARIF document in `text`, validated against the official schema; plus what GitHub code
    scanning needs on top of it (numeric security-severity, a location and a fingerprint per result)."""
    doc = json.loads(text)
    errors = sorted(_sarif_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    for run in doc["runs"]:
        assert "%SRCROOT%" in run["originalUriBaseIds"]
        for rule in run["tool"]["driver"]["rules"]:
            assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
            assert "security" in rule["properties"]["tags"]
        for result in run["results"]:
            assert result["partialFingerprints"]["primaryLocationLineHash"]
            physical = result["locations"][0]["physicalLocation"]
            assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
            assert not physical["artifactLocation"]["uri"].startswith("/")
    return doc


# ----------------------------------------------------------------------------- CLI documents
# Built the way the Pulumi CLI writes them (pulumi/pulumi, cited lines):
# - `pulumi stack export`: apitype.UntypedDeployment {"version", "deployment"} (sdk/go/common/apitype/
#   core.go:382-392) around a DeploymentV3 {"manifest", "secrets_providers", "resources"} (core.go:156-176)
#   of ResourceV3 (core.go:489-568), ManifestV1 {"time", "magic", "version", "plugins"} (core.go:574-583);
# - `pulumi preview --json`: display.PreviewDigest {"config", "steps", "duration", "changeSummary"}
#   (pkg/display/json.go:32-48) of PreviewStep {"op", "urn", "provider", "newState", "detailedDiff"}
#   (json.go:59-76), secrets written as "[secret]" (pkg/backend/display/json.go:45-98);
# - secrets {SIG_KEY: SECRET_SIG, "ciphertext" | "plaintext"} (pkg/resource/stack/deployment.go:846-879),
#   unknowns "04da6b54-80e4-46f7-96ec-b56ff0331ba9" (deployment.go:66, 786).

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK_TYPE = "pulumi:pulumi:Stack"


def stack_urn(project: str, stack: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


def default_provider_urn(project: str, stack: str, package: str) -> str:
    return f"urn:pulumi:{stack}::{project}::pulumi:providers:{package}::default"


def _split_path(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        steps.append(int(part[1:-1]) if part.startswith("[") else part)
    return steps


ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"


def _asset(value: Any) -> Any:
    # Assets and archives as `resource.Asset.Serialize` / `Archive.Serialize` write them
    # (sdk/go/common/resource/asset, archive): the signature plus text, path or uri; assets inside.
    import pulumi

    if isinstance(value, pulumi.StringAsset):
        return {SIG_KEY: ASSET_SIG, "text": value.text}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        sig = ASSET_SIG if isinstance(value, pulumi.FileAsset) else ARCHIVE_SIG
        return {SIG_KEY: sig, "path": str(value.path)}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        sig = ASSET_SIG if isinstance(value, pulumi.RemoteAsset) else ARCHIVE_SIG
        return {SIG_KEY: sig, "uri": value.uri}
    if isinstance(value, pulumi.AssetArchive):
        return {SIG_KEY: ARCHIVE_SIG, "assets": dict(value.assets)}
    raise TypeError(f"{type(value).__name__} is not part of a serialized state")


def _wrap_secrets(value: Any, secret_paths: tuple[str, ...], wrap: Any) -> Any:
    """`value` with the value at every secret path replaced by wrap(value)."""
    value = json.loads(json.dumps(value, default=_asset))
    for path in secret_paths:
        steps = _split_path(path)
        if not steps:
            return wrap(value)
        cur = value
        for step in steps[:-1]:
            try:
                cur = cur[step]
            except (KeyError, IndexError, TypeError):
                cur = None
                break
        if cur is not None:
            with contextlib.suppress(KeyError, IndexError, TypeError):
                cur[steps[-1]] = wrap(cur[steps[-1]])
    return value


def encrypted(value: Any) -> dict[str, str]:
    return {SIG_KEY: SECRET_SIG, "ciphertext": "v1:" + json.dumps(value).encode().hex()}


def shown(value: Any) -> dict[str, str]:
    # `pulumi stack export --show-secrets` writes the secret's JSON as plaintext.
    return {SIG_KEY: SECRET_SIG, "plaintext": json.dumps(value)}


def masked(value: Any) -> str:
    return "[secret]"


def resource_v3(r: Any, project: str, stack: str, project_root: Path, secrets: Any = shown) -> dict[str, Any]:
    """One captured resource as ResourceV3."""
    package = r.type.split(":", 1)[0]
    provider = r.provider or (f"{default_provider_urn(project, stack, package)}::0000-default" if r.custom else None)
    out: dict[str, Any] = {
        "urn": r.urn,
        "custom": r.custom,
        "type": r.type,
        "inputs": _wrap_secrets(r.inputs, r.secret_paths, secrets),
        "outputs": _wrap_secrets(r.outputs or r.inputs, r.secret_paths, secrets),
        "parent": r.parent or stack_urn(project, stack),
        "dependencies": list(r.dependencies),
        "propertyDependencies": {k: list(v) for k, v in r.property_dependencies.items()},
        "created": "2026-11-28T18:00:00Z",
        "modified": "2026-11-28T18:00:00Z",
    }
    if r.custom:
        out["id"] = str((r.outputs or {}).get("id") or f"{r.name}-id")
    # ResourceV3 keeps the options the engine acts on (core.go:489-568): protect, retainOnDelete.
    out["protect"] = r.protect
    out["retainOnDelete"] = bool(r.options.get("retainOnDelete"))
    if provider:
        out["provider"] = provider
    if r.source is not None:
        # The engine records filepath.Rel(projectRoot, file): "../" for a file outside the project
        # (pkg/resource/deploy/source_eval.go, parseSourcePosition).
        rel = Path(os.path.relpath(Path(r.source[0]).resolve(), project_root.resolve())).as_posix()
        out["sourcePosition"] = f"project:///{rel}#{r.source[1]}"
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def _providers(resources: list[Any], project: str, stack: str) -> list[dict[str, Any]]:
    packages = sorted({r.type.split(":", 1)[0] for r in resources if r.custom and not r.provider})
    return [
        {
            "urn": default_provider_urn(project, stack, package),
            "custom": True,
            "id": "0000-default",
            "type": f"pulumi:providers:{package}",
            "inputs": {"version": "7.0.0"},
            "outputs": {"version": "7.0.0"},
        }
        for package in packages
    ]


def _stack_resource(project: str, stack: str) -> dict[str, Any]:
    return {"urn": stack_urn(project, stack), "custom": False, "type": STACK_TYPE, "outputs": {}}


def state_document(run: Any, project_root: Path, secrets: Any = shown) -> dict[str, Any]:
    """`pulumi stack export` of the resources a program registered."""
    resources = [
        _stack_resource(run.project, run.stack),
        *_providers(run.resources, run.project, run.stack),
        *(resource_v3(r, run.project, run.stack, project_root, secrets) for r in run.resources),
    ]
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-28T18:00:00Z", "magic": "0" * 64, "version": "v3.200.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:mock"}},
            "resources": resources,
        },
    }


def preview_document(run: Any, project_root: Path) -> dict[str, Any]:
    """`pulumi preview --json` of a first deployment of the resources a program registered."""
    states = [
        _stack_resource(run.project, run.stack),
        *_providers(run.resources, run.project, run.stack),
        *(resource_v3(r, run.project, run.stack, project_root, masked) for r in run.resources),
    ]
    steps = [
        {"op": "create", "urn": s["urn"], "provider": s.get("provider", ""), "newState": s, "detailedDiff": None}
        for s in states
    ]
    return {
        "config": {f"{run.project}:environment": "dev"},
        "steps": steps,
        "duration": 1500000000,
        "changeSummary": {"create": len(steps)},
    }

"""Reads what the Pulumi CLI writes about a stack, in any language: `pulumi stack export` and
`pulumi preview --json`, into the resources the gate judges.

Formats, from pulumi/pulumi:
- `pulumi stack export`: `apitype.UntypedDeployment` `{"version", "deployment"}`
  (sdk/go/common/apitype/core.go:382-392), the deployment a `DeploymentV3` (core.go:156-176; schema
  versions 3 and 4 both decode into it, core.go:80-87) whose `resources[]` are `ResourceV3`
  (core.go:489-568: `urn`, `custom`, `type`, `inputs`, `outputs`, `parent`, `dependencies`,
  `provider`, `propertyDependencies`, `sourcePosition`, ...). The CLI writes it with
  `stack.SerializeUntypedDeployment` (pkg/cmd/pulumi/stack/stack_export.go:119-133).
- `pulumi preview --json`: `display.PreviewDigest` `{"config", "steps", "diagnostics", "duration",
  "changeSummary"}` (pkg/display/json.go:32-48) of `PreviewStep`s `{"op", "urn", "provider",
  "oldState", "newState", ...}` (json.go:59-76) whose states are `ResourceV3` again. The step
  operations are the engine's (pkg/resource/deploy/step.go:2236-2250).

Values (pkg/resource/stack/deployment.go `SerializePropertyValue`, 773-890): a value the engine does
not know yet is the string "04da6b54-80e4-46f7-96ec-b56ff0331ba9" (deployment.go:66, 786); a secret is
`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": ...}`, or
`"plaintext"` (its JSON) with `--show-secrets`; resource references carry the reference signature and
a `urn`; strings that are not UTF-8 carry the byte-string signature and base64. The preview's JSON
writer replaces every secret by the string "[secret]" (pkg/backend/display/json.go:45-71,
`stateForJSONOutput` 87-98). Secrets that cannot be read and "[secret]" are unknown, as the
analyzer's own proxy reads unknowns, never violations.

Provider resources (`pulumi:providers:*`) and the stack resource (`pulumi:pulumi:Stack`) are not
judged; deleted resources (delete steps, `delete: true` in a state) and resources the program only
reads (read steps, `external: true` in a state) neither.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .evaluate import STACK_TYPE
from .records import Resource

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_REFERENCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
BYTE_STRING_SIG = "803fd3297a5875dc03ca845dda5d2a98"
PREVIEW_SECRET = "[secret]"
PROVIDER_PREFIX = "pulumi:providers:"

STATE_VERSIONS = (3, 4)
# Steps whose new state is not part of the stack after the update.
DELETE_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})
# Reads of resources the program does not manage (`Resource.get`, recorded `external` in a state): the
# engine calls no analyzer's Analyze for them (GenerateReadSteps, pkg/resource/deploy/step_generator.go
# from line 292, unlike generateSteps at 1401-1469), and a program run under the mock engine captures
# none; judging them would report on what this stack does not declare.
READ_OPS = frozenset({"read", "read-replacement"})
KNOWN_OPS = DELETE_OPS | {
    "same",
    "create",
    "update",
    "replace",
    "create-replacement",
    "read",
    "read-replacement",
    "refresh",
    "import",
    "import-replacement",
}

STATE_SHAPE = '`pulumi stack export` output: {"version": 3, "deployment": {"manifest": ..., "resources": [...]}}'
PREVIEW_SHAPE = '`pulumi preview --json` output: {"steps": [{"op", "urn", "newState": {...}}, ...], ...}'


class DocumentError(Exception):
    """The document is not what the CLI writes."""


@dataclass(frozen=True)
class Document:
    project: str
    stack: str
    resources: list[Resource]
    providers: list[Resource]


def read_json(source: str) -> tuple[str, Any]:
    """(name for messages, parsed JSON) of FILE or `-` (standard input)."""
    where = "standard input" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(f"{where}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DocumentError(f"{where}: not UTF-8 text") from None
    try:
        return where, json.loads(text)
    except ValueError as exc:
        raise DocumentError(f"{where}: not JSON ({exc})") from None


def _value(value: Any, preview: bool) -> Any:
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            if "plaintext" in value and isinstance(value["plaintext"], str):
                try:
                    return _value(json.loads(value["plaintext"]), preview)
                except ValueError:
                    return UNKNOWN
            return UNKNOWN
        if sig == RESOURCE_REFERENCE_SIG:
            return value.get("urn")
        if sig == OUTPUT_VALUE_SIG:
            return _value(value["value"], preview) if "value" in value else UNKNOWN
        if sig == BYTE_STRING_SIG:
            try:
                return base64.b64decode(str(value.get("value", ""))).decode("utf-8", "replace")
            except ValueError:
                return UNKNOWN
        return {k: _value(v, preview) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v, preview) for v in value]
    if preview and value == PREVIEW_SECRET:
        return UNKNOWN
    return value


def _urn_parts(urn: str) -> tuple[str, str, str] | None:
    """(stack, project, name) of `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    if not urn.startswith("urn:pulumi:"):
        return None
    parts = urn[len("urn:pulumi:") :].split("::")
    if len(parts) < 4:
        return None
    return parts[0], parts[1], parts[-1]


def _source(raw: Any, project_root: Path | None) -> tuple[str, int] | None:
    # The engine records `project:///<path relative to the project root>#line[,column]`
    # (pkg/resource/deploy/source_eval.go, parseSourcePosition 2042-2081).
    if not isinstance(raw, str) or not raw.startswith("project://") or project_root is None:
        return None
    parsed = urllib.parse.urlparse(raw)
    line = parsed.fragment.split(",", 1)[0]
    if not line.isdigit() or int(line) < 1:
        return None
    return str(project_root / urllib.parse.unquote(parsed.path).lstrip("/")), int(line)


def _resource(raw: Any, where: str, preview: bool, project_root: Path | None) -> Resource:
    if not isinstance(raw, dict):
        raise DocumentError(f"{where}: a resource must be an object with 'urn' and 'type'")
    urn, type_ = raw.get("urn"), raw.get("type")
    if not isinstance(urn, str) or not isinstance(type_, str) or not type_:
        raise DocumentError(f"{where}: a resource needs string 'urn' and 'type'")
    parts = _urn_parts(urn)
    if parts is None:
        raise DocumentError(f"{where}: {urn!r} is not a Pulumi URN (urn:pulumi:<stack>::<project>::<type>::<name>)")
    for key, kind in (("inputs", dict), ("outputs", dict), ("dependencies", list), ("propertyDependencies", dict)):
        if key in raw and raw[key] is not None and not isinstance(raw[key], kind):
            raise DocumentError(f"{where}.{key}: expected {'an object' if kind is dict else 'a list'}")
    prop_deps = raw.get("propertyDependencies") or {}
    return Resource(
        urn=urn,
        type=type_,
        name=parts[2],
        inputs=_value(raw.get("inputs") or {}, preview),
        outputs=_value(raw.get("outputs") or {}, preview),
        parent=raw.get("parent") or None,
        dependencies=tuple(str(d) for d in raw.get("dependencies") or ()),
        property_dependencies={str(k): tuple(str(d) for d in (v or ())) for k, v in prop_deps.items()},
        provider=raw.get("provider") or None,
        protect=bool(raw.get("protect")),
        options={
            "ignoreChanges": list(raw.get("ignoreChanges") or []),
            "deleteBeforeReplace": False,
            "retainOnDelete": bool(raw.get("retainOnDelete")),
            "additionalSecretOutputs": list(raw.get("additionalSecretOutputs") or []),
            "deletedWith": raw.get("deletedWith") or None,
            "aliases": list(raw.get("aliases") or []),
        },
        source=_source(raw.get("sourcePosition"), project_root),
    )


def _document(states: list[Resource], stack: str, where: str, fallback_project: str) -> Document:
    projects = set()
    for r in states:
        parts = _urn_parts(r.urn)
        assert parts is not None  # checked when read
        if parts[0] != stack:
            raise DocumentError(f"{where}: the document is for stack {parts[0]!r} ({r.urn}), not {stack!r}")
        projects.add(parts[1])
    if len(projects) > 1:
        raise DocumentError(f"{where}: resources of several projects ({', '.join(sorted(projects))}) in one document")
    project = projects.pop() if projects else fallback_project
    judged = [r for r in states if r.type != STACK_TYPE and not r.type.startswith(PROVIDER_PREFIX)]
    providers = [r for r in states if r.type.startswith(PROVIDER_PREFIX)]
    return Document(project, stack, judged, providers)


def parse_state(
    doc: Any, stack: str, where: str, project_root: Path | None = None, fallback_project: str = ""
) -> Document:
    if not isinstance(doc, dict):
        raise DocumentError(f"{where}: expected {STATE_SHAPE}")
    if "steps" in doc or "changeSummary" in doc:
        raise DocumentError(f"{where}: this is `pulumi preview --json` output; judge it with --preview")
    version = doc.get("version")
    if version not in STATE_VERSIONS or not isinstance(doc.get("deployment"), dict):
        got = f"version {version!r}" if "version" in doc else "no 'version'"
        raise DocumentError(f"{where}: expected {STATE_SHAPE} with version 3 or 4; got {got}")
    deployment: Mapping[str, Any] = doc["deployment"]
    raw = deployment.get("resources")
    raw = [] if raw is None else raw
    if not isinstance(raw, list):
        raise DocumentError(f"{where}: deployment.resources must be a list")
    states = []
    for i, item in enumerate(raw):
        r = _resource(item, f"{where}: deployment.resources[{i}]", False, project_root)
        if not (isinstance(item, dict) and (item.get("delete") or item.get("external"))):
            states.append(r)
    return _document(states, stack, where, fallback_project)


def parse_preview(
    doc: Any, stack: str, where: str, project_root: Path | None = None, fallback_project: str = ""
) -> Document:
    if not isinstance(doc, dict):
        raise DocumentError(f"{where}: expected {PREVIEW_SHAPE}")
    if "deployment" in doc:
        raise DocumentError(f"{where}: this is `pulumi stack export` output; judge it with --state")
    steps = doc.get("steps")
    if steps is None and not ({"config", "changeSummary", "duration", "diagnostics"} & set(doc)):
        raise DocumentError(f"{where}: expected {PREVIEW_SHAPE}")
    if not isinstance(steps, list | None):
        raise DocumentError(f"{where}: 'steps' must be a list")
    # A preview that failed lists only the steps it reached: judging those would pass what it never saw.
    # PreviewDiagnostic.severity is diag.Severity (sdk/go/common/diag/sink.go:48-52).
    for diagnostic in doc.get("diagnostics") or []:
        if isinstance(diagnostic, dict) and diagnostic.get("severity") == "error":
            message = " ".join(str(diagnostic.get("message") or "").split())
            raise DocumentError(f"{where}: the preview failed, so its steps are incomplete: {message[:300]}")
    # Unchanged resources are steps only with `--show-sames` (pkg/backend/display/display.go, shouldShow
    # 308-320); without them stack rules would pair a changed bucket with nothing. The change summary
    # counts them either way (the engine's SummaryEvent).
    summary = doc.get("changeSummary")
    summary = summary if isinstance(summary, dict) else {}
    shown_sames = sum(1 for step in steps or [] if isinstance(step, dict) and step.get("op") == "same")
    unchanged = summary.get("same")
    if isinstance(unchanged, int) and unchanged > shown_sames:
        raise DocumentError(
            f"{where}: {unchanged - shown_sames} unchanged resource(s) are counted but not listed; run "
            "`pulumi preview --json --show-sames` so that the whole stack is judged"
        )
    # One resource can have several steps (create-replacement, replace, delete-replaced): the last
    # step that leaves a new state is the resource after the update.
    by_urn: dict[str, Resource] = {}
    for i, step in enumerate(steps or []):
        at = f"{where}: steps[{i}]"
        if not isinstance(step, dict) or not isinstance(step.get("op"), str) or not isinstance(step.get("urn"), str):
            raise DocumentError(f"{at}: a step needs string 'op' and 'urn'")
        if step["op"] not in KNOWN_OPS:
            raise DocumentError(f"{at}: unknown step op {step['op']!r}")
        if step["op"] in DELETE_OPS or step["op"] in READ_OPS:
            if step["op"] == "delete":
                by_urn.pop(step["urn"], None)
            continue
        new_state = step.get("newState")
        if new_state is None:
            continue
        r = _resource(new_state, f"{at}.newState", True, project_root)
        by_urn[r.urn] = r
    return _document(list(by_urn.values()), stack, where, fallback_project)


@dataclass(frozen=True)
class Step:
    """One `PreviewStep` (pkg/display/json.go:59-76): the operation, the resource, its old and new
    states (`ResourceV3`), and why it changes (`diffReasons`, `replaceReasons`: property keys;
    `detailedDiff`: property path -> {"kind", "inputDiff"}, json.go:51-56, kinds as
    sdk/go/common/resource/plugin/provider.go `DiffKind.String` writes them, e.g. "update-replace")."""

    op: str
    urn: str
    type: str
    name: str
    old: Resource | None
    new: Resource | None
    replace_reasons: tuple[str, ...] = ()
    diff_reasons: tuple[str, ...] = ()
    detailed_diff: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def parse_steps(doc: Any, stack: str, where: str, project_root: Path | None = None) -> list[Step]:
    """Every step of a `pulumi preview --json` document, delete steps included (parse_preview keeps
    only what the stack holds after the update)."""
    parse_preview(doc, stack, where)  # the same checks: shape, failed preview, shown sames
    out: list[Step] = []
    for i, step in enumerate(doc.get("steps") or []):
        at = f"{where}: steps[{i}]"
        states = {}
        for key in ("oldState", "newState"):
            raw = step.get(key)
            states[key] = _resource(raw, f"{at}.{key}", True, project_root) if raw is not None else None
        parts = _urn_parts(step["urn"])
        if parts is None:
            raise DocumentError(f"{at}: {step['urn']!r} is not a Pulumi URN")
        state = states["newState"] or states["oldState"]
        type_ = state.type if state is not None else step["urn"].split("::")[2].split("$")[-1]
        reasons: dict[str, tuple[str, ...]] = {}
        for key in ("replaceReasons", "diffReasons"):
            value = step.get(key) or []
            if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                raise DocumentError(f"{at}.{key}: expected a list of property names")
            reasons[key] = tuple(value)
        detailed = step.get("detailedDiff") or {}
        if not isinstance(detailed, dict) or not all(isinstance(v, dict) for v in detailed.values()):
            raise DocumentError(f"{at}.detailedDiff: expected an object of {{'kind', 'inputDiff'}} objects")
        out.append(
            Step(
                step["op"],
                step["urn"],
                type_,
                parts[2],
                states["oldState"],
                states["newState"],
                reasons["replaceReasons"],
                reasons["diffReasons"],
                detailed,
            )
        )
    return out

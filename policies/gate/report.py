"""The gate's three output formats: a text report grouped by resource, the stable JSON object, and
SARIF 2.1.0 for code-scanning upload. Several stacks: a text section per stack, a JSON list, one
SARIF run per stack."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pulumi_policy import EnforcementLevel, Policy, Severity

from .evaluate import STACK_TYPE, Violation
from .records import Resource

if TYPE_CHECKING:
    from . import GateResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "stateless-guard"
TOOL_VERSION = "0.1.0"


def summary(resources: Sequence[Resource], violations: Sequence[Violation]) -> dict[str, int]:
    return {
        "resources": len(resources),
        "mandatory": sum(1 for v in violations if v.enforcement == EnforcementLevel.MANDATORY.value),
        "advisory": sum(1 for v in violations if v.enforcement == EnforcementLevel.ADVISORY.value),
    }


def as_json(project: str, stack: str, resources: Sequence[Resource], violations: Sequence[Violation]) -> str:
    return json.dumps(_json_doc(project, stack, resources, violations), indent=2)


def as_json_many(results: Sequence[GateResult]) -> str:
    """One stack: the stable object; several: a list of them, in the order the stacks were given."""
    docs = [
        {**_json_doc(r.project, r.stack, r.resources, r.violations), "verdict": r.verdict, "notes": list(r.notes)}
        for r in results
    ]
    return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2)


def _json_doc(
    project: str, stack: str, resources: Sequence[Resource], violations: Sequence[Violation]
) -> dict[str, Any]:
    doc = {
        "stack": stack,
        "project": project,
        "resources": [{"urn": r.urn, "type": r.type, "name": r.name} for r in resources],
        "violations": [
            {
                "policy": v.policy,
                "enforcement": v.enforcement,
                "urn": v.urn,
                "type": v.type,
                "name": v.name,
                "message": v.message,
            }
            for v in violations
        ],
        "summary": summary(resources, violations),
    }
    return doc


def as_text(
    project: str,
    stack: str,
    resources: Sequence[Resource],
    violations: Sequence[Violation],
    unjudged: int = 0,
    verdict: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    counts = summary(resources, violations)
    lines: list[str] = [f"note: {n}" for n in notes]
    grouped: dict[str, list[Violation]] = {}
    for v in violations:
        grouped.setdefault(v.urn, []).append(v)
    for urn, found in grouped.items():
        first = found[0]
        lines.append(f"{first.type}  {first.name}")
        lines.append(f"  {urn}")
        for v in sorted(found, key=lambda v: (v.enforcement != "mandatory", v.policy)):
            lines.append(f"  [{v.enforcement}] {v.policy}: {v.message}")
        lines.append("")
    verdict = verdict or ("FAIL" if counts["mandatory"] else "PASS")
    lines.append(
        f"{verdict} {TOOL_NAME} {project}/{stack}: {counts['resources'] - unjudged} resources judged, "
        f"{unjudged} component(s) not judged, {counts['mandatory']} mandatory, "
        f"{counts['advisory']} advisory violation(s)"
    )
    return "\n".join(lines)


def as_text_many(results: Sequence[GateResult]) -> str:
    """One stack: its report; several: a section per stack, then the overall verdict."""
    sections = [
        as_text(r.project, r.stack, r.resources, r.violations, r.unjudged, r.verdict, r.notes) for r in results
    ]
    if len(results) == 1:
        return sections[0]
    failed = [r.stack for r in results if r.exit_code]
    out = []
    for result, section in zip(results, sections, strict=True):
        out.append(f"=== {result.project}/{result.stack} ===")
        out.append(section)
        out.append("")
    verdict = f"FAIL ({', '.join(failed)})" if failed else "PASS"
    out.append(f"{verdict} {TOOL_NAME}: {len(results)} stacks")
    return "\n".join(out)


def _level(enforcement: EnforcementLevel | str | None) -> str:
    value = enforcement.value if isinstance(enforcement, EnforcementLevel) else enforcement
    return {"mandatory": "error", "remediate": "error", "advisory": "warning"}.get(value or "", "none")


# GitHub code scanning reads a rule's `security-severity` (0.0-10.0): over 9.0 critical, 7.0-8.9 high,
# 4.0-6.9 medium, 0.1-3.9 low; it takes the score only from rules tagged `security`, and shows
# `precision` (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/
# sarif-support-for-code-scanning#reportingdescriptor-object).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}
SRCROOT = "%SRCROOT%"


def repository_root(start: Path) -> Path:
    """The checkout that holds `start` (the nearest directory with .git), else `start` itself."""
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def _relative(path: str | Path, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _stack_keys(stack_file: Path | None) -> dict[str, tuple[Any, int]]:
    """Keys the stack file sets under `config`, with their value and 1-based line."""
    if stack_file is None:
        return {}
    try:
        node = yaml.compose(
            stack_file.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    found: dict[str, tuple[Any, int]] = {}
    for key_node, value_node in node.value:
        if key_node.value != "config" or not isinstance(value_node, yaml.MappingNode):
            continue
        for k, v in value_node.value:
            if isinstance(v, yaml.ScalarNode):
                found[str(k.value)] = (yaml.safe_load(yaml.serialize(v)), k.start_mark.line + 1)
    return found


def _leaves(value: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, name)
    elif name:
        yield name, value


def _settings_behind(
    resource: Resource, message: str, keys: Mapping[str, tuple[Any, int]], stack: str
) -> list[tuple[str, int]]:
    """Stack keys whose value the resource carries in the property the finding names.

    A heuristic, by name and value: the finding's message names the property it judged (rules say
    "multiAz is not true"); a stack key is behind it when the resource carries the key's value in that
    property and the key's name ends like the property's (`stateless-stack:dbMultiAz: false` behind
    `multiAz: false` of a resource whose name or type mentions "db"; `cacheAutomaticFailover` behind
    `automaticFailoverEnabled`). A finding caused by a value the program derived (no certificate,
    hence an HTTP listener) has no related location.
    """
    # Names often start with the stack's name; "dev-eks-db-postgres" is about "db", not "eks".
    context = f"{resource.name.replace(stack, '')} {resource.type}".lower()
    named = {word.lower() for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", message)}
    found: list[tuple[str, int]] = []
    for key, (value, line) in keys.items():
        if isinstance(value, dict | list) or value is None:
            continue
        bare = key.split(":", 1)[-1].lower()
        for leaf, leaf_value in _leaves(dict(resource.inputs)):
            if type(leaf_value) is not type(value) or leaf_value != value or leaf.lower() not in named:
                continue
            leaf = leaf.lower()
            if any(
                len(bare) - i >= 6
                and (leaf.startswith(bare[i:]) or bare[i:].startswith(leaf))
                and (i == 0 or bare[:i] in context)
                for i in range(len(bare))
            ):
                found.append((key, line))
                break
    return found


def _fingerprint(violation: Violation) -> str:
    # Stable across edits that move the declaration, distinct for two resources on one line: the
    # resource's URN and the rule, not the line's text.
    digest = hashlib.sha256(f"{violation.policy}|{violation.urn}".encode()).hexdigest()[:16]
    return f"{digest}:1"


def _library(path: str) -> bool:
    """Installed packages (a virtualenv may sit inside the checkout): not where a user declared anything."""
    parts = Path(path).parts
    return "site-packages" in parts or "dist-packages" in parts


def _declaration(
    violation: Violation, by_urn: Mapping[str, Resource], root: Path, fallback: tuple[str, int] | None
) -> tuple[str, int] | None:
    """File (relative to the repository root) and line where the resource, or its nearest ancestor
    declared in the repository, was declared (a library component's children point at the line that
    declared the component)."""
    seen: set[str] = set()
    urn: str | None = violation.urn
    while urn and urn in by_urn and urn not in seen:
        seen.add(urn)
        resource = by_urn[urn]
        if resource.source is not None and not _library(resource.source[0]):
            rel = _relative(resource.source[0], root)
            if rel is not None:
                return rel, resource.source[1]
        urn = resource.parent
    return fallback


def _sarif_rules(policies: Sequence[Policy], result: GateResult, rule_texts: Mapping[str, Any]) -> list[Any]:
    rules = []
    for policy in policies:
        rule: dict[str, Any] = {
            "id": policy.name,
            "name": "".join(part.capitalize() for part in policy.name.split("-")),
            "shortDescription": {"text": policy.description},
            "help": {"text": policy.remediation_steps or policy.description},
            "defaultConfiguration": {"level": _level(result.settings[policy.name].enforcement)},
            "properties": {
                "tags": ["security", *(t for t in policy.tags or [] if t != "security")],
                # A rule judges declared properties, not inferred behaviour: what it reports is there.
                "precision": "high",
            },
        }
        why = getattr(rule_texts.get(policy.name), "why", None)
        if why:
            rule["fullDescription"] = {"text": why}
        if policy.severity is not None:
            rule["properties"]["severity"] = policy.severity.value
            rule["properties"]["security-severity"] = SECURITY_SEVERITY[policy.severity]
        rules.append(rule)
    return rules


def _sarif_run(result: GateResult, policies: Sequence[Policy], rule_texts: Mapping[str, Any], root: Path) -> Any:
    index = {p.name: i for i, p in enumerate(policies)}
    by_urn = {r.urn: r for r in result.resources}
    keys = _stack_keys(result.stack_file)
    stack_file = _relative(result.stack_file, root) if result.stack_file is not None else None
    main = _relative(result.program_dir / result.main_file, root) if result.main_file else None
    fallback = (main, 1) if main else ((stack_file, 1) if stack_file else None)
    results = []
    for v in result.violations:
        location: dict[str, Any] = {
            "logicalLocations": [{"fullyQualifiedName": v.urn, "name": v.name, "kind": "resource"}]
        }
        declared = _declaration(v, by_urn, root, fallback)
        if declared is not None:
            location["physicalLocation"] = {
                "artifactLocation": {"uri": declared[0], "uriBaseId": SRCROOT},
                "region": {"startLine": declared[1]},
            }
        entry: dict[str, Any] = {
            "ruleId": v.policy,
            "level": _level(v.enforcement),
            "message": {"text": f"{v.type} {v.name}: {v.message}"},
            "locations": [location],
            "partialFingerprints": {"primaryLocationLineHash": _fingerprint(v)},
        }
        if v.policy in index:
            entry["ruleIndex"] = index[v.policy]
        resource = by_urn.get(v.urn)
        if resource is not None and stack_file is not None and v.type != STACK_TYPE:
            related = [
                {
                    "id": i,
                    "message": {"text": f"stack setting {key}"},
                    "physicalLocation": {
                        "artifactLocation": {"uri": stack_file, "uriBaseId": SRCROOT},
                        "region": {"startLine": line},
                    },
                }
                for i, (key, line) in enumerate(_settings_behind(resource, v.message, keys, result.stack))
            ]
            if related:
                entry["relatedLocations"] = related
        results.append(entry)
    return {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "informationUri": "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                "rules": _sarif_rules(policies, result, rule_texts),
            }
        },
        "originalUriBaseIds": {
            SRCROOT: {"uri": root.as_uri().rstrip("/") + "/", "description": {"text": "The repository root"}}
        },
        "automationDetails": {"id": f"{TOOL_NAME}/{result.project}/{result.stack}/"},
        "results": results,
    }


def as_sarif(results: Sequence[GateResult], policies: Sequence[Policy], rule_texts: Mapping[str, Any]) -> str:
    """SARIF 2.1.0, one run per stack; locations relative to the repository holding the program."""
    runs = [_sarif_run(r, policies, rule_texts, repository_root(r.program_dir)) for r in results]
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}, indent=2)

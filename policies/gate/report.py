"""The gate's three output formats: a text report grouped by resource, the stable JSON object, and
SARIF 2.1.0 for code-scanning upload."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from .config import PolicySettings
from .evaluate import Judged, Violation

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "stateless-guard"
TOOL_VERSION = "0.1.0"


def summary(resources: Sequence[Judged], violations: Sequence[Violation]) -> dict[str, int]:
    return {
        "resources": len(resources),
        "mandatory": sum(1 for v in violations if v.enforcement == EnforcementLevel.MANDATORY.value),
        "advisory": sum(1 for v in violations if v.enforcement == EnforcementLevel.ADVISORY.value),
    }


def as_json(project: str, stack: str, resources: Sequence[Judged], violations: Sequence[Violation]) -> str:
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
    return json.dumps(doc, indent=2)


def as_text(
    project: str, stack: str, resources: Sequence[Judged], violations: Sequence[Violation], unjudged: int = 0
) -> str:
    counts = summary(resources, violations)
    lines: list[str] = []
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
    verdict = "FAIL" if counts["mandatory"] else "PASS"
    lines.append(
        f"{verdict} {TOOL_NAME} {project}/{stack}: {counts['resources'] - unjudged} resources judged, "
        f"{unjudged} component(s) not judged, {counts['mandatory']} mandatory, "
        f"{counts['advisory']} advisory violation(s)"
    )
    return "\n".join(lines)


def _level(enforcement: EnforcementLevel | str | None) -> str:
    value = enforcement.value if isinstance(enforcement, EnforcementLevel) else enforcement
    return {"mandatory": "error", "remediate": "error", "advisory": "warning"}.get(value or "", "none")


def as_sarif(
    project: str,
    stack: str,
    violations: Sequence[Violation],
    policies: Sequence[Policy],
    settings: Mapping[str, PolicySettings],
    rule_texts: Mapping[str, Any],
    source_file: str,
) -> str:
    index = {p.name: i for i, p in enumerate(policies)}
    rules = []
    for policy in policies:
        rule: dict[str, Any] = {
            "id": policy.name,
            "name": "".join(part.capitalize() for part in policy.name.split("-")),
            "shortDescription": {"text": policy.description},
            "help": {"text": policy.remediation_steps or policy.description},
            "defaultConfiguration": {"level": _level(settings[policy.name].enforcement)},
            "properties": {"tags": list(policy.tags or [])},
        }
        why = getattr(rule_texts.get(policy.name), "why", None)
        if why:
            rule["fullDescription"] = {"text": why}
        if policy.severity is not None:
            rule["properties"]["severity"] = policy.severity.value
        rules.append(rule)
    results = []
    for v in violations:
        result: dict[str, Any] = {
            "ruleId": v.policy,
            "level": _level(v.enforcement),
            "message": {"text": f"{v.type} {v.name}: {v.message}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": str(PurePosixPath(source_file)), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": [{"fullyQualifiedName": v.urn, "name": v.name, "kind": "resource"}],
                }
            ],
            "partialFingerprints": {"urnAndPolicy/v1": f"{v.urn}|{v.policy}"},
        }
        if v.policy in index:
            result["ruleIndex"] = index[v.policy]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": TOOL_VERSION,
                        "informationUri": "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"{TOOL_NAME}/{project}/{stack}/"},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2)

"""The JSON report, schema version 2 (documented in policies/README.md):

    {"schemaVersion": 2, "stacks": [<stack>, ...]}

whatever the number of stacks, in the order they were judged. With exactly one stack, its `stack`,
`project`, `resources`, `violations` and `summary` are also copied at the top level: the shape of
version 1, kept readable for one release (deprecated).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..evaluate import UnmatchedWaiver, Violation
from ..records import Resource
from .common import policy_config_label, repository_root, summary

if TYPE_CHECKING:
    from .. import GateResult

SCHEMA_VERSION = 2
# The version 1 keys copied at the top level for a single stack (deprecated, removed in the next release).
LEGACY_KEYS = ("stack", "project", "resources", "violations", "summary")


def _violation(v: Violation) -> dict[str, Any]:
    item: dict[str, Any] = {
        "policy": v.policy,
        "enforcement": v.enforcement,
        "urn": v.urn,
        "type": v.type,
        "name": v.name,
        "message": v.message,
        "remediation": v.remediation,
    }
    if v.waived is not None:
        item["waived"] = v.waived.as_json()
    if v.baselined:
        item["baselined"] = True
    return item


def _unmatched(item: UnmatchedWaiver) -> dict[str, Any]:
    return {"policy": item.policy, "resource": item.waiver.resource, **item.waiver.as_json()}


def stack_doc(
    project: str,
    stack: str,
    resources: Sequence[Resource],
    violations: Sequence[Violation],
    result: GateResult | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "stack": stack,
        "project": project,
        "resources": [{"urn": r.urn, "type": r.type, "name": r.name} for r in resources],
        "violations": [_violation(v) for v in violations],
        "summary": summary(resources, violations),
    }
    if result is not None:
        doc["verdict"] = result.verdict
        doc["notes"] = list(result.notes)
        doc["policyConfig"] = policy_config_label(result, repository_root(result.program_dir))
        doc["unmatchedWaivers"] = [_unmatched(u) for u in result.unmatched_waivers]
        if result.baseline_gone is not None:
            doc["baseline"] = {
                "matched": sum(1 for v in violations if v.baselined),
                "gone": result.baseline_gone,
            }
    return doc


def document(stacks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION, "stacks": list(stacks)}
    if len(stacks) == 1:
        doc.update({key: stacks[0][key] for key in LEGACY_KEYS})
    return doc


def as_json(project: str, stack: str, resources: Sequence[Resource], violations: Sequence[Violation]) -> str:
    """The report of one stack judged in this process, without the run's policy config details."""
    return json.dumps(document([stack_doc(project, stack, resources, violations)]), indent=2)


def as_json_many(results: Sequence[GateResult]) -> str:
    docs = [stack_doc(r.project, r.stack, r.resources, r.violations, r) for r in results]
    return json.dumps(document(docs), indent=2)

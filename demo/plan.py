"""Plan summaries from the offline gate's verdict (in-process) or its JSON report: resources by type,
outputs, verdict.

The report shape is the gate's JSON report, schema version 2 (policies/README.md "JSON report"):
`{"schemaVersion": 2, "stacks": [{"stack", "project", "resources": [{"urn","type","name"}], "violations":
[...], "summary": {...}}, ...]}`; a version 1 report (one stack's object) is still read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demo.graph import short_type

if TYPE_CHECKING:
    from policies.gate import GateResult

REPO_ROOT = Path(__file__).resolve().parent.parent


class ReportError(ValueError):
    """The gate's report is not the documented JSON shape; the message names the field."""


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    name: str
    type: str
    message: str


@dataclass(frozen=True)
class PlanSummary:
    stack: str
    project: str
    resources: int
    by_type: tuple[tuple[str, int], ...]  # most numerous first, then by name
    mandatory: int
    advisory: int
    violations: tuple[Violation, ...]
    outputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.mandatory == 0


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ReportError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ReportError(f"{where}: field {key!r} must be {names}, got {type(value).__name__}")
    return value


def _stack_report(report: Mapping[str, Any], stack: str | None) -> Mapping[str, Any]:
    """The one stack's object of a version 2 report (the named stack, or the only one)."""
    if "schemaVersion" not in report:
        return report  # version 1: the object of one stack
    if report["schemaVersion"] != 2:
        raise ReportError(f"gate report: schemaVersion {report['schemaVersion']!r} is not 2")
    stacks = _require(report, "stacks", list, "gate report")
    chosen = [s for s in stacks if isinstance(s, Mapping) and (stack is None or s.get("stack") == stack)]
    if len(chosen) != 1:
        named = f"stack {stack!r}" if stack is not None else "one stack"
        raise ReportError(f"gate report: expected {named} among {len(stacks)} stack(s)")
    return chosen[0]


def summarize(
    report: Mapping[str, Any], outputs: Mapping[str, Any] | None = None, stack_name: str | None = None
) -> PlanSummary:
    """Turn a gate report into a summary; `outputs` (stack outputs) come from elsewhere when the
    report has none of its own; `stack_name` picks a stack of a report with several."""
    if not isinstance(report, Mapping):
        raise ReportError("gate report: must be a JSON object")
    report = _stack_report(report, stack_name)
    stack = _require(report, "stack", str, "gate report")
    project = _require(report, "project", str, "gate report")
    resources = _require(report, "resources", list, "gate report")
    violations = _require(report, "violations", list, "gate report")
    summary = _require(report, "summary", dict, "gate report")

    types = []
    for index, item in enumerate(resources):
        where = f"gate report resources[{index}]"
        if not isinstance(item, dict):
            raise ReportError(f"{where}: must be an object")
        types.append(_require(item, "type", str, where))

    found = []
    for index, item in enumerate(violations):
        where = f"gate report violations[{index}]"
        if not isinstance(item, dict):
            raise ReportError(f"{where}: must be an object")
        found.append(
            Violation(
                policy=_require(item, "policy", str, where),
                enforcement=_require(item, "enforcement", str, where),
                name=str(item.get("name") or ""),
                type=str(item.get("type") or ""),
                message=_require(item, "message", str, where),
            )
        )
    mandatory = _require(summary, "mandatory", int, "gate report summary")
    advisory = _require(summary, "advisory", int, "gate report summary")
    own_outputs = report.get("outputs")
    chosen = outputs if outputs is not None else own_outputs if isinstance(own_outputs, dict) else {}
    return _plan(stack, project, types, found, mandatory, advisory, chosen)


def summary_of(result: GateResult) -> PlanSummary:
    """The summary of a verdict the gate gave in this process, with the outputs of the run it judged."""
    from policies.gate.report import summary

    counts = summary(result.resources, result.violations)
    found = [Violation(v.policy, v.enforcement, v.name, v.type, v.message) for v in result.violations]
    outputs = result.run.outputs if result.run is not None else {}
    return _plan(
        result.stack, result.project, [r.type for r in result.resources], found,
        counts["mandatory"], counts["advisory"], outputs,
    )


def _plan(
    stack: str,
    project: str,
    types: Sequence[str],
    violations: Sequence[Violation],
    mandatory: int,
    advisory: int,
    outputs: Mapping[str, Any],
) -> PlanSummary:
    counts = Counter(t for t in types if not t.startswith(("pulumi:pulumi:Stack", "pulumi:providers:")))
    return PlanSummary(
        stack=stack,
        project=project,
        resources=sum(counts.values()),
        by_type=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        mandatory=mandatory,
        advisory=advisory,
        violations=tuple(violations),
        outputs=dict(outputs),
    )


def _wrap(items: Sequence[str], width: int, indent: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current}  {item}" if current else item
        if current and len(indent) + len(candidate) > width:
            lines.append(indent + current)
            current = item
        else:
            current = candidate
    if current:
        lines.append(indent + current)
    return lines


def _show_value(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_summary(plan: PlanSummary, *, width: int = 100, max_violations: int = 5) -> str:
    """A few lines per stack: totals, counts by type, outputs, verdict and the first violations."""
    verdict = "PASS" if plan.passed else "FAIL"
    lines = [
        f"stack {plan.stack}: {plan.resources} resources of {len(plan.by_type)} types, "
        f"{len(plan.outputs)} outputs; verdict {verdict} "
        f"({plan.mandatory} mandatory, {plan.advisory} advisory)",
    ]
    lines += _wrap([f"{short_type(t)} x{n}" for t, n in plan.by_type], width, "    ")
    if plan.outputs:
        lines.append("  outputs:")
        for key in sorted(plan.outputs):
            lines.append(f"    {key} = {_show_value(plan.outputs[key])}")
    ordered = sorted(plan.violations, key=lambda v: (v.enforcement != "mandatory", v.policy, v.name))
    for violation in ordered[:max_violations]:
        lines.append(f"  [{violation.enforcement}] {violation.policy} on {violation.name}: {violation.message}")
    if len(ordered) > max_violations:
        lines.append(f"  … and {len(ordered) - max_violations} more")
    return "\n".join(lines)


def gate_result(stack: str, *, program: Path | str = REPO_ROOT) -> GateResult:
    """The offline gate for one stack, in-process: its verdict and the run it judged.

    A verdict with a mandatory violation is still a result (exit_code 1); a broken program, config or
    policy config raises ReportError with the gate's own message.
    """
    from policies.gate import GateError, run_gate

    try:
        return run_gate(stack, program)
    except GateError as exc:
        raise ReportError(f"the gate for stack {stack} cannot judge it: {exc}") from exc

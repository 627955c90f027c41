"""The text report: findings grouped by resource, each with its fix; waived and baselined findings
shown as such; the policy config used (or that none applies), waivers that matched nothing, the
baseline's count of recorded findings that are gone; a summary line per stack and, with several
stacks, the overall verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..evaluate import UnmatchedWaiver, Violation
from ..records import Resource
from .common import NO_POLICY_CONFIG, TOOL_NAME, policy_config_label, repository_root, summary

if TYPE_CHECKING:
    from .. import GateResult


def _state(v: Violation) -> str:
    if v.waived is not None:
        return f"{v.enforcement}, waived"
    if v.baselined:
        return f"{v.enforcement}, baselined"
    return v.enforcement


def as_text(
    project: str,
    stack: str,
    resources: Sequence[Resource],
    violations: Sequence[Violation],
    unjudged: int = 0,
    notes: Sequence[str] = (),
    verdict: str | None = None,
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
        for v in sorted(found, key=lambda v: (not v.counts, v.enforcement != "mandatory", v.policy)):
            lines.append(f"  [{_state(v)}] {v.policy}: {v.message}")
            if v.waived is not None:
                until = f" (until {v.waived.expires.isoformat()})" if v.waived.expires else ""
                lines.append(f"      waived: {v.waived.reason}{until}")
            if v.remediation:
                lines.append(f"      fix: {v.remediation}")
        lines.append("")
    lines.extend(notes)
    verdict = verdict or ("FAIL" if counts["mandatory"] else "PASS")
    accepted = [f"{counts[k]} {k}" for k in ("waived", "baselined") if counts[k]]
    lines.append(
        f"{verdict} {TOOL_NAME} {project}/{stack}: {counts['resources'] - unjudged} resources judged, "
        f"{unjudged} component(s) not judged, {counts['mandatory']} mandatory, "
        f"{counts['advisory']} advisory violation(s)" + (f" ({', '.join(accepted)})" if accepted else "")
    )
    return "\n".join(lines)


def unmatched_line(item: UnmatchedWaiver, where: str) -> str:
    return (
        f"note: the waiver of {item.waiver.resource!r} for {item.policy} in {where} matches no finding: "
        "remove it, or correct the resource"
    )


def notes_of(result: GateResult) -> list[str]:
    root = repository_root(result.program_dir)
    label = policy_config_label(result, root)
    notes = [*list(result.notes), f"policy config: {label if label else NO_POLICY_CONFIG}"]
    notes += [unmatched_line(item, label or "the policy config") for item in result.unmatched_waivers]
    if result.baseline_gone is not None:
        notes.append(
            f"baseline: {sum(1 for v in result.violations if v.baselined)} recorded finding(s) still there, "
            f"{result.baseline_gone} gone (fixed or renamed; --write-baseline records the new state)"
        )
    return notes


def as_text_one(result: GateResult) -> str:
    return as_text(
        result.project,
        result.stack,
        result.resources,
        result.violations,
        result.unjudged,
        notes_of(result),
        result.verdict,
    )


def as_text_many(results: Sequence[GateResult]) -> str:
    """One stack: its report; several: a section per stack, then the overall verdict."""
    sections = [as_text_one(r) for r in results]
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

"""GitHub Actions workflow-command annotations: one line per finding at its declaring line,

    ::error file=<path relative to the repository root>,line=<n>,title=<policy>::<type> <name>: <message>

`error` for a mandatory finding, `warning` for an advisory one, `notice` for a waived one (with its
reason); baselined findings are not annotated one by one, a notice counts them. Waivers that match
nothing are warnings on the policy config file. Each stack ends with its summary line (plain log
text). Escaping is the runner's (actions/toolkit packages/core/src/command.ts, escapeData and
escapeProperty): `%`, CR and LF in the message; also `:` and `,` in properties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..evaluate import Violation
from .common import headline, locate, policy_config_label, relative, repository_root
from .text import as_text, unmatched_line

if TYPE_CHECKING:
    from .. import GateResult


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **properties: str | int | None) -> str:
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v is not None and v != "")
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


def _kind(v: Violation) -> str:
    if v.waived is not None:
        return "notice"
    return "error" if v.enforcement == "mandatory" else "warning"


def _message(v: Violation) -> str:
    text = headline(v)
    if v.waived is not None:
        until = f", until {v.waived.expires.isoformat()}" if v.waived.expires else ""
        text += f"\nwaived: {v.waived.reason}{until}"
    elif v.remediation:
        text += f"\nfix: {v.remediation}"
    return text


def as_github_one(result: GateResult) -> list[str]:
    root = repository_root(result.program_dir)
    by_urn = {r.urn: r for r in result.resources}
    lines = []
    for v in result.violations:
        if v.baselined and v.waived is None:
            continue
        path, line = locate(v, result, by_urn, root)
        lines.append(command(_kind(v), _message(v), file=path, line=line, title=v.policy))
    baselined = sum(1 for v in result.violations if v.baselined and v.waived is None)
    if result.baseline_gone is not None:
        lines.append(
            command(
                "notice",
                f"{result.project}/{result.stack}: {baselined} finding(s) hidden by the baseline, "
                f"{result.baseline_gone} recorded finding(s) gone",
                title="baseline",
            )
        )
    label = policy_config_label(result, root)
    # An annotation's file must be in the repository; a policy config from elsewhere is named in the text.
    in_repo = relative(result.policy_config, root) if result.policy_config is not None else None
    for item in result.unmatched_waivers:
        lines.append(
            command("warning", unmatched_line(item, label or "the policy config"), file=in_repo, title="waiver")
        )
    for note in list(result.notes):
        lines.append(command("warning", note, title="not judged"))
    report = as_text(
        result.project, result.stack, result.resources, result.violations, result.unjudged, (), result.verdict
    )
    lines.append(report.splitlines()[-1])
    return lines


def as_github(results: Sequence[GateResult]) -> str:
    return "\n".join(line for result in results for line in as_github_one(result))

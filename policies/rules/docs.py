"""Each rule's documentation page, docs/rules/<rule>.md, rendered from the rule's own declaration
(description, why, remediation, enforcement, severity, config schema), so a page cannot drift from
the rule: tests/unit/policies/rules/test_docs.py compares every committed page with `render`.

    python -m policies.rules.docs docs/rules     # rewrite the pages and the index

Links: SARIF `helpUri` and the policy's `url` are `DOCS_BASE_URL` + `<rule>.md` (rules/_core.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import ALL_RULES
from ._core import Rule
from .waivers import WAIVERS_KEY


def _module(rule: Rule) -> str:
    check = rule.check or rule.stack_check
    return (check.__module__ or "").rpartition(".")[2]


def _types(rule: Rule) -> str:
    types = rule.resource_types
    if types is None:
        return "every resource" if not rule.is_stack else "the whole stack (a stack policy)"
    if callable(types):
        return f"resource types chosen by `policies/rules/{_module(rule)}.py`"
    return ", ".join(f"`{t}`" for t in sorted(types))


def _config_example(rule: Rule) -> str:
    entry: dict[str, object] = {"enforcementLevel": "mandatory"}
    entry.update({k: spec["default"] for k, spec in rule.config.items() if "default" in spec})
    entry[WAIVERS_KEY] = [{"resource": "site-bucket", "reason": "why this one is accepted", "expires": "2027-06-30"}]
    return json.dumps({rule.name: entry}, indent=2)


def render(rule: Rule) -> str:
    module = _module(rule)
    lines = [
        f"# {rule.name}",
        "",
        f"{rule.description}",
        "",
        "| | |",
        "|---|---|",
        f"| default enforcement | {rule.enforcement.value} |",
        f"| severity | {rule.severity.value} |",
        f"| kind | {'stack policy' if rule.is_stack else 'resource policy'} |",
        f"| judges | {_types(rule)} |",
        f"| defined in | `policies/rules/{module}.py` |",
        "",
        "## Why",
        "",
        rule.why,
        "",
        "## How to fix",
        "",
        rule.remediation,
        "",
        "## Example",
        "",
        f"`tests/unit/policies/rules/test_{module}.py` starts from a compliant resource and breaks one property "
        "per case: each case is an example of a finding and of the change that clears it.",
        "",
        "## Configuration",
        "",
        "In the stack's policy config (`stacks/policy.<stack>.json`, the file `pulumi preview --policy-pack-config` "
        "takes), the level (`advisory`, `mandatory`, `remediate`, `disabled`), the rule's knobs and its waivers:",
        "",
        "```json",
        _config_example(rule),
        "```",
        "",
    ]
    if rule.config:
        lines += ["| knob | type | default | meaning |", "|---|---|---|---|"]
        for key, spec in rule.config.items():
            default = json.dumps(spec.get("default")) if "default" in spec else "—"
            lines.append(f"| `{key}` | {spec.get('type', '')} | `{default}` | {spec.get('description', '')} |")
        lines.append("")
    lines += [
        "`waivers` accept one finding each: `resource` is a logical name, a URN or a glob over either, `reason` is "
        "required, `expires` (YYYY-MM-DD) is optional; after that date the finding is reported again. The gate and "
        '`pulumi preview --policy-pack` honour the same waivers (policies/README.md, "Waivers").',
        "",
    ]
    return "\n".join(lines)


def render_index(rules: Sequence[Rule]) -> str:
    lines = [
        "# stateless-guard rules",
        "",
        "One page per rule, rendered from the rule's declaration by `python -m policies.rules.docs docs/rules`.",
        "",
        "| rule | default | what it asks |",
        "|---|---|---|",
    ]
    lines += [f"| [`{r.name}`]({r.name}.md) | {r.enforcement.value} | {r.description} |" for r in rules]
    return "\n".join(lines) + "\n"


def write(directory: Path, rules: Sequence[Rule] = ALL_RULES) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for rule in rules:
        (directory / f"{rule.name}.md").write_text(render(rule), encoding="utf-8")
    (directory / "README.md").write_text(render_index(rules), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules"))

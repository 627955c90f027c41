"""Every rule has its page in docs/rules/, rendered from the rule itself (policies/rules/docs.py)."""

from __future__ import annotations

from pathlib import Path

from policies.rules import ALL_RULES
from policies.rules.docs import render, render_index

DOCS = Path(__file__).resolve().parents[4] / "docs" / "rules"


def test_every_rule_has_its_page_and_the_page_is_current():
    stale = [r.name for r in ALL_RULES if not (DOCS / f"{r.name}.md").is_file()]
    assert stale == [], "missing pages: python -m policies.rules.docs docs/rules"
    for rule in ALL_RULES:
        page = (DOCS / f"{rule.name}.md").read_text(encoding="utf-8")
        assert page == render(rule), f"{rule.name}.md is stale: python -m policies.rules.docs docs/rules"
    assert (DOCS / "README.md").read_text(encoding="utf-8") == render_index(ALL_RULES)


def test_no_page_for_a_rule_that_does_not_exist():
    pages = {p.stem for p in DOCS.glob("*.md")} - {"README"}
    assert pages == {r.name for r in ALL_RULES}


def test_a_page_says_what_why_how_to_fix_and_config():
    page = render(next(r for r in ALL_RULES if r.name == "rds-backups-enabled"))
    for heading in ("## Why", "## How to fix", "## Example", "## Configuration"):
        assert heading in page
    assert "| `minRetentionDays` | integer | `1` |" in page
    assert '"waivers": [' in page


def _rule(**overrides):
    from pulumi_policy import EnforcementLevel, Severity

    from policies.rules._core import Rule

    def check(resource_type, props, config):
        return []

    fields = {
        "name": "made-up-rule",
        "description": "A made-up rule.",
        "severity": Severity.LOW,
        "enforcement": EnforcementLevel.ADVISORY,
        "remediation": "Fix it.",
        "why": "Because.",
        "check": check,
    }
    fields.update(overrides)
    return Rule(**fields)


def test_what_a_page_says_a_rule_judges():
    from policies.rules.docs import _types

    assert _types(_rule()) == "every resource"
    assert _types(_rule(check=None, stack_check=lambda resources, config: [])) == "the whole stack (a stack policy)"
    assert _types(_rule(resource_types=lambda t: True)) == "resource types chosen by `policies/rules/test_docs.py`"
    assert _types(_rule(resource_types=frozenset({"b:x:B", "a:x:A"}))) == "`a:x:A`, `b:x:B`"


def test_a_page_names_the_module_of_the_check():
    from policies.rules.docs import _module
    from policies.rules.lambda_ import NO_LAMBDA_EFS

    assert _module(NO_LAMBDA_EFS) == "lambda_"
    assert "| defined in | `policies/rules/lambda_.py` |" in render(NO_LAMBDA_EFS)

    class Check:
        __module__ = None

        def __call__(self, resource_type, props, config):
            return []

    assert _module(_rule(check=Check())) == ""


def test_knobs_without_a_default_type_or_description():
    page = render(_rule(config={"knob": {}}))
    assert "| knob | type | default | meaning |\n|---|---|---|---|\n| `knob` |  | `—` |  |\n" in page
    assert "| kind | resource policy |" in page
    assert "| knob | type |" not in render(_rule())


def test_write_puts_every_page_and_the_index_in_the_directory(tmp_path):
    from policies.rules.docs import write
    from policies.rules.lambda_ import LAMBDA_EPHEMERAL_STORAGE, NO_LAMBDA_EFS

    rules = (NO_LAMBDA_EFS, LAMBDA_EPHEMERAL_STORAGE)
    write(tmp_path / "new" / "rules", rules)
    written = tmp_path / "new" / "rules"
    assert sorted(p.name for p in written.iterdir()) == ["README.md", "lambda-ephemeral-storage.md", "no-lambda-efs.md"]
    for rule in rules:
        assert (written / f"{rule.name}.md").read_text(encoding="utf-8") == render(rule)
    assert (written / "README.md").read_text(encoding="utf-8") == render_index(rules)
    write(written, rules)  # an existing directory is rewritten in place
    assert (written / "README.md").read_text(encoding="utf-8") == render_index(rules)


def test_write_defaults_to_every_rule(tmp_path):
    from policies.rules.docs import write

    write(tmp_path)
    assert {p.stem for p in tmp_path.glob("*.md")} == {r.name for r in ALL_RULES} | {"README"}


def test_pages_are_plain_ascii():
    # Written as UTF-8, read by anything: ASCII pages make the file encoding irrelevant (bench/README.md
    # lists the encoding mutants of `write` as equivalent on this ground).
    for text in [render(r) for r in ALL_RULES] + [render_index(ALL_RULES)]:
        assert text.isascii()

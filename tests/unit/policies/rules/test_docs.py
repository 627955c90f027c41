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

"""The stateless-guard policy list: one pulumi_policy Policy per rule, built once.

`policies/__main__.py` wraps this list in a PolicyPack for the Pulumi CLI; the offline gate imports
the same module, so both judge a program with the same definitions. Imports stay relative: the CLI
loads this directory under another package name (see `__main__.py`).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy

from .rules import ALL_RULES, Rule

PACK_NAME = "stateless-guard"
PACK_DESCRIPTION = (
    "Rejects state kept on instances, nodes and functions, and unsafe configuration of the managed "
    "services where state belongs."
)
# Every rule sets its own level; this only applies to a rule that does not.
PACK_ENFORCEMENT = EnforcementLevel.ADVISORY


def build_policies() -> list[Policy]:
    return [rule.policy() for rule in ALL_RULES]


POLICIES: list[Policy] = build_policies()
RULE_FOR_POLICY: dict[str, Rule] = {rule.name: rule for rule in ALL_RULES}

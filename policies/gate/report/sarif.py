"""SARIF 2.1.0 for code-scanning upload, one run per stack (README "SARIF"): one rule per policy with
its help, `helpUri` (the rule's page under docs/rules/) and GitHub's security-severity; one result per
finding, always with a physical location (the declaring line, else the file that produced the
finding, see common.fallback); a waived finding carries `suppressions` with the waiver's reason; with
--baseline each result has a `baselineState` (`unchanged`: recorded; `new`); waivers that matched
nothing and the absence of a policy config are tool configuration notifications of the run's
invocation."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pulumi_policy import EnforcementLevel, Policy, Severity

from ..evaluate import STACK_TYPE, Violation
from ..records import Resource
from .common import (
    NO_POLICY_CONFIG,
    TOOL_NAME,
    TOOL_VERSION,
    headline,
    locate,
    policy_config_label,
    relative,
    repository_root,
)
from .text import unmatched_line

if TYPE_CHECKING:
    from .. import GateResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _level(enforcement: EnforcementLevel | str | None) -> str:
    value = enforcement.value if isinstance(enforcement, EnforcementLevel) else enforcement
    return {"mandatory": "error", "remediate": "error", "advisory": "warning"}.get(value or "", "none")


# GitHub code scanning reads a rule's `security-severity` (0.0-10.0): over 9.0 critical, 7.0-8.9 high,
# 4.0-6.9 medium, 0.1-3.9 low; it takes the score only from rules tagged `security`, and shows
# `precision` (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/
# sarif-support-for-code-scanning#reportingdescriptor-object).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}
SRCROOT = "%SRCROOT%"


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


def _sarif_rules(policies: Sequence[Policy], result: GateResult, rule_texts: Mapping[str, Any]) -> list[Any]:
    rules = []
    for policy in policies:
        rule: dict[str, Any] = {
            "id": policy.name,
            "name": "".join(part.capitalize() for part in policy.name.split("-")),
            "shortDescription": {"text": policy.description},
            "help": {"text": policy.remediation_steps or policy.description},
            "helpUri": getattr(rule_texts.get(policy.name), "doc_url", None) or policy.url,
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
        if not rule["helpUri"]:
            del rule["helpUri"]
        if policy.severity is not None:
            rule["properties"]["severity"] = policy.severity.value
            rule["properties"]["security-severity"] = SECURITY_SEVERITY[policy.severity]
        rules.append(rule)
    return rules


def _sarif_run(result: GateResult, policies: Sequence[Policy], rule_texts: Mapping[str, Any], root: Path) -> Any:
    index = {p.name: i for i, p in enumerate(policies)}
    by_urn = {r.urn: r for r in result.resources}
    keys = _stack_keys(result.stack_file)
    stack_file = relative(result.stack_file, root) if result.stack_file is not None else None
    results = []
    for v in result.violations:
        uri, line = locate(v, result, by_urn, root)
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": SRCROOT},
                "region": {"startLine": line},
            },
            "logicalLocations": [{"fullyQualifiedName": v.urn, "name": v.name, "kind": "resource"}],
        }
        entry: dict[str, Any] = {
            "ruleId": v.policy,
            "level": _level(v.enforcement),
            "message": {"text": headline(v)},
            "locations": [location],
            "partialFingerprints": {"primaryLocationLineHash": _fingerprint(v)},
        }
        if v.policy in index:
            entry["ruleIndex"] = index[v.policy]
        if v.waived is not None:
            entry["suppressions"] = [{"kind": "external", "justification": v.waived.reason}]
        if result.baseline_gone is not None:
            entry["baselineState"] = "unchanged" if v.baselined else "new"
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
    label = policy_config_label(result, root)
    notices = [] if label else [f"policy config: {NO_POLICY_CONFIG}"]
    notices += [unmatched_line(item, label or "the policy config") for item in result.unmatched_waivers]
    return {
        "invocations": [
            {
                "executionSuccessful": True,
                "toolConfigurationNotifications": [
                    {"level": "warning" if text.startswith("note:") else "note", "message": {"text": text}}
                    for text in notices
                ],
            }
        ],
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

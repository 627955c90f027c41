"""Rules for IAM roles that AWS services assume on the stack's behalf.

`aws.iam.Role.assumeRolePolicy` (pulumi-aws v7 pulumi_aws/iam/role.py) is the trust policy, a JSON
document. A service that acts for many accounts (VPC Flow Logs delivering to a log group) must be
held to this account with `aws:SourceAccount` / `aws:SourceArn`, or another account could have the
service act with this role: the cross-service confused deputy
(https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html; the flow-logs trust policy with
both conditions: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, json_value, type_set
from .images import holds_unknown, not_known

ROLE = "aws:iam/role:Role"
DEFAULT_SERVICES = ["vpc-flow-logs.amazonaws.com"]
# The global condition keys that tie a service's request to the account or resource it acts for.
SOURCE_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"})


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _held_to_a_source(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    return any(
        isinstance(keys, dict) and any(isinstance(k, str) and k.lower() in SOURCE_KEYS for k in keys)
        for keys in condition.values()
    )


def check_service_source_condition(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    policy = props.get("assumeRolePolicy")
    doc = json_value(policy)
    if policy is UNKNOWN or (holds_unknown(policy) and doc is None):
        not_known("assumeRolePolicy")
    if not isinstance(doc, dict):
        return []
    unknown = False
    services = {s.lower() for s in config.get("services", DEFAULT_SERVICES) if isinstance(s, str)}
    found = []
    for statement in _listed(doc.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        listed = _listed(principal.get("Service") if isinstance(principal, dict) else None)
        unknown = unknown or holds_unknown(principal) or any(holds_unknown(s) for s in listed)
        named = [s for s in listed if isinstance(s, str) and s.lower() in services]
        if named and not _held_to_a_source(statement.get("Condition")):
            found.append(
                f"the trust policy lets {', '.join(named)} assume the role without an aws:SourceAccount or "
                "aws:SourceArn condition: the service could be made to use it on another account's behalf "
                "(confused deputy)"
            )
    if unknown and not found:
        not_known("assumeRolePolicy.Statement.Principal.Service")
    return found


SERVICE_ROLE_SOURCE_CONDITION = Rule(
    name="service-role-source-condition",
    description="Roles assumed by multi-account AWS services hold the service to this account or resource.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="Without aws:SourceAccount / aws:SourceArn, the service principal may assume the role for a request "
    "made on behalf of any account: the confused-deputy path AWS documents for these services.",
    remediation='Add "Condition": {"StringEquals": {"aws:SourceAccount": "<account>"}, "ArnLike": '
    '{"aws:SourceArn": "arn:aws:ec2:<region>:<account>:vpc-flow-log/*"}} to the trust statement.',
    resource_types=type_set(ROLE),
    check=check_service_source_condition,
    config={
        "services": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_SERVICES,
            "description": "Service principals whose trust statements must carry a source condition.",
        }
    },
    tags=("security", "iam"),
)

RULES = (SERVICE_ROLE_SOURCE_CONDITION,)

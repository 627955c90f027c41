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


def _services(statement: dict[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    return _listed(principal.get("Service") if isinstance(principal, dict) else None)


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
    services = {s.lower() for s in config.get("services", DEFAULT_SERVICES) if isinstance(s, str)}
    allowing = [st for st in _listed(doc.get("Statement")) if isinstance(st, dict) and st.get("Effect") == "Allow"]
    found = []
    for statement in allowing:
        named = [s for s in _services(statement) if isinstance(s, str) and s.lower() in services]
        if named and not _held_to_a_source(statement.get("Condition")):
            found.append(
                f"the trust policy lets {', '.join(named)} assume the role without an aws:SourceAccount or "
                "aws:SourceArn condition: the service could be made to use it on another account's behalf "
                "(confused deputy)"
            )
    # A principal not known yet may name one of the services; a finding elsewhere stands regardless.
    if not found and any(holds_unknown(p) for st in allowing for p in (st.get("Principal"), *_services(st))):
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

"""Rules for log groups: every one expires, and the ones AWS services write to belong to the stack.

`aws.cloudwatch.LogGroup.retentionInDays` (pulumi-aws v7 pulumi_aws/cloudwatch/log_group.py): unset or 0
keeps events forever. RDS exports logs to `/aws/rds/instance/<identifier>/<type>` (Aurora:
`/aws/rds/cluster/<cluster>/<type>`) and EKS control-plane logs to `/aws/eks/<cluster>/cluster`; the
service creates a missing group itself, without retention and outside the stack, where it outlives
the database or cluster
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html,
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.CloudWatch.html,
https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html). Properties:
`aws.rds.Instance.identifier` / `enabledCloudwatchLogsExports`, `aws.rds.Cluster.clusterIdentifier` /
`enabledCloudwatchLogsExports`, `aws.eks.Cluster.name` / `enabledClusterLogTypes`.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, StackResource, as_int, items, type_set

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"


def check_retention(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    days = props.get("retentionInDays")
    if days is UNKNOWN or (days is not None and as_int(days) != 0):
        return []
    return [f"retentionInDays is {'0' if days is not None else 'not set'}: the log group keeps every event forever"]


def _service_groups(r: StackResource) -> tuple[str, list[str]] | None:
    """(what, the log group names the service writes to) for a resource that exports logs."""
    if r.resource_type in (RDS_INSTANCE, RDS_CLUSTER):
        kind, key, what = (
            ("instance", "identifier", "RDS instance")
            if r.resource_type == RDS_INSTANCE
            else ("cluster", "clusterIdentifier", "Aurora cluster")
        )
        ident, exports = r.props.get(key), r.props.get("enabledCloudwatchLogsExports")
        if not isinstance(ident, str) or not ident or not isinstance(exports, list):
            return None
        if any(not isinstance(e, str) for e in exports):
            return None
        return f"{what} {r.name}", [f"/aws/rds/{kind}/{ident}/{e}" for e in exports]
    if r.resource_type == EKS_CLUSTER:
        name, types = r.props.get("name"), r.props.get("enabledClusterLogTypes")
        if not isinstance(name, str) or not name or not items(types) or UNKNOWN in items(types):
            return None
        return f"EKS cluster {r.name}", [f"/aws/eks/{name}/cluster"]
    return None


def check_service_log_groups(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    names = [r.props.get("name") for r in resources if r.resource_type == LOG_GROUP]
    if any(n is UNKNOWN for n in names):
        # A group whose name is not known yet may be the one; nothing can be said until it is.
        return []
    managed = {n for n in names if isinstance(n, str)}
    found: list[tuple[str | None, str]] = []
    for r in resources:
        wanted = _service_groups(r)
        if wanted is None:
            continue
        what, groups = wanted
        missing = [g for g in dict.fromkeys(groups) if g not in managed]
        if missing:
            found.append(
                (
                    r.urn,
                    f"{what} writes logs to {', '.join(missing)}, which the stack does not create: the service "
                    "creates it without retention, and it outlives the resource; declare the log group (with "
                    "retentionInDays) before the resource",
                )
            )
    return found


LOG_GROUP_RETENTION = Rule(
    name="log-group-retention",
    description="CloudWatch log groups expire their events.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Logs kept forever cost more every month and keep personal data (IPs, user ids in access logs) "
    "longer than anyone decided to.",
    remediation="Set retentionInDays to one of CloudWatch's values (e.g. 30).",
    resource_types=type_set(LOG_GROUP),
    check=check_retention,
    tags=("hygiene", "logs"),
)

SERVICE_LOG_GROUPS_MANAGED = Rule(
    name="service-log-groups-managed",
    description="Log groups that RDS and EKS export to are created by the stack.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="A log group the service creates on first export never expires, is not in the plan, and stays "
    "behind when the stack is destroyed; a replaced database or cluster adds another.",
    remediation="Declare aws.cloudwatch.LogGroup with the service's name for it (and retentionInDays) and make "
    "the database or cluster depend on it.",
    stack_check=check_service_log_groups,
    tags=("hygiene", "logs"),
)

RULES = (LOG_GROUP_RETENTION, SERVICE_LOG_GROUPS_MANAGED)

"""Rules for how an autoscaling group replaces its instances: a rollout launches before it terminates.

The percentages are pulumi-aws v7's `aws.autoscaling.Group` `instanceRefresh.preferences`
(`GroupInstanceRefreshPreferences.minHealthyPercentage` / `maxHealthyPercentage` in
pulumi_aws/autoscaling/outputs.py) and the group's `instanceMaintenancePolicy`
(`GroupInstanceMaintenancePolicy`, same keys). AWS's defaults when neither sets them: min 90, max 100
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html: "If you do not
specify this property, the default is 90 percent, or the percentage set in the instance maintenance
policy"). A maximum of 100 leaves no room to launch first, and a minimum below 100 lets the refresh take
instances out of service before their replacements serve: a group of one goes fully down on every
deploy, a group of two down to half (https://docs.aws.amazon.com/autoscaling/ec2/userguide/
ec2-auto-scaling-instance-maintenance-policy.html).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, as_int, get, type_set

GROUP = "aws:autoscaling/group:Group"
DEFAULT_MIN_HEALTHY = 90
DEFAULT_MAX_HEALTHY = 100


def _percentage(props: dict[str, Any], key: str, default: int) -> tuple[int | None, str]:
    """The effective percentage and where it came from; None when it is not known yet."""
    for path, source in (
        (("instanceRefresh", "preferences", key), f"instanceRefresh.preferences.{key}"),
        (("instanceMaintenancePolicy", key), f"instanceMaintenancePolicy.{key}"),
    ):
        value = get(props, *path)
        if value is UNKNOWN:
            return None, source
        if value is not None:
            return as_int(value), source
    return default, f"{key} (unset, AWS default)"


def check_launch_before_terminate(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    refresh = props.get("instanceRefresh")
    if not isinstance(refresh, dict):
        # No instance refresh configured (or not known yet): the program starts no rollout.
        return []
    found = []
    low, low_from = _percentage(props, "minHealthyPercentage", DEFAULT_MIN_HEALTHY)
    if low is not None and low < 100:
        found.append(
            f"{low_from} is {low}: an instance refresh takes instances out of service before their "
            "replacements serve; set 100 (launch before terminate)"
        )
    high, high_from = _percentage(props, "maxHealthyPercentage", DEFAULT_MAX_HEALTHY)
    if high is not None and high <= 100:
        found.append(
            f"{high_from} is {high}: no replacement can launch before an old instance terminates; set it "
            "above 100 (e.g. 200)"
        )
    return found


ASG_LAUNCH_BEFORE_TERMINATE = Rule(
    name="asg-launch-before-terminate",
    description="Autoscaling group instance refreshes launch replacements before they terminate instances.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="With AWS's defaults (min healthy 90 %, max 100 %) a refresh terminates first: a group of one "
    "serves nothing during every deploy and a group of two runs on half its capacity.",
    remediation="Set instanceRefresh.preferences {minHealthyPercentage: 100, maxHealthyPercentage: 200} "
    "(or the group's instanceMaintenancePolicy).",
    resource_types=type_set(GROUP),
    check=check_launch_before_terminate,
    tags=("availability", "autoscaling"),
)

RULES = (ASG_LAUNCH_BEFORE_TERMINATE,)

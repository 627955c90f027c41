"""asg-launch-before-terminate: an instance refresh launches replacements before it terminates."""

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE

from policies.rules.autoscaling import ASG_LAUNCH_BEFORE_TERMINATE

GROUP = "aws:autoscaling/group:Group"
COMPLIANT = {
    "minSize": 1,
    "maxSize": 4,
    "healthCheckType": "ELB",
    "instanceRefresh": {
        "strategy": "Rolling",
        "preferences": {"minHealthyPercentage": 100, "maxHealthyPercentage": 200, "instanceWarmup": "180"},
    },
}
MIN_MESSAGE = (
    "instanceRefresh.preferences.minHealthyPercentage is {}: an instance refresh takes instances out of service "
    "before their replacements serve; set 100 (launch before terminate)"
)
MAX_MESSAGE = (
    "instanceRefresh.preferences.maxHealthyPercentage is {}: no replacement can launch before an old instance "
    "terminates; set it above 100 (e.g. 200)"
)


def _with(**preferences):
    return {**COMPLIANT, "instanceRefresh": {"strategy": "Rolling", "preferences": preferences}}


def test_compliant_group_passes(via_policy):
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, COMPLIANT) == []
    assert ASG_LAUNCH_BEFORE_TERMINATE.enforcement.value == "advisory"


@pytest.mark.parametrize("low", [0, 50, 90, 99])
def test_min_healthy_below_100(via_policy, low):
    props = _with(minHealthyPercentage=low, maxHealthyPercentage=200)
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == [MIN_MESSAGE.format(low)]


def test_max_healthy_at_100(via_policy):
    props = _with(minHealthyPercentage=100, maxHealthyPercentage=100)
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == [MAX_MESSAGE.format(100)]


def test_the_issue_case_min_90_max_100(via_policy):
    props = _with(minHealthyPercentage=90, maxHealthyPercentage=100)
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == [MIN_MESSAGE.format(90), MAX_MESSAGE.format(100)]


def test_refresh_without_preferences_gets_aws_defaults(via_policy):
    props = {**COMPLIANT, "instanceRefresh": {"strategy": "Rolling"}}
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == [
        "minHealthyPercentage (unset, AWS default) is 90: an instance refresh takes instances out of service "
        "before their replacements serve; set 100 (launch before terminate)",
        "maxHealthyPercentage (unset, AWS default) is 100: no replacement can launch before an old instance "
        "terminates; set it above 100 (e.g. 200)",
    ]


def test_instance_maintenance_policy_supplies_what_preferences_leave_out(via_policy):
    props = {
        **COMPLIANT,
        "instanceRefresh": {"strategy": "Rolling"},
        "instanceMaintenancePolicy": {"minHealthyPercentage": 100, "maxHealthyPercentage": 150},
    }
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == []
    props["instanceMaintenancePolicy"] = {"minHealthyPercentage": 50, "maxHealthyPercentage": 150}
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == [
        "instanceMaintenancePolicy.minHealthyPercentage is 50: an instance refresh takes instances out of service "
        "before their replacements serve; set 100 (launch before terminate)"
    ]


def test_no_refresh_and_unknown_values_are_not_findings(via_policy):
    no_refresh = {k: v for k, v in COMPLIANT.items() if k != "instanceRefresh"}
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, no_refresh) == []
    unknown = _with(minHealthyPercentage=UNKNOWN_NUMBER_VALUE, maxHealthyPercentage=UNKNOWN_NUMBER_VALUE)
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, unknown) == []


def test_max_healthy_just_above_100_passes(via_policy):
    props = _with(minHealthyPercentage=100, maxHealthyPercentage=101)
    assert via_policy(ASG_LAUNCH_BEFORE_TERMINATE, GROUP, props) == []

"""service-role-source-condition (policies/rules/iam.py)."""

import json

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.rules.iam import SERVICE_ROLE_SOURCE_CONDITION

ROLE_T = "aws:iam/role:Role"
FLOW_LOGS = "vpc-flow-logs.amazonaws.com"
SOURCE = {
    "StringEquals": {"aws:SourceAccount": "123456789012"},
    "ArnLike": {"aws:SourceArn": "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"},
}
CONFUSED = (
    "the trust policy lets vpc-flow-logs.amazonaws.com assume the role without an aws:SourceAccount or "
    "aws:SourceArn condition: the service could be made to use it on another account's behalf (confused deputy)"
)


def _trust(condition=None, service=FLOW_LOGS):
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return {"assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_flow_log_role_held_to_the_account_passes(via_policy):
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust(SOURCE)) == []
    only_account = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust(only_account)) == []
    assert SERVICE_ROLE_SOURCE_CONDITION.enforcement.value == "mandatory"


@pytest.mark.parametrize("condition", [None, {}, {"Bool": {"aws:SecureTransport": "true"}}])
def test_flow_log_role_without_a_source_condition(via_policy, condition):
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust(condition)) == [CONFUSED]


def test_service_lists_and_other_services(via_policy):
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust(service=[FLOW_LOGS, "ec2.amazonaws.com"])) == [
        CONFUSED
    ]
    # EC2 and Lambda assume roles for this account's own instances and functions only.
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust(service="lambda.amazonaws.com")) == []
    config = {"services": ["delivery.logs.amazonaws.com"]}
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust(service="delivery.logs.amazonaws.com"), config) == [
        CONFUSED.replace(FLOW_LOGS, "delivery.logs.amazonaws.com")
    ]


def test_unknown_trust_policy_is_not_judged(via_policy):
    """Neither a violation nor a pass: the analyzer and the gate report that the policy could not run."""
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, {"assumeRolePolicy": UNKNOWN_STRING_VALUE})
    spliced = '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "' + UNKNOWN_STRING_VALUE
    with pytest.raises(UnknownValueError):
        via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, {"assumeRolePolicy": spliced})
    inner = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": UNKNOWN_STRING_VALUE}, "Action": "sts:AssumeRole"}]}
    )
    with pytest.raises(UnknownValueError):
        via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, {"assumeRolePolicy": inner})


@pytest.mark.parametrize(
    ("operator", "key", "value"),
    [
        ("ArnLike", "aws:SourceArn", "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"),
        ("ArnEquals", "AWS:SOURCEARN", "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/fl-1"),
        ("StringEquals", "aws:SourceAccount", "123456789012"),
        ("StringEquals", "aws:SourceOrgID", "o-abc123"),
        ("ForAnyValue:StringLike", "aws:SourceOrgPaths", "o-abc123/r-ab12/ou-ab12-11111111/*"),
    ],
)
def test_each_source_key_alone_holds_the_service(operator, key, value, via_policy):
    # Each global source key on its own ties the request to this account, in any letter case
    # (condition keys are case-insensitive: IAM User Guide, "Condition element").
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, _trust({operator: {key: value}})) == []


def test_the_default_services_apply_without_config():
    from policies.rules.iam import check_service_source_condition

    assert check_service_source_condition(ROLE_T, _trust(), {}) == [CONFUSED]
    assert check_service_source_condition(ROLE_T, _trust(service="lambda.amazonaws.com"), {}) == []


def test_every_statement_is_read(via_policy):
    statements = [
        "not a statement",
        {"Effect": "Deny", "Principal": {"Service": FLOW_LOGS}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Service": [FLOW_LOGS, "delivery.logs.amazonaws.com"]}},
    ]
    props = {"assumeRolePolicy": json.dumps({"Statement": statements})}
    config = {"services": [FLOW_LOGS, "delivery.logs.amazonaws.com"]}
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, props, config) == [
        CONFUSED.replace(FLOW_LOGS, f"{FLOW_LOGS}, delivery.logs.amazonaws.com")
    ]


@pytest.mark.parametrize(
    ("policy", "path"),
    [
        (UNKNOWN_STRING_VALUE, "assumeRolePolicy"),
        ('{"Statement": [{"Effect": "Allow", "Principal": "' + UNKNOWN_STRING_VALUE, "assumeRolePolicy"),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Principal": UNKNOWN_STRING_VALUE}]}),
            "assumeRolePolicy.Statement.Principal.Service",
        ),
        (
            json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"Service": [UNKNOWN_STRING_VALUE]}}]}),
            "assumeRolePolicy.Statement.Principal.Service",
        ),
    ],
)
def test_what_is_not_known_is_named(policy, path, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError) as raised:
        via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, {"assumeRolePolicy": policy})
    assert raised.value.props == [path]


def test_a_finding_stands_beside_a_principal_not_known_yet(via_policy):
    statements = [
        {"Effect": "Allow", "Principal": {"Service": UNKNOWN_STRING_VALUE}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Service": FLOW_LOGS}, "Action": "sts:AssumeRole"},
    ]
    props = {"assumeRolePolicy": json.dumps({"Statement": statements})}
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, props) == [CONFUSED]


@pytest.mark.parametrize("policy", [None, "not json", "[]", json.dumps({"Statement": []})])
def test_a_trust_policy_that_is_missing_or_unreadable_judges_nothing(policy, via_policy):
    props = {} if policy is None else {"assumeRolePolicy": policy}
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, props) == []


def test_a_denying_statement_not_known_yet_is_not_waited_for(via_policy):
    statements = [{"Effect": "Deny", "Principal": {"Service": UNKNOWN_STRING_VALUE}, "Action": "sts:AssumeRole"}]
    props = {"assumeRolePolicy": json.dumps({"Statement": statements})}
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, props) == []

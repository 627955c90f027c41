"""IAM and resource-policy documents: scoped grants only."""

import pytest

from infra.lib import iam

ARNS = {
    "bucket_arn": "arn:aws:s3:::bucket",
    "queue_arn": "arn:aws:sqs:us-east-1:123456789012:q",
    "secret_arns": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:a"],
    "signing_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k",
}


def test_web_app_policy_grants_only_what_the_web_tier_calls() -> None:
    doc = iam.web_app_policy(**ARNS)
    assert iam.wildcard_grants(doc) == []
    grants = {a: s["Resource"] for s in doc["Statement"] for a in s["Action"]}
    assert grants == {
        "sqs:SendMessage": [ARNS["queue_arn"]],
        "s3:GetObject": ["arn:aws:s3:::bucket/receipts/*"],
        "secretsmanager:GetSecretValue": ARNS["secret_arns"],
        "kms:Sign": [ARNS["signing_key_arn"]],
        "kms:GetPublicKey": [ARNS["signing_key_arn"]],
    }


def test_instance_host_policy_only_star_grant_is_the_registry_login() -> None:
    doc = iam.instance_host_policy(parameter_arns=["arn:aws:ssm:us-east-1:123456789012:parameter/p"],
                                   log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:g",
                                   repository_arn="arn:aws:ecr:us-east-1:123456789012:repository/r")
    star = [s for s in doc["Statement"] if "*" in s["Resource"]]
    assert [s["Action"] for s in star] == [["ecr:GetAuthorizationToken"]]
    actions = [a for s in doc["Statement"] for a in s["Action"]]
    assert not any(a.startswith(("s3:", "sqs:", "secretsmanager:", "kms:")) for a in actions)


def test_empty_statements_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        iam.web_app_policy(**{**ARNS, "secret_arns": []})


def test_service_trust_can_be_bound_to_the_account_and_source() -> None:
    doc = iam.assume_role_policy("vpc-flow-logs.amazonaws.com", source_account="123456789012",
                                 source_arn="arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*")
    [st] = doc["Statement"]
    assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"},
                               "ArnLike": {"aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"}}


def test_wildcard_grants_are_found() -> None:
    doc = iam.document([{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    assert len(iam.wildcard_grants(doc)) == 1
    doc = iam.document([{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}])
    assert len(iam.wildcard_grants(doc)) == 1
    doc = iam.document([{"Effect": "Deny", "Action": "*", "Resource": "*"}])
    assert iam.wildcard_grants(doc) == []



def test_tls_only_statement_denies_plain_http_on_bucket_and_objects() -> None:
    st = iam.tls_only_statement("arn:aws:s3:::b")
    assert st["Effect"] == "Deny"
    assert st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert st["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]


def test_elb_log_delivery_uses_the_regional_account_where_one_exists() -> None:
    old = iam.elb_log_delivery_statements("arn:aws:s3:::logs", "alb", "us-east-1")
    assert {"AWS": "arn:aws:iam::127311923021:root"} in [s["Principal"] for s in old]
    new = iam.elb_log_delivery_statements("arn:aws:s3:::logs", "alb", "ap-southeast-4")
    assert [s["Principal"] for s in new] == [{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}]
    assert all(s["Resource"] == "arn:aws:s3:::logs/alb/AWSLogs/*" for s in old + new)


def test_ecr_lifecycle_keeps_tagged_images_and_expires_untagged() -> None:
    rules = iam.ecr_lifecycle_policy(keep_tagged=10, untagged_days=3)["rules"]
    assert rules[0]["selection"]["tagStatus"] == "untagged"
    # ECR requires the `any` rule to have the lowest priority (highest number).
    assert rules[-1]["selection"]["tagStatus"] == "any"
    with pytest.raises(ValueError):
        iam.ecr_lifecycle_policy(keep_tagged=0, untagged_days=3)


def test_assume_role_policy_trusts_one_service() -> None:
    doc = iam.assume_role_policy("ec2.amazonaws.com")
    assert doc["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]

"""service-role-source-condition, the EKS cluster rules, kms-key-rotation and ecr-immutable-tags."""

import json

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policies.rules.eks import (
    EKS_ACCESS_ENTRIES,
    EKS_DELETION_PROTECTION,
    EKS_PUBLIC_ENDPOINT,
    EKS_SECRETS_ENCRYPTION,
)
from policies.rules.iam import SERVICE_ROLE_SOURCE_CONDITION
from policies.rules.kms import KMS_KEY_ROTATION
from policies.rules.registry import ECR_IMMUTABLE_TAGS

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
    assert via_policy(SERVICE_ROLE_SOURCE_CONDITION, ROLE_T, {"assumeRolePolicy": UNKNOWN_STRING_VALUE}) == []


CLUSTER_T = "aws:eks/cluster:Cluster"
CLUSTER = {
    "name": "shop-1a2b3c4d",
    "vpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "endpointPrivateAccess": True, "endpointPublicAccess": False},
    "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:eu-west-1:123456789012:key/k"}, "resources": ["secrets"]},
    "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    "enabledClusterLogTypes": ["api", "audit"],
}


def _cluster(**changes):
    return {**CLUSTER, **changes}


def test_compliant_cluster_passes(via_policy):
    for rule in (EKS_PUBLIC_ENDPOINT, EKS_SECRETS_ENCRYPTION, EKS_ACCESS_ENTRIES):
        assert via_policy(rule, CLUSTER_T, CLUSTER) == []
    listed = _cluster(
        vpcConfig={**CLUSTER["vpcConfig"], "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}
    )
    assert via_policy(EKS_PUBLIC_ENDPOINT, CLUSTER_T, listed) == []


def test_public_endpoint_open_to_the_world(via_policy):
    default = _cluster(vpcConfig={"subnetIds": ["subnet-a", "subnet-b"]})
    assert via_policy(EKS_PUBLIC_ENDPOINT, CLUSTER_T, default) == [
        "vpcConfig.endpointPublicAccess is on with no publicAccessCidrs: EKS opens the Kubernetes API to 0.0.0.0/0; "
        "list the networks that deploy, or turn the public endpoint off"
    ]
    world = _cluster(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["10.0.0.0/8", "0.0.0.0/0"]})
    assert via_policy(EKS_PUBLIC_ENDPOINT, CLUSTER_T, world) == [
        "vpcConfig.publicAccessCidrs includes 0.0.0.0/0: the Kubernetes API is open to the internet"
    ]
    unknown = _cluster(vpcConfig={"endpointPublicAccess": UNKNOWN_BOOLEAN_VALUE})
    assert via_policy(EKS_PUBLIC_ENDPOINT, CLUSTER_T, unknown) == []


def test_secrets_not_encrypted(via_policy):
    message = "encryptionConfig does not cover secrets: Kubernetes Secrets are stored without a KMS envelope key"
    without = {k: v for k, v in CLUSTER.items() if k != "encryptionConfig"}
    assert via_policy(EKS_SECRETS_ENCRYPTION, CLUSTER_T, without) == [message]
    assert via_policy(EKS_SECRETS_ENCRYPTION, CLUSTER_T, _cluster(encryptionConfig={"resources": []})) == [message]
    as_list = _cluster(encryptionConfig=[CLUSTER["encryptionConfig"]])
    assert via_policy(EKS_SECRETS_ENCRYPTION, CLUSTER_T, as_list) == []


def test_access_outside_iam(via_policy):
    mixed = _cluster(
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": False}
    )
    assert via_policy(EKS_ACCESS_ENTRIES, CLUSTER_T, mixed) == [
        "accessConfig.authenticationMode is API_AND_CONFIG_MAP, not API: the aws-auth ConfigMap grants cluster "
        "access outside IAM and outside the plan"
    ]
    unset = {k: v for k, v in CLUSTER.items() if k != "accessConfig"}
    assert via_policy(EKS_ACCESS_ENTRIES, CLUSTER_T, unset) == [
        "accessConfig.authenticationMode is unset, not API: the aws-auth ConfigMap grants cluster access outside "
        "IAM and outside the plan",
        "accessConfig.bootstrapClusterCreatorAdminPermissions is not false: whoever creates the cluster gets "
        "cluster-admin that no resource shows; grant it with an access entry instead",
    ]
    assert EKS_ACCESS_ENTRIES.enforcement.value == "advisory"


KEY_T = "aws:kms/key:Key"


def test_symmetric_key_rotation(via_policy):
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"enableKeyRotation": True}) == []
    for props in ({}, {"enableKeyRotation": False}, {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}):
        assert via_policy(KMS_KEY_ROTATION, KEY_T, props) == [
            "enableKeyRotation is not true: the symmetric key's material never changes"
        ]


def test_keys_that_cannot_rotate_are_not_judged(via_policy):
    signing = {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}
    assert via_policy(KMS_KEY_ROTATION, KEY_T, signing) == []
    assert (
        via_policy(KMS_KEY_ROTATION, KEY_T, {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"})
        == []
    )
    assert via_policy(KMS_KEY_ROTATION, KEY_T, {"enableKeyRotation": UNKNOWN_BOOLEAN_VALUE}) == []


def test_cluster_deletion_protection(via_policy):
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, _cluster(deletionProtection=True)) == []
    message = "deletionProtection is not true: one mistaken destroy or replacement deletes the cluster"
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, CLUSTER) == [message]
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, _cluster(deletionProtection=False)) == [message]
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, _cluster(deletionProtection=UNKNOWN_BOOLEAN_VALUE)) == []
    assert EKS_DELETION_PROTECTION.enforcement.value == "advisory"


REPO_T = "aws:ecr/repository:Repository"


@pytest.mark.parametrize("value", ["IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", UNKNOWN_STRING_VALUE])
def test_immutable_repositories_pass(via_policy, value):
    assert via_policy(ECR_IMMUTABLE_TAGS, REPO_T, {"imageTagMutability": value}) == []


def test_mutable_tags(via_policy):
    assert via_policy(ECR_IMMUTABLE_TAGS, REPO_T, {}) == [
        "imageTagMutability is unset (MUTABLE): a push can move a tag, so a rollback or a new instance may run an "
        "image nobody tested"
    ]
    assert via_policy(ECR_IMMUTABLE_TAGS, REPO_T, {"imageTagMutability": "MUTABLE"}) == [
        "imageTagMutability is MUTABLE: a push can move a tag, so a rollback or a new instance may run an image "
        "nobody tested"
    ]

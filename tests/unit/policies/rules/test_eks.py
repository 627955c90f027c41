"""The EKS cluster rules (policies/rules/eks.py): public endpoint, secrets encryption, access entries,
deletion protection."""

from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

from policies.rules.eks import (
    EKS_ACCESS_ENTRIES,
    EKS_DELETION_PROTECTION,
    EKS_PUBLIC_ENDPOINT,
    EKS_SECRETS_ENCRYPTION,
)

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


def test_cluster_deletion_protection(via_policy):
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, _cluster(deletionProtection=True)) == []
    message = "deletionProtection is not true: one mistaken destroy or replacement deletes the cluster"
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, CLUSTER) == [message]
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, _cluster(deletionProtection=False)) == [message]
    assert via_policy(EKS_DELETION_PROTECTION, CLUSTER_T, _cluster(deletionProtection=UNKNOWN_BOOLEAN_VALUE)) == []
    assert EKS_DELETION_PROTECTION.enforcement.value == "advisory"

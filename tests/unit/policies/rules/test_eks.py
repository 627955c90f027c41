"""The EKS cluster rules (policies/rules/eks.py): public endpoint, secrets encryption, access entries,
deletion protection, version in standard support, node group desired size left to the Cluster Autoscaler."""

from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.lib import eks_versions
from policies.rules.eks import (
    CALENDAR_DATE,
    EKS_ACCESS_ENTRIES,
    EKS_DELETION_PROTECTION,
    EKS_NODEGROUP_DESIRED_SIZE_IGNORED,
    EKS_PUBLIC_ENDPOINT,
    EKS_SECRETS_ENCRYPTION,
    EKS_VERSION_SUPPORTED,
    END_OF_STANDARD_SUPPORT,
)

UNKNOWN_STRING = UNKNOWN_STRING_VALUE

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


# ------------------------------------------------------------------ eks-version-supported

SUPPORTED = _cluster(version="1.35", upgradePolicy={"supportType": "STANDARD"})
AS_OF = {"asOf": "2026-12-07"}


def test_a_standard_support_version_with_the_standard_policy_passes(via_policy):
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, SUPPORTED, AS_OF) == []
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, _cluster(version=UNKNOWN_STRING,
                                                                 upgradePolicy={"supportType": "STANDARD"})) == []


def test_a_version_past_standard_support_is_reported_on_its_date(via_policy):
    late = {**SUPPORTED, "version": "1.34"}
    message = ("version 1.34 is past the end of EKS standard support (2026-12-02): the cluster is billed for "
               "extended support or upgraded by EKS")
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, late, AS_OF) == [message]
    # The day before its end of standard support 1.34 still passes; the date is the calendar's, not a guess.
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, late, {"asOf": "2026-12-01"}) == []
    # Billing for extended support starts on the end-of-standard-support day itself (UTC).
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, late, {"asOf": "2026-12-02"}) == [message]


def test_a_version_outside_the_calendar_cannot_pass_silently(via_policy):
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, {**SUPPORTED, "version": "1.37"}, AS_OF) == [
        "version 1.37 is not in the EKS support calendar dated 2026-12-07: its standard support cannot be judged; "
        "check the EKS release calendar"
    ]
    unset = {k: v for k, v in SUPPORTED.items() if k != "version"}
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, unset, AS_OF) == [
        "version is unset: EKS picks its default version, which may already be past standard support; name a "
        "version in standard support"
    ]


def test_an_unset_or_extended_upgrade_policy_is_reported(via_policy):
    unset = {k: v for k, v in SUPPORTED.items() if k != "upgradePolicy"}
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, unset, AS_OF) == [
        "upgradePolicy.supportType is unset (EKS applies EXTENDED), not STANDARD: once the version leaves standard "
        "support the cluster is billed for extended support without anyone deciding it"
    ]
    extended = {**SUPPORTED, "upgradePolicy": {"supportType": "EXTENDED"}}
    assert via_policy(EKS_VERSION_SUPPORTED, CLUSTER_T, extended, AS_OF) == [
        "upgradePolicy.supportType is EXTENDED, not STANDARD: once the version leaves standard support the cluster "
        "is billed for extended support without anyone deciding it"
    ]


def test_version_rule_is_advisory_and_its_calendar_is_the_programs():
    assert EKS_VERSION_SUPPORTED.enforcement.value == "advisory"
    # The pack is published alone and keeps its own copy of the dated calendar: it must not drift.
    assert {v: w.end_of_standard for v, w in eks_versions.CALENDAR.items()} == END_OF_STANDARD_SUPPORT
    assert eks_versions.TABLE_DATE.isoformat() == CALENDAR_DATE


# ------------------------------------------------------------------ eks-nodegroup-desired-size-ignored

NODE_GROUP_T = "aws:eks/nodeGroup:NodeGroup"
NODE_GROUP = {"clusterName": "shop-1a2b3c4d", "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1}}
AUTOSCALER = {"metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
              "spec": {"template": {"spec": {"containers": [
                  {"name": "cluster-autoscaler", "image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2"}]}}}}
APP = {"metadata": {"name": "app"},
       "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app@sha256:" + "a" * 64}]}}}}


def _stack(rule, resources, config=None):
    """resources: (type, name, props, ignoreChanges); the options reach the rule as the analyzer passes them."""
    objs = []
    for type_, name, props, ignored in resources:
        opts = PolicyResourceOptions(False, list(ignored), None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
        objs.append(PolicyResource(type_, unknown_checking_proxy(dict(props)), f"urn:pulumi:t::p::{type_}::{name}",
                                   name, opts, None, None, [], {}))
    reported = []
    rule.policy().validate(StackValidationArgs(objs, rule.settings(config)),
                           lambda message, urn=None: reported.append((urn, message)))
    return reported


def test_node_groups_that_ignore_the_desired_size_pass_beside_an_autoscaler():
    assert _stack(EKS_NODEGROUP_DESIRED_SIZE_IGNORED, [
        ("kubernetes:apps/v1:Deployment", "ca", AUTOSCALER, []),
        (NODE_GROUP_T, "nodes-0", NODE_GROUP, ["scalingConfig.desiredSize"]),
        (NODE_GROUP_T, "nodes-1", NODE_GROUP, ["scalingConfig"]),
    ]) == []


def test_a_node_group_that_sets_its_desired_size_beside_an_autoscaler_is_reported():
    message = ("scalingConfig.desiredSize is managed by the program while a Cluster Autoscaler scales the node "
               "group: the next update (or `up --refresh`) sets it back and EKS terminates nodes")
    assert _stack(EKS_NODEGROUP_DESIRED_SIZE_IGNORED, [
        ("kubernetes:apps/v1:Deployment", "ca", AUTOSCALER, []),
        (NODE_GROUP_T, "nodes-0", NODE_GROUP, ["scalingConfig.desiredSize"]),
        (NODE_GROUP_T, "nodes-1", NODE_GROUP, ["scalingConfig.minSize"]),
    ]) == [(f"urn:pulumi:t::p::{NODE_GROUP_T}::nodes-1", message)]
    # The project's component marks the autoscaler too, whatever its Deployment looks like.
    assert _stack(EKS_NODEGROUP_DESIRED_SIZE_IGNORED, [
        ("stateless:cluster_autoscaler:ClusterAutoscaler", "ca", {}, []),
        (NODE_GROUP_T, "nodes-0", NODE_GROUP, []),
    ]) == [(f"urn:pulumi:t::p::{NODE_GROUP_T}::nodes-0", message)]


def test_without_an_autoscaler_the_program_may_own_the_desired_size():
    assert _stack(EKS_NODEGROUP_DESIRED_SIZE_IGNORED, [
        ("kubernetes:apps/v1:Deployment", "app", APP, []),
        (NODE_GROUP_T, "nodes-0", NODE_GROUP, []),
    ]) == []
    assert EKS_NODEGROUP_DESIRED_SIZE_IGNORED.enforcement.value == "advisory"


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert EKS_PUBLIC_ENDPOINT.enforcement.value == "mandatory"
    assert EKS_SECRETS_ENCRYPTION.enforcement.value == "mandatory"


def test_every_world_range_of_the_public_endpoint_is_named(via_policy):
    world = _cluster(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0", "::/0"]})
    assert via_policy(EKS_PUBLIC_ENDPOINT, CLUSTER_T, world) == [
        "vpcConfig.publicAccessCidrs includes 0.0.0.0/0, ::/0: the Kubernetes API is open to the internet"
    ]


def test_today_is_the_utc_date(monkeypatch):
    """Without asOf the support calendar is read on today's date in UTC, as a CI runner and a laptop agree."""
    from datetime import UTC, date, datetime

    from policies.rules import eks

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            # 23:30 on 2026-12-06 in UTC is already 2026-12-07 east of it.
            return datetime(2026, 12, 6, 23, 30, tzinfo=UTC) if tz is UTC else datetime(2026, 12, 7, 1, 30)

    monkeypatch.setattr(eks, "datetime", Clock)
    assert eks._today({}) == date(2026, 12, 6)
    assert eks._today({"asOf": "2027-01-02"}) == date(2027, 1, 2)

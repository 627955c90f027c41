"""Rules for EKS clusters: the Kubernetes API is not open to the internet, Secrets are envelope-encrypted,
and who may administer the cluster is IAM's business, visible in the plan.

Properties of `aws.eks.Cluster` in pulumi-aws v7 (pulumi_aws/eks/cluster.py, _inputs.py):
`vpcConfig.endpointPublicAccess` (default true) and `vpcConfig.publicAccessCidrs` ("EKS defaults this to a
list with 0.0.0.0/0"), `encryptionConfig.resources`, `accessConfig.authenticationMode` (`CONFIG_MAP`,
`API`, `API_AND_CONFIG_MAP`), `accessConfig.bootstrapClusterCreatorAdminPermissions` (default true) and
`deletionProtection` (default false).
Access entries: https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html.
`version` and `upgradePolicy.supportType` (`STANDARD`, `EXTENDED`; EKS applies EXTENDED when unset) of the
cluster, and `scalingConfig.desiredSize` of `aws.eks.NodeGroup`, judged with the node group's ignoreChanges
option ("If you use the Kubernetes Cluster Autoscaler, you shouldn't change the desiredSize value
directly", EKS API reference, NodegroupScalingConfig).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, StackResource, falsy, get, is_world_cidr, items, type_set

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

# End of EKS standard support per Kubernetes minor version, from the Amazon EKS Kubernetes release calendar
# (https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html#kubernetes-release-calendar; 1.35
# from https://endoflife.date/amazon-eks), dated 2026-12-07. The pack is published alone, so it keeps its own
# copy; tests/unit/policies/rules/test_eks.py keeps it equal to infra/lib/eks_versions.py.
CALENDAR_DATE = "2026-12-07"
END_OF_STANDARD_SUPPORT: dict[str, date] = {
    "1.30": date(2025, 7, 23),
    "1.31": date(2025, 11, 26),
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
}
# What marks a Cluster Autoscaler in a stack: its image (registry.k8s.io/autoscaling/cluster-autoscaler, the
# upstream release images) in a Deployment, or this project's component.
AUTOSCALER_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
AUTOSCALER_COMPONENT = "stateless:cluster_autoscaler:ClusterAutoscaler"
DESIRED_SIZE_PATHS = ("scalingConfig.desiredSize", "scalingConfig", "scalingConfig.desired_size")


def check_public_endpoint(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    public = get(props, "vpcConfig", "endpointPublicAccess")
    if public is UNKNOWN or falsy(public):
        return []
    cidrs = get(props, "vpcConfig", "publicAccessCidrs")
    if cidrs is UNKNOWN:
        return []
    listed = items(cidrs)
    if not listed:
        return [
            "vpcConfig.endpointPublicAccess is on with no publicAccessCidrs: EKS opens the Kubernetes API to "
            "0.0.0.0/0; list the networks that deploy, or turn the public endpoint off"
        ]
    world = [c for c in listed if is_world_cidr(c)]
    if world:
        return [f"vpcConfig.publicAccessCidrs includes {', '.join(world)}: the Kubernetes API is open to the internet"]
    return []


def check_secrets_encryption(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    configs = props.get("encryptionConfig")
    if configs is UNKNOWN:
        return []
    resources = [r for c in items(configs) if isinstance(c, dict) for r in items(c.get("resources"))]
    if UNKNOWN in resources or "secrets" in resources:
        return []
    return ["encryptionConfig does not cover secrets: Kubernetes Secrets are stored without a KMS envelope key"]


def check_access_entries(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    access = props.get("accessConfig")
    if access is UNKNOWN:
        return []
    found = []
    mode = get(access, "authenticationMode")
    if mode is not UNKNOWN and mode != "API":
        found.append(
            f"accessConfig.authenticationMode is {mode or 'unset'}, not API: the aws-auth ConfigMap grants cluster "
            "access outside IAM and outside the plan"
        )
    bootstrap = get(access, "bootstrapClusterCreatorAdminPermissions")
    if bootstrap is not UNKNOWN and not falsy(bootstrap):
        found.append(
            "accessConfig.bootstrapClusterCreatorAdminPermissions is not false: whoever creates the cluster gets "
            "cluster-admin that no resource shows; grant it with an access entry instead"
        )
    return found


def check_deletion_protection(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    value = props.get("deletionProtection")
    if value is None or falsy(value):
        return ["deletionProtection is not true: one mistaken destroy or replacement deletes the cluster"]
    return []


def _today(config: dict[str, Any]) -> date:
    given = config.get("asOf") or ""
    if given:
        return date.fromisoformat(str(given))
    return datetime.now(UTC).date()


def check_version_supported(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    version = props.get("version")
    today = _today(config)
    if version is not UNKNOWN:
        end = END_OF_STANDARD_SUPPORT.get(str(version))
        if version is None:
            found.append("version is unset: EKS picks its default version, which may already be past standard "
                         "support; name a version in standard support")
        elif end is None:
            found.append(f"version {version} is not in the EKS support calendar dated {CALENDAR_DATE}: "
                         "its standard support cannot be judged; check the EKS release calendar")
        elif today >= end:
            found.append(f"version {version} is past the end of EKS standard support ({end.isoformat()}): the "
                         "cluster is billed for extended support or upgraded by EKS")
    support = get(props, "upgradePolicy", "supportType")
    if support is not UNKNOWN and support != "STANDARD":
        found.append(f"upgradePolicy.supportType is {support or 'unset (EKS applies EXTENDED)'}, not STANDARD: "
                     "once the version leaves standard support the cluster is billed for extended support "
                     "without anyone deciding it")
    return found


def _runs_cluster_autoscaler(resource: StackResource) -> bool:
    if resource.resource_type == AUTOSCALER_COMPONENT:
        return True
    if resource.resource_type != "kubernetes:apps/v1:Deployment":
        return False
    pod = get(resource.props, "spec", "template", "spec")
    containers = items(get(pod, "containers"))
    return any(isinstance(c, dict) and isinstance(c.get("image"), str) and c["image"].startswith(AUTOSCALER_IMAGE)
               for c in containers)


def check_desired_size_ignored(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    if not any(_runs_cluster_autoscaler(r) for r in resources):
        return []
    return [
        (r.urn, "scalingConfig.desiredSize is managed by the program while a Cluster Autoscaler scales the node "
                "group: the next update (or `up --refresh`) sets it back and EKS terminates nodes")
        for r in resources
        if r.resource_type == NODE_GROUP and not set(DESIRED_SIZE_PATHS) & set(r.ignore_changes)
    ]


EKS_PUBLIC_ENDPOINT = Rule(
    name="eks-public-endpoint",
    description="EKS clusters do not open the Kubernetes API endpoint to the internet.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="The API server is the cluster's control; open to 0.0.0.0/0 it is one leaked credential or one API "
    "server vulnerability away from anyone.",
    remediation="Set vpcConfig.endpointPublicAccess: false, or publicAccessCidrs to the networks that deploy "
    "(CI runners, operators).",
    resource_types=type_set(CLUSTER),
    check=check_public_endpoint,
    tags=("security", "eks"),
)

EKS_SECRETS_ENCRYPTION = Rule(
    name="eks-secrets-encryption",
    description="EKS clusters envelope-encrypt Kubernetes Secrets with a KMS key.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="Secrets in etcd are otherwise protected only by the storage encryption AWS applies; a KMS key adds "
    "an auditable, revocable layer.",
    remediation='Set encryptionConfig {provider: {keyArn: <KMS key>}, resources: ["secrets"]}.',
    resource_types=type_set(CLUSTER),
    check=check_secrets_encryption,
    tags=("security", "eks"),
)

EKS_ACCESS_ENTRIES = Rule(
    name="eks-access-entries",
    description="EKS clusters grant access through IAM access entries only.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Access entries are resources of the stack that the plan shows and IAM audits; the aws-auth ConfigMap "
    "and the implicit creator grant are neither.",
    remediation="Set accessConfig {authenticationMode: API, bootstrapClusterCreatorAdminPermissions: false} and "
    "declare aws.eks.AccessEntry + AccessPolicyAssociation for each administrator.",
    resource_types=type_set(CLUSTER),
    check=check_access_entries,
    tags=("security", "eks"),
)

EKS_DELETION_PROTECTION = Rule(
    name="eks-deletion-protection",
    description="EKS clusters have deletion protection where the stack demands it.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Deleting the cluster takes every workload, Secret and access entry with it; rebuilding it is an "
    "outage even when the app itself is stateless.",
    remediation="Set deletionProtection: true (stateless-stack: eksDeletionProtection).",
    resource_types=type_set(CLUSTER),
    check=check_deletion_protection,
    tags=("durability", "eks"),
)

EKS_VERSION_SUPPORTED = Rule(
    name="eks-version-supported",
    description="EKS clusters run a Kubernetes version in standard support, with the STANDARD upgrade policy.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Past standard support EKS bills extended support (six times the cluster-hour price) or, with the "
    "STANDARD policy, upgrades the control plane on its own date; an unset policy means EXTENDED.",
    remediation="Set version to one in standard support (stateless-stack: eksKubernetesVersion) and "
    "upgradePolicy {supportType: STANDARD} (eksUpgradePolicy).",
    resource_types=type_set(CLUSTER),
    check=check_version_supported,
    config={"asOf": {"type": "string", "default": "",
                     "description": "Judge support on this date (YYYY-MM-DD) instead of today."}},
    tags=("cost", "eks"),
)

EKS_NODEGROUP_DESIRED_SIZE_IGNORED = Rule(
    name="eks-nodegroup-desired-size-ignored",
    description="With a Cluster Autoscaler in the stack, node groups leave scalingConfig.desiredSize to it "
    "(ignoreChanges).",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="The autoscaler changes the desired size; a program that also sets it undoes every scale-up on its next "
    "update, terminating nodes and evicting pods.",
    remediation='Give each aws.eks.NodeGroup ResourceOptions(ignore_changes=["scalingConfig.desiredSize"]).',
    stack_check=check_desired_size_ignored,
    tags=("availability", "eks"),
)

RULES = (EKS_PUBLIC_ENDPOINT, EKS_SECRETS_ENCRYPTION, EKS_ACCESS_ENTRIES, EKS_DELETION_PROTECTION,
         EKS_VERSION_SUPPORTED, EKS_NODEGROUP_DESIRED_SIZE_IGNORED)

"""Rules for EKS clusters: the Kubernetes API is not open to the internet, Secrets are envelope-encrypted,
and who may administer the cluster is IAM's business, visible in the plan.

Properties of `aws.eks.Cluster` in pulumi-aws v7 (pulumi_aws/eks/cluster.py, _inputs.py):
`vpcConfig.endpointPublicAccess` (default true) and `vpcConfig.publicAccessCidrs` ("EKS defaults this to a
list with 0.0.0.0/0"), `encryptionConfig.resources`, `accessConfig.authenticationMode` (`CONFIG_MAP`,
`API`, `API_AND_CONFIG_MAP`), `accessConfig.bootstrapClusterCreatorAdminPermissions` (default true) and
`deletionProtection` (default false).
Access entries: https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, falsy, get, is_world_cidr, items, type_set

CLUSTER = "aws:eks/cluster:Cluster"


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

RULES = (EKS_PUBLIC_ENDPOINT, EKS_SECRETS_ENCRYPTION, EKS_ACCESS_ENTRIES, EKS_DELETION_PROTECTION)

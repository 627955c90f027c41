"""Kubernetes compute: an EKS cluster with hardened managed node groups (one per zone) running the app.

Creates, under one `stateless:compute_eks:ComputeEks` component:
- a KMS key (rotation on) that envelope-encrypts Kubernetes Secrets,
- a random suffix for the cluster name (`<name>-<8 hex>`): the control-plane log group must be named
  before the cluster exists, yet a replaced cluster must not collide with the old one,
- the control-plane log group `/aws/eks/<cluster>/cluster` with retention, created before the cluster,
- the cluster role (AmazonEKSClusterPolicy only) and the cluster: private endpoint on, public endpoint
  only for the given CIDRs (off when none), API access-entry authentication, all control-plane logs, and
  an upgrade policy (STANDARD by default: EKS would otherwise default to EXTENDED and bill extended
  support silently once the version leaves standard support),
- an access entry with the cluster-admin access policy for the configured deployer principal (the role
  the pipeline deploys with, from configuration, never from whoever runs `pulumi up`: `principal_arn`
  replaces the entry, so deriving it from the caller would swap cluster-admin between identities on every
  run, terraform-aws-modules/terraform-aws-eks#3293, #2969), and one for each given admin principal,
- the IAM OIDC provider of the cluster's issuer, and the app's IRSA role: only the app's service account
  may assume it, and it holds the web tier's one grant (`iam.web_app_policy`, the same as on instances),
- the `metrics-server` EKS add-on, which the HorizontalPodAutoscaler reads CPU from
  (https://docs.aws.amazon.com/eks/latest/userguide/community-addons.html#kubernetes-metrics-server),
- the Cluster Autoscaler (see cluster_autoscaler.py), which grows and shrinks the node groups,
- the node role (AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy, AmazonEC2ContainerRegistryReadOnly
  only), a launch template (IMDSv2 required with hop limit 1, one encrypted root volume, no data
  volumes, the cluster security group plus the given app groups) and one managed node group per
  availability zone on it (one subnet each), whose desired size is left to the Cluster Autoscaler after
  creation,
- the attachment of each node group's autoscaling group to the edge ALB's target group, whose port is
  the app's NodePort (every node forwards it to a ready pod),
- a Kubernetes provider from a kubeconfig of the cluster's endpoint and CA (`aws eks get-token` auth),
- the app itself through `KubernetesApp` (see k8s_app.py).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra.components.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from infra.components.context import aws_context
from infra.components.k8s_app import KubernetesApp, KubernetesAppArgs, WorkloadSettings
from infra.config import EksConfig, LoggingConfig
from infra.lib import app_env, eks_access, eks_versions, iam, kubeconfig, limits

CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
CLUSTER_ADMIN = "AmazonEKSClusterAdminPolicy"
# The engine's property path of the node group's desired size (ignoreChanges takes the SDK's camelCase names).
DESIRED_SIZE = "scalingConfig.desiredSize"
UPGRADE_SUPPORT_TYPES = ("STANDARD", "EXTENDED")
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# The root CA behind every regional EKS OIDC endpoint. IAM validates these endpoints against its own
# trust store, but the provider still records a thumbprint.
EKS_OIDC_ROOT_CA_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")


@dataclass(frozen=True, kw_only=True)
class NodeGroupSettings:
    min_size: int
    max_size: int
    desired_size: int | None = None
    """defaults to min_size"""
    instance_types: Sequence[str] = ("t3.medium",)
    ami_type: str = "AL2023_x86_64_STANDARD"
    capacity_type: str = "ON_DEMAND"
    root_volume_gib: int = 20
    root_volume_kms_key_arn: pulumi.Input[str] | None = None
    """a customer-managed key for the root volumes; the account's EBS default key when None"""

    def __post_init__(self) -> None:
        if self.min_size < 1:
            raise ValueError(f"node group min size must be ≥ 1, got {self.min_size}")
        if self.max_size < self.min_size:
            raise ValueError(f"node group max size ({self.max_size}) must be ≥ min size ({self.min_size})")
        if self.desired_size is not None and not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(f"node group desired size ({self.desired_size}) must lie between min "
                             f"({self.min_size}) and max ({self.max_size})")
        if isinstance(self.instance_types, str) or not self.instance_types:
            raise ValueError("node group instance_types must be a non-empty list of instance types")
        if self.capacity_type not in ("ON_DEMAND", "SPOT"):
            raise ValueError(f"capacity type must be ON_DEMAND or SPOT, got {self.capacity_type!r}")
        if not 8 <= self.root_volume_gib <= 16384:
            raise ValueError(f"root volume size must be 8..16384 GiB, got {self.root_volume_gib}")

    @property
    def desired(self) -> int:
        return self.desired_size if self.desired_size is not None else self.min_size


@dataclass(frozen=True, kw_only=True)
class ComputeEksArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    """private-app subnets, one per availability zone, at least two (control-plane interfaces, and one node
    group per subnet)"""
    deployer_principal_arn: str
    """the IAM role (or user) that runs `pulumi up` in the pipeline: an ARN, or `role/<name>` in the account the
    stack deploys into; it gets the cluster-admin access entry the program needs"""
    node_security_group_ids: Sequence[pulumi.Input[str]]
    """the app group (admitted by the ALB on the NodePort, and by the cache and database)"""
    target_group_arn: pulumi.Input[str]
    """the edge ALB's target group: instance targets on the app's NodePort, stickiness off"""
    image: pulumi.Input[str]
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """the app's environment contract (non-secret values and secret ARNs only)"""
    bucket_arn: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    secret_arns: Sequence[pulumi.Input[str]]
    """every secret the app reads: its database role's secret and the Redis AUTH token"""
    signing_key_arn: pulumi.Input[str]
    """the KMS key the app signs tokens with"""
    nodes: NodeGroupSettings | None = None
    workload: WorkloadSettings = field(default_factory=WorkloadSettings)
    kms_key_arns: Sequence[pulumi.Input[str]] = ()
    """customer-managed keys behind the queue, bucket or secrets"""
    s3_object_prefix: str = "receipts/"
    cluster_name: str | None = None
    """prefix of the cluster's name (a random suffix is added); defaults to the component's name"""
    kubernetes_version: str = EksConfig().kubernetes_version
    upgrade_support_type: str = EksConfig().upgrade_policy
    """STANDARD: EKS upgrades the cluster at the end of standard support; EXTENDED: billed extended support"""
    public_access_cidrs: Sequence[str] = ()
    """who may reach the public API endpoint; empty keeps the endpoint private-only"""
    log_types: Sequence[str] = CONTROL_PLANE_LOG_TYPES
    log_retention_days: int = LoggingConfig().retention_days
    oidc_thumbprint: str = EKS_OIDC_ROOT_CA_THUMBPRINT
    admin_principal_arns: Sequence[str] = ()
    """IAM roles or users given cluster-admin through access entries, besides the cluster's creator"""
    deletion_protection: bool = EksConfig().deletion_protection
    node_autoscaling: bool = True
    """run the Cluster Autoscaler on the node group (between its min and max size)"""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.nodes is None:
            raise ValueError("compute mode eks needs node group sizes (nodes=NodeGroupSettings(min_size=..., "
                             "max_size=...))")
        prefix = self.cluster_name
        if prefix is not None and (not _CLUSTER_NAME.match(prefix) or len(prefix) > 91):
            raise ValueError(f"cluster name {self.cluster_name!r} must be 1-91 letters, digits, '-' or '_', "
                             "starting with a letter or digit (a 9-character suffix is added)")
        problem = limits.kubernetes_version_problem(self.kubernetes_version)
        if problem:
            raise ValueError(f"kubernetes_version {problem}")
        if self.node_autoscaling:
            eks_versions.autoscaler_release(self.kubernetes_version)
        if self.upgrade_support_type not in UPGRADE_SUPPORT_TYPES:
            raise ValueError(f"upgrade_support_type must be one of {', '.join(UPGRADE_SUPPORT_TYPES)}, got "
                             f"{self.upgrade_support_type!r}")
        if isinstance(self.subnet_ids, str) or len(self.subnet_ids) < 2:
            raise ValueError("subnet_ids must list one private subnet per availability zone, at least two")
        assert self.nodes is not None
        zones = len(self.subnet_ids)
        if self.nodes.min_size < zones:
            raise ValueError(f"node group min size ({self.nodes.min_size}) must be ≥ the number of availability "
                             f"zones ({zones}): every zone's node group keeps a node for the pods' zone spread")
        problem = eks_access.deployer_problem(self.deployer_principal_arn, self.admin_principal_arns)
        if problem:
            raise ValueError(f"deployer_principal_arn {problem}")
        if isinstance(self.public_access_cidrs, str):
            raise ValueError("public_access_cidrs must be a list of CIDR blocks, not one string")
        for cidr in self.public_access_cidrs:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"public access CIDR {cidr!r} is not a valid network: {exc}") from None
            if net.prefixlen == 0:
                raise ValueError(f"public access CIDR {cidr} opens the Kubernetes API to the internet; list the "
                                 "networks that deploy (CI runners, operators) or leave it empty")
        unknown = set(self.log_types) - set(CONTROL_PLANE_LOG_TYPES)
        if unknown:
            raise ValueError(f"unknown control-plane log types {sorted(unknown)}; valid: {CONTROL_PLANE_LOG_TYPES}")
        limits.check_log_retention(self.log_retention_days)
        if not re.fullmatch(r"[0-9a-fA-F]{40}", self.oidc_thumbprint):
            raise ValueError("the OIDC thumbprint must be 40 hex digits (a SHA-1 fingerprint)")
        if self.s3_object_prefix.startswith("/") or "*" in self.s3_object_prefix:
            raise ValueError(f"S3 object prefix {self.s3_object_prefix!r} must be a plain key prefix like receipts/")
        if isinstance(self.admin_principal_arns, str):
            raise ValueError("admin_principal_arns must be a list of IAM role or user ARNs, not one string")
        problem = limits.principal_arns_problem(self.admin_principal_arns)
        if problem:
            raise ValueError(f"admin_principal_arns {problem}")
        if isinstance(self.secret_arns, str) or not self.secret_arns:
            raise ValueError("secret_arns must list the secrets the app reads (database, Redis AUTH, JWT key)")
        if isinstance(self.node_security_group_ids, str) or not self.node_security_group_ids:
            raise ValueError("nodes need the app security group (the one the ALB, cache and database admit)")
        if isinstance(self.environment, Mapping):
            app_env.check_environment(self.environment, "app environment")
            granted = {a for a in self.secret_arns if isinstance(a, str)}
            if len(granted) == len(self.secret_arns):
                for key, value in self.environment.items():
                    if key.endswith("_SECRET_ARN") and isinstance(value, str) and value not in granted:
                        raise ValueError(f"{key} names a secret that secret_arns does not grant to the app's role")


def spread(total: int, groups: int) -> list[int]:
    """`total` nodes over `groups` node groups, the first groups taking the remainder."""
    return [total // groups + (1 if i < total % groups else 0) for i in range(groups)]


def _admin_role(principal_arn: str) -> str:
    return "admin-" + eks_access.entry_name(principal_arn)


def _field(obj: Any, name: str) -> Any:
    """A nested output field, whether it arrives as the SDK's output type or as a plain mapping."""
    if obj is None:
        return None
    if type(obj) is dict:
        camel = re.sub(r"_([a-z])", lambda m: m[1].upper(), name)
        return obj[name] if name in obj else obj.get(camel)
    return getattr(obj, name, None)


def _first(items: Any) -> Any:
    return items[0] if items else None


class ComputeEks(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_endpoint: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    app_role_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    app: KubernetesApp

    def __init__(self, name: str, args: ComputeEksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:compute_eks:ComputeEks", name, None, opts)
        assert args.nodes is not None  # checked by ComputeEksArgs
        nodes = args.nodes
        child = pulumi.ResourceOptions(parent=self)
        # Pulumi does not hand a component's dependencies to its children; the app must not start before
        # them (e.g. the migration that creates the app's database role).
        waits_for = list(opts.depends_on) if opts is not None and isinstance(opts.depends_on, list) else []
        tags = {"Component": "compute-eks", **args.tags}
        where = aws_context(self)
        partition, region = where.partition, where.region
        # From configuration only: an entry derived from the caller would be replaced by every other identity
        # that runs `up` (and shown replaced by every read-only preview).
        deployer: pulumi.Input[str] = args.deployer_principal_arn
        if not args.deployer_principal_arn.startswith("arn:"):
            deployer = pulumi.Output.all(partition, where.account_id).apply(
                lambda v: f"arn:{v[0]}:iam::{v[1]}:{args.deployer_principal_arn}")

        prefix = args.cluster_name or name
        suffix = random.RandomId(
            f"{name}-cluster-id", byte_length=4,
            # Inputs that replace the cluster: a new suffix comes with them, so create-before-replace
            # never meets "already exists".
            keepers={"prefix": prefix, "secretsEncryption": "kms"},
            opts=child,
        )
        cluster_name = suffix.hex.apply(lambda h: f"{prefix}-{h}")

        def managed(policy: str) -> pulumi.Output[str]:
            return partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")

        secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            aws.kms.KeyArgs(description=f"Envelope encryption of Kubernetes Secrets in {prefix}",
                            enable_key_rotation=True, deletion_window_in_days=30, tags=tags),
            opts=child,
        )
        control_plane_logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            aws.cloudwatch.LogGroupArgs(name=cluster_name.apply(lambda c: f"/aws/eks/{c}/cluster"),
                                        retention_in_days=args.log_retention_days, tags=tags),
            opts=child,
        )

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            aws.iam.RoleArgs(assume_role_policy=json.dumps(iam.assume_role_policy("eks.amazonaws.com")), tags=tags),
            opts=child,
        )
        cluster_attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-cluster-{policy}",
                aws.iam.RolePolicyAttachmentArgs(role=cluster_role.name, policy_arn=managed(policy)),
                opts=child,
            )
            for policy in CLUSTER_POLICIES
        ]

        public = bool(args.public_access_cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            aws.eks.ClusterArgs(
                name=cluster_name,
                version=args.kubernetes_version,
                role_arn=cluster_role.arn,
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=args.subnet_ids,
                    endpoint_private_access=True,
                    endpoint_public_access=public,
                    public_access_cidrs=list(args.public_access_cidrs) if public else None,
                ),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn),
                    resources=["secrets"],
                ),
                enabled_cluster_log_types=list(args.log_types),
                access_config=aws.eks.ClusterAccessConfigArgs(
                    authentication_mode="API",
                    # The deployer gets an explicit access entry below instead of this implicit one (the
                    # two would collide on the same principal).
                    bootstrap_cluster_creator_admin_permissions=False,
                ),
                deletion_protection=args.deletion_protection,
                # Unset, EKS applies EXTENDED (AWS::EKS::Cluster UpgradePolicy; EKS user guide, "Cluster upgrade
                # policy"): a version past standard support would then be billed at the extended rate.
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.upgrade_support_type),
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[control_plane_logs, *cluster_attachments]),
        )
        admin_policy = partition.apply(lambda p: f"arn:{p}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN}")
        admin_associations = []
        principals: list[tuple[str, pulumi.Input[str]]] = [("deployer", deployer)]
        principals += [(_admin_role(p), p) for p in args.admin_principal_arns]
        for role, principal in principals:
            entry = aws.eks.AccessEntry(
                f"{name}-{role}",
                aws.eks.AccessEntryArgs(cluster_name=cluster.name, principal_arn=principal, type="STANDARD", tags=tags),
                opts=child,
            )
            admin_associations.append(aws.eks.AccessPolicyAssociation(
                f"{name}-{role}-policy",
                aws.eks.AccessPolicyAssociationArgs(
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=admin_policy,
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                ),
                opts=child,
            ))

        issuer = cluster.identities.apply(lambda ids: _field(_first(_field(_first(ids), "oidcs")), "issuer"))

        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            aws.iam.OpenIdConnectProviderArgs(url=issuer, client_id_lists=["sts.amazonaws.com"],
                                              thumbprint_lists=[args.oidc_thumbprint], tags=tags),
            opts=child,
        )
        app_role = aws.iam.Role(
            f"{name}-app-role",
            aws.iam.RoleArgs(
                description=f"IRSA role of {args.workload.namespace}/{args.workload.service_account_name}",
                assume_role_policy=pulumi.Output.all(oidc.arn, issuer).apply(lambda v: json.dumps(
                    iam.irsa_trust_document(provider_arn=v[0], issuer_url=v[1], namespace=args.workload.namespace,
                                        service_account=args.workload.service_account_name))),
                tags=tags,
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-app-policy",
            aws.iam.RolePolicyArgs(
                role=app_role.id,
                policy=pulumi.Output.all(
                    args.bucket_arn, args.queue_arn, pulumi.Output.all(*args.secret_arns), args.signing_key_arn,
                    pulumi.Output.all(*args.kms_key_arns),
                ).apply(lambda v: json.dumps(iam.web_app_policy(
                    bucket_arn=v[0], queue_arn=v[1], secret_arns=v[2], signing_key_arn=v[3], kms_key_arns=v[4],
                    object_prefix=args.s3_object_prefix,
                ))),
            ),
            opts=child,
        )

        node_role = aws.iam.Role(
            f"{name}-node-role",
            aws.iam.RoleArgs(assume_role_policy=json.dumps(iam.assume_role_policy("ec2.amazonaws.com")), tags=tags),
            opts=child,
        )
        node_attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                aws.iam.RolePolicyAttachmentArgs(role=node_role.name, policy_arn=managed(policy)),
                opts=child,
            )
            for policy in NODE_POLICIES
        ]

        # A launch template that names security groups replaces EKS's defaults, so the cluster security
        # group (node <-> control plane, node <-> node, egress) is listed explicitly.
        node_sgs: list[pulumi.Input[str]] = [
            cluster.vpc_config.cluster_security_group_id, *args.node_security_group_ids,
        ]
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes-lt",
            aws.ec2.LaunchTemplateArgs(
                description=f"Hardened nodes of {prefix}",
                update_default_version=True,
                # Hop limit 1 keeps pods off the node's instance role: they authenticate through IRSA.
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
                    instance_metadata_tags="disabled",
                ),
                block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=nodes.root_volume_gib, volume_type="gp3", encrypted="true",
                        kms_key_id=nodes.root_volume_kms_key_arn, delete_on_termination="true",
                    ),
                )],
                vpc_security_group_ids=node_sgs,
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind,
                                                               tags={**tags, "Name": f"{prefix}-node"})
                    for kind in ("instance", "volume")
                ],
                tags=tags,
            ),
            opts=child,
        )

        # One managed node group per availability zone: the Cluster Autoscaler simulates a new node of a group
        # as one of its nodes, so a group spanning zones can be scaled in the wrong zone for a pod that the
        # zone spread (DoNotSchedule) holds to another one (kubernetes/autoscaler#7663; EKS best practices,
        # "Cluster Autoscaler": node groups per AZ with --balance-similar-node-groups).
        zones = len(args.subnet_ids)
        sizes = zip(spread(nodes.min_size, zones), spread(nodes.max_size, zones), spread(nodes.desired, zones),
                    strict=True)
        node_groups: list[aws.eks.NodeGroup] = []
        for zone, (subnet, (low, high, start)) in enumerate(zip(args.subnet_ids, sizes, strict=True)):
            group = aws.eks.NodeGroup(
                f"{name}-nodes-{zone}",
                aws.eks.NodeGroupArgs(
                    cluster_name=cluster.name,
                    node_role_arn=node_role.arn,
                    subnet_ids=[subnet],
                    ami_type=nodes.ami_type,
                    capacity_type=nodes.capacity_type,
                    instance_types=list(nodes.instance_types),
                    scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                        min_size=low, max_size=high, desired_size=start,
                    ),
                    update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                    launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                        id=launch_template.id, version=launch_template.latest_version.apply(str),
                    ),
                    tags=tags,
                ),
                # The desired size is the Cluster Autoscaler's after creation: "If you use the Kubernetes
                # Cluster Autoscaler, you shouldn't change the desiredSize value directly" (EKS API reference,
                # NodegroupScalingConfig). Without this, `up --refresh` after a scale-up sets it back and EKS
                # terminates nodes (the ASG path ignores desiredCapacity for the same reason).
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_attachments,
                                            ignore_changes=[DESIRED_SIZE]),
            )
            node_groups.append(group)
            asg_name = group.resources.apply(
                lambda rs: _field(_first(_field(_first(rs), "autoscaling_groups")), "name")
            )
            # Managed node groups take no target groups themselves; their autoscaling group does.
            aws.autoscaling.Attachment(
                f"{name}-nodes-{zone}-tg",
                aws.autoscaling.AttachmentArgs(autoscaling_group_name=asg_name,
                                               lb_target_group_arn=args.target_group_arn),
                opts=child,
            )

        config = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority, region).apply(
            lambda v: kubeconfig.render(cluster_name=v[0], endpoint=v[1], ca_data=_field(v[2], "data") or "",
                                        region=v[3])
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(kubeconfig=config, enable_server_side_apply=True),
            opts=child,
        )

        # Managed add-on: AWS keeps it compatible with the cluster version; it needs nodes to run on.
        metrics_server = aws.eks.Addon(
            f"{name}-metrics-server",
            aws.eks.AddonArgs(cluster_name=cluster.name, addon_name="metrics-server",
                              resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                              tags=tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )
        k8s_opts = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider},
                                          depends_on=[*node_groups, *admin_associations])
        if args.node_autoscaling:
            ClusterAutoscaler(
                f"{name}-autoscaler",
                ClusterAutoscalerArgs(cluster_name=cluster.name, kubernetes_version=args.kubernetes_version,
                                      oidc_provider_arn=oidc.arn, oidc_issuer_url=issuer, region=region),
                opts=k8s_opts,
            )

        self.app = KubernetesApp(
            f"{name}-app",
            KubernetesAppArgs(image=args.image, environment=args.environment, service_account_role_arn=app_role.arn,
                              settings=args.workload),
            # Pods need nodes to become ready, and the Deployment waits for them; the deployer needs its
            # access entry first; the autoscaler needs metrics; the app needs its database role.
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider},
                                        depends_on=[*node_groups, metrics_server, *admin_associations, *waits_for]),
        )

        self.cluster_name = cluster.name
        self.cluster_endpoint = cluster.endpoint
        self.oidc_provider_arn = oidc.arn
        self.app_role_arn = app_role.arn
        self.node_role_arn = node_role.arn
        self.kubeconfig = pulumi.Output.secret(config)
        self.register_outputs({
            "clusterName": self.cluster_name,
            "clusterEndpoint": self.cluster_endpoint,
            "oidcProviderArn": self.oidc_provider_arn,
            "appRoleArn": self.app_role_arn,
            "nodeRoleArn": self.node_role_arn,
            "kubeconfig": self.kubeconfig,
        })

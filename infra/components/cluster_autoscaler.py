"""Node scaling for the EKS managed node group: the Kubernetes Cluster Autoscaler.

Creates, under one `stateless:cluster_autoscaler:ClusterAutoscaler` component:
- an IRSA role only the autoscaler's service account may assume, allowed to describe autoscaling groups,
  launch templates and instance types, and to change the size of (or terminate instances in) only the
  groups tagged as this cluster's (`k8s.io/cluster-autoscaler/<cluster>: owned`, a tag EKS puts on every
  managed node group's autoscaling group),
- in kube-system: the ServiceAccount, the ClusterRole/Role and their bindings with the rules of the
  upstream example manifest at the tag of the pinned release (`cluster_rules`, compared with the manifest
  in tests/fixtures/cluster_autoscaler/), and the Deployment (one replica, non-root, read-only root
  filesystem) running the newest patch of the release line that matches the cluster's minor version
  (infra/lib/eks_versions.py), with autodiscovery by those tags and --balance-similar-node-groups across
  the per-zone node groups.

Why this and not Karpenter or EKS Auto Mode: see infra/MODES.md (the node group's autoscaling group is
what the ALB target group is attached to; the Cluster Autoscaler scales exactly that group, while
Karpenter and Auto Mode launch nodes outside any autoscaling group).
Upstream reference for the permissions and flags:
https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.lib import eks_versions, iam

NAMESPACE = "kube-system"
NAME = "cluster-autoscaler"

_READ = ("watch", "list", "get")
Rule = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
# (api groups, resources, verbs, resource names), as in the ClusterRole of the upstream example manifest
# cluster-autoscaler/cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml at the release's tag
# (kubernetes/autoscaler); tests/fixtures/cluster_autoscaler/ keeps those manifests and a test compares.
_STORAGE = ("storageclasses", "csinodes", "csidrivers", "csistoragecapacities")


def cluster_rules(kubernetes_version: str) -> tuple[Rule, ...]:
    """The ClusterRole rules of the upstream manifest at the autoscaler tag of this cluster version."""
    major, minor = (int(p) for p in eks_versions.autoscaler_release(kubernetes_version).split(".")[:2])
    rules: list[Rule] = [
        (("",), ("events", "endpoints"), ("create", "patch"), ()),
        (("",), ("pods/eviction",), ("create",), ()),
        (("",), ("pods/status",), ("update",), ()),
        (("",), ("endpoints",), ("get", "update"), (NAME,)),
        (("",), ("nodes",), ("watch", "list", "get", "update"), ()),
        (("",), ("namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims",
                 "persistentvolumes"), _READ, ()),
        (("extensions",), ("replicasets", "daemonsets"), _READ, ()),
        (("policy",), ("poddisruptionbudgets",), ("watch", "list"), ()),
        (("apps",), ("statefulsets", "replicasets", "daemonsets"), _READ, ()),
    ]
    if (major, minor) >= (1, 36):
        # Dynamic resource allocation objects, listed from the 1.36 line on.
        rules.append((("resource.k8s.io",), ("deviceclasses", "resourceslices", "resourceclaims"), _READ, ()))
    # From the 1.33 line on the autoscaler lists and watches VolumeAttachments; without the grant it is
    # refused and users report scale-up stopping (kubernetes/autoscaler#7904, #8678).
    storage = (*_STORAGE, "volumeattachments") if (major, minor) >= (1, 33) else _STORAGE
    rules += [
        (("storage.k8s.io",), storage, _READ, ()),
        (("batch", "extensions"), ("jobs",), ("get", "list", "watch", "patch"), ()),
        (("coordination.k8s.io",), ("leases",), ("create",), ()),
        (("coordination.k8s.io",), ("leases",), ("get", "update"), (NAME,)),
    ]
    return tuple(rules)


NAMESPACE_RULES: tuple[Rule, ...] = (
    (("",), ("configmaps",), ("create", "list", "watch"), ()),
    (("",), ("configmaps",), ("delete", "get", "update", "watch"),
     ("cluster-autoscaler-status", "cluster-autoscaler-priority-expander")),
)


def autoscaler_image(kubernetes_version: str) -> str:
    """The newest patch of the autoscaler line that matches the cluster's minor version."""
    return eks_versions.autoscaler_image(kubernetes_version)


def _rules(rules: Any) -> list[k8s.rbac.v1.PolicyRuleArgs]:
    return [
        k8s.rbac.v1.PolicyRuleArgs(api_groups=list(groups), resources=list(resources), verbs=list(verbs),
                                   resource_names=list(names) or None)
        for groups, resources, verbs, names in rules
    ]


@dataclass(frozen=True, kw_only=True)
class ClusterAutoscalerArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    region: pulumi.Input[str]
    scale_down_unneeded_minutes: int = 10

    def __post_init__(self) -> None:
        autoscaler_image(self.kubernetes_version)
        if not 1 <= self.scale_down_unneeded_minutes <= 120:
            raise ValueError(f"scale_down_unneeded_minutes must be 1..120, got {self.scale_down_unneeded_minutes}")


class ClusterAutoscaler(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:cluster_autoscaler:ClusterAutoscaler", name, None, opts)
        # Kubernetes objects take the cluster's provider from the component's providers map.
        child = pulumi.ResourceOptions(parent=self)
        meta = k8s.meta.v1
        labels = {"app.kubernetes.io/name": NAME}

        role = aws.iam.Role(
            f"{name}-role",
            aws.iam.RoleArgs(
                description=f"IRSA role of {NAMESPACE}/{NAME}",
                assume_role_policy=pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer_url).apply(
                    lambda v: json.dumps(iam.irsa_trust_document(provider_arn=v[0], issuer_url=v[1],
                                                             namespace=NAMESPACE, service_account=NAME))
                ),
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            aws.iam.RolePolicyArgs(
                role=role.id,
                policy=pulumi.Output.from_input(args.cluster_name).apply(
                    lambda c: json.dumps(iam.autoscaler_policy_document(c))
                ),
            ),
            opts=child,
        )

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=meta.ObjectMetaArgs(name=NAME, namespace=NAMESPACE, labels=labels,
                                         annotations={"eks.amazonaws.com/role-arn": role.arn,
                                                      "eks.amazonaws.com/sts-regional-endpoints": "true"}),
            opts=child,
        )
        cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-cluster-role", metadata=meta.ObjectMetaArgs(name=NAME, labels=labels),
            rules=_rules(cluster_rules(args.kubernetes_version)), opts=child,
        )
        subject = k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=NAME, namespace=NAMESPACE)
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cluster-role-binding", metadata=meta.ObjectMetaArgs(name=NAME, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                             name=cluster_role.metadata.name),
            subjects=[subject], opts=child,
        )
        ns_role = k8s.rbac.v1.Role(
            f"{name}-role-k8s", metadata=meta.ObjectMetaArgs(name=NAME, namespace=NAMESPACE, labels=labels),
            rules=_rules(NAMESPACE_RULES), opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding", metadata=meta.ObjectMetaArgs(name=NAME, namespace=NAMESPACE, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role",
                                             name=ns_role.metadata.name),
            subjects=[subject], opts=child,
        )

        command = pulumi.Output.from_input(args.cluster_name).apply(lambda c: [
            "./cluster-autoscaler",
            "--cloud-provider=aws",
            f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{c}",
            "--balance-similar-node-groups",
            "--skip-nodes-with-system-pods=false",
            "--expander=least-waste",
            f"--scale-down-unneeded-time={args.scale_down_unneeded_minutes}m",
        ])
        core = k8s.core.v1
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta.ObjectMetaArgs(name=NAME, namespace=NAMESPACE, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=meta.LabelSelectorArgs(match_labels=labels),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=labels),
                    spec=core.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        priority_class_name="system-cluster-critical",
                        security_context=core.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=65534, run_as_group=65534,
                            seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[core.ContainerArgs(
                            name=NAME,
                            image=autoscaler_image(args.kubernetes_version),
                            command=command,
                            env=[core.EnvVarArgs(name="AWS_REGION", value=args.region)],
                            resources=core.ResourceRequirementsArgs(
                                requests={"cpu": "100m", "memory": "300Mi"},
                                limits={"cpu": "200m", "memory": "600Mi"},
                            ),
                            security_context=core.SecurityContextArgs(
                                read_only_root_filesystem=True, allow_privilege_escalation=False,
                                capabilities=core.CapabilitiesArgs(drop=["ALL"]),
                            ),
                        )],
                    ),
                ),
            ),
            opts=child,
        )

        self.role_arn = role.arn
        self.register_outputs({"roleArn": role.arn})

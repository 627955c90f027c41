"""The reference app on Kubernetes, deployed through whichever Kubernetes provider the parent passes.

Creates, under one `stateless:k8s_app:KubernetesApp` component:
- a Namespace enforcing the `restricted` Pod Security Standard,
- a ServiceAccount annotated with the IRSA role (the pods, not the nodes, hold the AWS permissions),
- a ConfigMap with the app's environment (non-secret values and secret ARNs only; the app reads the
  secrets from Secrets Manager itself). It is auto-named, so a config change rolls the Deployment,
- a Deployment: probes on /readyz, /healthz and a startup probe, a preStop sleep so the load balancer
  stops sending before the process exits, a grace period above it, non-root with a read-only root
  filesystem and no capabilities, requests and limits, spread across zones, surge-only rolling updates,
- a NodePort Service (no session affinity) that the ALB target group reaches on every node,
- a HorizontalPodAutoscaler (autoscaling/v2, CPU) whose floor is the Deployment's replica count,
- a PodDisruptionBudget allowing one voluntary disruption at a time.

No PersistentVolumeClaim, hostPath volume or StatefulSet: the app keeps no state on the pod.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.components.context import checked_environment
from infra.lib import app_env

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


@dataclass(frozen=True, kw_only=True)
class ResourceSettings:
    cpu_request: str = "250m"
    memory_request: str = "256Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"

    def __post_init__(self) -> None:
        for label, value in (("cpu request", self.cpu_request), ("memory request", self.memory_request),
                             ("cpu limit", self.cpu_limit), ("memory limit", self.memory_limit)):
            if not _QUANTITY.match(value):
                raise ValueError(f"{label} {value!r} is not a Kubernetes quantity (e.g. 250m, 512Mi)")


@dataclass(frozen=True, kw_only=True)
class AutoscalingSettings:
    max_replicas: int = 6
    min_replicas: int | None = None
    """defaults to the Deployment's replica count, which is also the lowest value allowed"""
    cpu_target_percent: int = 60

    def __post_init__(self) -> None:
        if self.min_replicas is not None and self.min_replicas < 1:
            raise ValueError(f"autoscaler min replicas must be ≥ 1, got {self.min_replicas}")
        if not 1 <= self.cpu_target_percent <= 100:
            raise ValueError(f"autoscaler CPU target must be 1..100 percent, got {self.cpu_target_percent}")


@dataclass(frozen=True, kw_only=True)
class WorkloadSettings:
    """How the app runs on the cluster (everything but the image, its environment and its IAM role)."""

    namespace: str = "stateless"
    app_name: str = "app"
    service_account_name: str = "app"
    replicas: int = 2
    """the Deployment's replica count and the autoscaler's floor"""
    autoscaling: AutoscalingSettings = field(default_factory=AutoscalingSettings)
    resources: ResourceSettings = field(default_factory=ResourceSettings)
    container_port: int = 8000
    node_port: int = 30080
    """fixed so that the ALB target group can be created with it before the Service exists"""
    drain_seconds: int = 15
    """preStop sleep: long enough for endpoint removal and the ALB's deregistration to reach every node"""
    termination_grace_seconds: int = 45
    run_as_user: int = 10001

    def __post_init__(self) -> None:
        for label, value in (("namespace", self.namespace), ("app name", self.app_name),
                             ("service account name", self.service_account_name)):
            if not _DNS_LABEL.match(value):
                raise ValueError(f"{label} {value!r} must be a DNS label (lowercase letters, digits, '-')")
        if self.replicas < 1:
            raise ValueError(f"replicas must be ≥ 1, got {self.replicas}")
        floor = self.autoscaling.min_replicas
        if floor is not None and floor < self.replicas:
            raise ValueError(
                f"autoscaler min replicas ({floor}) must be ≥ the Deployment's replicas ({self.replicas}), or the "
                "autoscaler could scale below the floor the stack asks for"
            )
        if self.autoscaling.max_replicas < self.min_replicas:
            raise ValueError(f"autoscaler max replicas ({self.autoscaling.max_replicas}) must be ≥ min replicas "
                             f"({self.min_replicas})")
        if not 1 <= self.container_port <= 65535:
            raise ValueError(f"container port {self.container_port} is out of range")
        if not 30000 <= self.node_port <= 32767:
            raise ValueError(f"node port {self.node_port} must be in Kubernetes' NodePort range 30000-32767")
        if self.drain_seconds < 1:
            raise ValueError(f"preStop drain must be ≥ 1 second, got {self.drain_seconds}")
        if self.termination_grace_seconds <= self.drain_seconds:
            raise ValueError(
                f"termination grace period ({self.termination_grace_seconds}s) must exceed the preStop drain "
                f"({self.drain_seconds}s), or the pod is killed before the app can finish in-flight requests"
            )
        if self.run_as_user < 1:
            raise ValueError("run_as_user must be a non-root uid (≥ 1)")

    @property
    def min_replicas(self) -> int:
        return self.autoscaling.min_replicas or self.replicas


@dataclass(frozen=True, kw_only=True)
class KubernetesAppArgs:
    image: pulumi.Input[str]
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """the app's environment contract (non-secret values and secret ARNs only); an Output is checked
    once it resolves"""
    service_account_role_arn: pulumi.Input[str]
    settings: WorkloadSettings = field(default_factory=WorkloadSettings)

    def __post_init__(self) -> None:
        if isinstance(self.environment, Mapping):
            app_env.check_environment(self.environment, "app environment")


class KubernetesApp(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    config_map_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:k8s_app:KubernetesApp", name, None, opts)
        cfg = args.settings
        # Children inherit what the component waits for (e.g. the node group): a Deployment can only
        # become ready once nodes exist, and Pulumi does not pass a component's dependencies down itself.
        waits_for = opts.depends_on if opts is not None else None
        child = pulumi.ResourceOptions(parent=self, depends_on=waits_for)
        meta = k8s.meta.v1
        core = k8s.core.v1
        labels = {"app.kubernetes.io/name": cfg.app_name, "app.kubernetes.io/part-of": "stateless-stack"}

        namespace = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=cfg.namespace,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=child,
        )
        ns = namespace.metadata.name

        service_account = core.ServiceAccount(
            f"{name}-service-account",
            metadata=meta.ObjectMetaArgs(
                name=cfg.service_account_name,
                namespace=ns,
                labels=labels,
                annotations={
                    "eks.amazonaws.com/role-arn": args.service_account_role_arn,
                    "eks.amazonaws.com/sts-regional-endpoints": "true",
                },
            ),
            # The IRSA webhook mounts its own projected token; the app never talks to the Kubernetes API.
            automount_service_account_token=False,
            opts=child,
        )

        config = core.ConfigMap(
            f"{name}-config",
            metadata=meta.ObjectMetaArgs(namespace=ns, labels=labels),
            data=checked_environment(args.environment, "app environment"),
            opts=child,
        )

        probe_port = "http"
        container = core.ContainerArgs(
            name=cfg.app_name,
            image=args.image,
            image_pull_policy="IfNotPresent",
            ports=[core.ContainerPortArgs(name="http", container_port=cfg.container_port, protocol="TCP")],
            env_from=[core.EnvFromSourceArgs(config_map_ref=core.ConfigMapEnvSourceArgs(name=config.metadata.name))],
            env=[core.EnvVarArgs(name="PYTHONDONTWRITEBYTECODE", value="1")],
            startup_probe=core.ProbeArgs(
                http_get=core.HTTPGetActionArgs(path="/healthz", port=probe_port),
                period_seconds=2, timeout_seconds=2, failure_threshold=30,
            ),
            readiness_probe=core.ProbeArgs(
                http_get=core.HTTPGetActionArgs(path="/readyz", port=probe_port),
                period_seconds=5, timeout_seconds=2, failure_threshold=2, success_threshold=1,
            ),
            liveness_probe=core.ProbeArgs(
                http_get=core.HTTPGetActionArgs(path="/healthz", port=probe_port),
                period_seconds=10, timeout_seconds=2, failure_threshold=3,
            ),
            # The native sleep action needs no shell or sleep binary in the image.
            lifecycle=core.LifecycleArgs(
                pre_stop=core.LifecycleHandlerArgs(sleep=core.SleepActionArgs(seconds=cfg.drain_seconds)),
            ),
            resources=core.ResourceRequirementsArgs(
                requests={"cpu": cfg.resources.cpu_request, "memory": cfg.resources.memory_request},
                limits={"cpu": cfg.resources.cpu_limit, "memory": cfg.resources.memory_limit},
            ),
            security_context=core.SecurityContextArgs(
                run_as_non_root=True,
                run_as_user=cfg.run_as_user,
                run_as_group=cfg.run_as_user,
                read_only_root_filesystem=True,
                allow_privilege_escalation=False,
                privileged=False,
                capabilities=core.CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
            ),
        )
        selector = meta.LabelSelectorArgs(match_labels=labels)
        pod_spec = core.PodSpecArgs(
            service_account_name=service_account.metadata.name,
            automount_service_account_token=False,
            enable_service_links=False,
            termination_grace_period_seconds=cfg.termination_grace_seconds,
            security_context=core.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=cfg.run_as_user,
                run_as_group=cfg.run_as_user,
                seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            node_selector={"kubernetes.io/os": "linux"},
            topology_spread_constraints=[
                core.TopologySpreadConstraintArgs(
                    max_skew=1, topology_key="topology.kubernetes.io/zone",
                    when_unsatisfiable="DoNotSchedule", label_selector=selector,
                ),
                core.TopologySpreadConstraintArgs(
                    max_skew=1, topology_key="kubernetes.io/hostname",
                    when_unsatisfiable="ScheduleAnyway", label_selector=selector,
                ),
            ],
            containers=[container],
        )

        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta.ObjectMetaArgs(name=cfg.app_name, namespace=ns, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=cfg.replicas,
                revision_history_limit=5,
                min_ready_seconds=5,
                selector=selector,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    # Surge-only: capacity never dips below the current replica count during a rollout.
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=core.PodTemplateSpecArgs(metadata=meta.ObjectMetaArgs(labels=labels), spec=pod_spec),
            ),
            # Once created, the HPA owns the replica count; the stack's value is its floor and the initial count
            # (without the field a new Deployment would start at 1). Under server-side apply pulumi-kubernetes drops
            # an ignored field another manager owns (the HPA writes it through the scale subresource) and otherwise
            # sends the live value, so a rollout after a scale-up neither resets it nor meets a field conflict
            # (pulumi/pulumi-kubernetes provider/pkg/await/await.go, handleSSAIgnoreFields; #2491, #2569).
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for, ignore_changes=["spec.replicas"]),
        )

        service = core.Service(
            f"{name}-service",
            metadata=meta.ObjectMetaArgs(name=cfg.app_name, namespace=ns, labels=labels),
            spec=core.ServiceSpecArgs(
                type="NodePort",
                selector=labels,
                session_affinity="None",
                # Any node forwards to any ready pod, so a node without a local pod still serves.
                external_traffic_policy="Cluster",
                ports=[core.ServicePortArgs(name="http", protocol="TCP", port=80, target_port="http",
                                            node_port=cfg.node_port)],
            ),
            opts=child,
        )

        hpa = k8s.autoscaling.v2
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=meta.ObjectMetaArgs(name=cfg.app_name, namespace=ns, labels=labels),
            spec=hpa.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=hpa.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment.metadata.name,
                ),
                min_replicas=cfg.min_replicas,
                max_replicas=cfg.autoscaling.max_replicas,
                metrics=[hpa.MetricSpecArgs(
                    type="Resource",
                    resource=hpa.ResourceMetricSourceArgs(
                        name="cpu",
                        target=hpa.MetricTargetArgs(type="Utilization",
                                                    average_utilization=cfg.autoscaling.cpu_target_percent),
                    ),
                )],
                behavior=hpa.HorizontalPodAutoscalerBehaviorArgs(
                    scale_down=hpa.HPAScalingRulesArgs(stabilization_window_seconds=300),
                ),
            ),
            opts=child,
        )

        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta.ObjectMetaArgs(name=cfg.app_name, namespace=ns, labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(max_unavailable=1, selector=selector),
            opts=child,
        )

        self.namespace = ns
        self.service_name = service.metadata.name
        self.deployment_name = deployment.metadata.name
        self.config_map_name = config.metadata.name
        self.register_outputs({
            "namespace": self.namespace,
            "serviceName": self.service_name,
            "deploymentName": self.deployment_name,
            "configMapName": self.config_map_name,
        })

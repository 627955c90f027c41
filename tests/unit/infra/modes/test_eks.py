"""computeMode eks: the cluster, its nodes, IRSA and every Kubernetes object replace the autoscaling group."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from infra import eks_preflight
from infra.components.cluster_autoscaler import NAMESPACE_RULES
from infra.lib import eks_versions
from infra.settings import parse_settings
from policies.gate.mockengine import MOCK_ACCOUNT_ID, ProgramRun, Resource
from tests.unit.infra.conftest import as_list, config_of, name_of, owned_by, policy, program_run, refs, subnet_tier

EKS_COMPONENT = "stateless:compute_eks:ComputeEks"
K8S_KINDS = {
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:ServiceAccount",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Service",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:policy/v1:PodDisruptionBudget",
    # the Cluster Autoscaler's RBAC
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
}


def app_object(run: ProgramRun, type_: str) -> Resource:
    """The app's own object of a kind (the Cluster Autoscaler has a Deployment and ServiceAccount too)."""
    [found] = [r for r in run.of_type(type_) if r.name.startswith(f"{config_of(name_of(run))['environment']}-app-app-")]
    return found
NODE_PORT = 30080


def test_cluster_is_private_encrypted_logged_and_versioned_from_config(eks_run: ProgramRun) -> None:
    cfg = config_of(name_of(eks_run))
    cluster = eks_run.one("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is bool(cfg.get("eksPublicAccessCidrs"))
    assert vpc.get("publicAccessCidrs") == (cfg.get("eksPublicAccessCidrs") or None)
    assert {subnet_tier(eks_run)[s] for s in refs(cluster, "vpcConfig") if s in subnet_tier(eks_run)} == {"app"}
    assert cluster.inputs["version"] == str(cfg.get("eksKubernetesVersion", eks_versions.DEFAULT_VERSION))
    assert cluster.inputs["upgradePolicy"] == {"supportType": cfg.get("eksUpgradePolicy", "STANDARD")}
    assert cluster.inputs["encryptionConfig"]["resources"] == ["secrets"]
    secrets_key = eks_run.one("aws:kms/key:Key", f"{cfg['environment']}-app-secrets-key")
    assert refs(cluster, "encryptionConfig") == {secrets_key.urn}
    assert set(cluster.inputs["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager",
                                                            "scheduler"}
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    assert cluster.inputs["deletionProtection"] is cfg.get("eksDeletionProtection", True)
    # A random suffix, so a replacement never meets "already exists"; the log group is named after it.
    assert re.fullmatch(rf"stateless-stack-{cfg['environment']}-[0-9a-f]{{8}}", cluster.inputs["name"])
    [logs] = [g for g in eks_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.urn in cluster.dependencies]
    assert logs.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"


def test_one_node_group_per_zone_whose_sizes_add_up_to_the_config(eks_run: ProgramRun) -> None:
    cfg = config_of(name_of(eks_run))
    groups = eks_run.of_type("aws:eks/nodeGroup:NodeGroup")
    # One group per availability zone (kubernetes/autoscaler#7663): each in one private-app subnet of its own.
    assert len(groups) == cfg.get("availabilityZoneCount", 2)
    subnets = [refs(g, "subnetIds") for g in groups]
    assert all(len(s) == 1 for s in subnets) and len(set().union(*subnets)) == len(groups)
    assert {subnet_tier(eks_run)[s] for s in set().union(*subnets)} == {"app"}
    scaling = [g.inputs["scalingConfig"] for g in groups]
    assert sum(s["minSize"] for s in scaling) == cfg["eksNodeMinSize"]
    assert sum(s["maxSize"] for s in scaling) == cfg["eksNodeMaxSize"]
    assert sum(s["desiredSize"] for s in scaling) == (cfg.get("eksNodeDesiredSize") or cfg["eksNodeMinSize"])
    assert all(s["minSize"] >= 1 for s in scaling)
    for group in groups:
        assert group.inputs["instanceTypes"] == cfg.get("eksNodeInstanceTypes", ["t3.medium"])
        assert refs(group, "launchTemplate") == {eks_run.one("aws:ec2/launchTemplate:LaunchTemplate").urn}


def reset_ignored(old: dict[str, Any], new: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """What the engine sends for an update: each ignored path takes its value from the old inputs (state), when
    the old inputs have it (pulumi/pulumi pkg/resource/deploy/step_generator.go, processIgnoreChanges, which
    calls PropertyPath.Reset(oldInputs, inputs); dotted paths without array indices only)."""
    sent = copy.deepcopy(new)
    for path in paths:
        keys = path.split(".")
        source: Any = old
        for key in keys:
            if not isinstance(source, dict) or key not in source:
                break
            source = source[key]
        else:
            target = sent
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = copy.deepcopy(source)
    return sent


def test_reset_ignored_follows_the_engine_for_missing_old_values() -> None:
    assert reset_ignored({}, {"a": {"b": 1}}, ["a.b"]) == {"a": {"b": 1}}
    assert reset_ignored({"a": {"b": 2}}, {"a": {"b": 1, "c": 3}}, ["a.b"]) == {"a": {"b": 2, "c": 3}}
    assert reset_ignored({"a": {"b": 2}}, {"a": {"b": 1}}, ["a"]) == {"a": {"b": 2}}


def test_the_node_groups_leave_their_desired_size_to_the_autoscaler(eks_run: ProgramRun) -> None:
    for group in eks_run.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert group.options["ignoreChanges"] == ["scalingConfig.desiredSize"]
        # After the Cluster Autoscaler raised the group to its maximum, state holds that size: the next update
        # sends the state's value, so nothing changes and no node is terminated.
        declared = group.inputs
        scaled = {**declared, "scalingConfig": {**declared["scalingConfig"],
                                                "desiredSize": declared["scalingConfig"]["maxSize"]}}
        assert reset_ignored(scaled, declared, group.options["ignoreChanges"]) == scaled
        if declared["scalingConfig"]["maxSize"] != declared["scalingConfig"]["desiredSize"]:
            # Without the option the program's value would win (the check can fail).
            assert reset_ignored(scaled, declared, []) != scaled


def test_the_only_launch_template_is_the_hardened_node_template(eks_run: ProgramRun) -> None:
    lt = eks_run.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert owned_by(eks_run, EKS_COMPONENT, lt.type) == [lt]
    meta = lt.inputs["metadataOptions"]
    assert (meta["httpTokens"], meta["httpPutResponseHopLimit"], meta["httpEndpoint"]) == ("required", 1, "enabled")
    [root] = lt.inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda" and "virtualName" not in root
    assert root["ebs"]["encrypted"] == "true" and root["ebs"]["deleteOnTermination"] == "true"
    assert root["ebs"]["volumeSize"] == config_of(name_of(eks_run)).get("rootVolumeSizeGb", 20)
    app_sg = eks_run.one("aws:ec2/securityGroup:SecurityGroup", f"{config_of(name_of(eks_run))['environment']}-sg-app")
    assert app_sg.urn in refs(lt, "vpcSecurityGroupIds")


def test_no_autoscaling_group_or_instance_role_of_the_asg_path(eks_run: ProgramRun) -> None:
    assert eks_run.of_type("aws:autoscaling/group:Group") == []
    assert eks_run.of_type("stateless:compute_asg:ComputeAsg") == []
    assert eks_run.of_type("aws:iam/instanceProfile:InstanceProfile") == []
    assert eks_run.of_type("aws:autoscaling/policy:Policy") == []


def test_nodes_join_the_alb_target_group_on_the_node_port(eks_run: ProgramRun) -> None:
    tg = eks_run.one("aws:lb/targetGroup:TargetGroup")
    assert tg.inputs["port"] == NODE_PORT and tg.inputs["targetType"] == "instance"
    assert tg.inputs["stickiness"]["enabled"] is False
    attachments = eks_run.of_type("aws:autoscaling/attachment:Attachment")
    groups = eks_run.of_type("aws:eks/nodeGroup:NodeGroup")
    assert len(attachments) == len(groups)
    for attachment in attachments:
        assert refs(attachment, "lbTargetGroupArn") == {tg.urn}
    for node_group in groups:
        [attachment] = [a for a in attachments if refs(a, "autoscalingGroupName") == {node_group.urn}]
        (asg,) = node_group.outputs["resources"][0]["autoscalingGroups"]
        assert attachment.inputs["autoscalingGroupName"] == asg["name"]
    env = config_of(name_of(eks_run))["environment"]
    app_sg = eks_run.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-sg-app")
    alb_sg = eks_run.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-sg-alb")
    into_app = [r for r in eks_run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
                if refs(r, "securityGroupId") == {app_sg.urn}]
    assert [(r.inputs["fromPort"], r.inputs["toPort"], refs(r, "referencedSecurityGroupId")) for r in into_app] == [
        (NODE_PORT, NODE_PORT, {alb_sg.urn})
    ]


def test_irsa_role_is_assumable_only_by_the_app_service_account(eks_run: ProgramRun) -> None:
    oidc = eks_run.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert refs(oidc, "url") == {eks_run.one("aws:eks/cluster:Cluster").urn}
    [role] = [r for r in eks_run.of_type("aws:iam/role:Role") if oidc.urn in refs(r, "assumeRolePolicy")
              and "serviceaccount:stateless:app" in r.inputs["assumeRolePolicy"]]
    [statement] = policy(role)
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": oidc.outputs["arn"]}
    host = oidc.inputs["url"].removeprefix("https://")
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:sub": "system:serviceaccount:stateless:app",
        f"{host}:aud": "sts.amazonaws.com",
    }
    sa = app_object(eks_run, "kubernetes:core/v1:ServiceAccount")
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]
    [inline] = [p for p in eks_run.of_type("aws:iam/rolePolicy:RolePolicy") if refs(p, "role") == {role.urn}]
    for st in policy(inline):
        assert "*" not in as_list(st["Resource"]), st
    bucket_arn = eks_run.outputs["bucketName"]
    assert {"Sid": "ReadReceipts", "Effect": "Allow", "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket_arn}/receipts/*"]} in policy(inline)


def test_node_role_holds_only_the_three_eks_node_policies(eks_run: ProgramRun) -> None:
    node_role = eks_run.one("aws:iam/role:Role", f"{config_of(name_of(eks_run))['environment']}-app-node-role")
    attached = [a for a in eks_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if refs(a, "role") == {node_role.urn}]
    assert sorted(a.inputs["policyArn"].rsplit("/", 1)[1] for a in attached) == [
        "AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
    ]
    assert [p for p in eks_run.of_type("aws:iam/rolePolicy:RolePolicy") if refs(p, "role") == {node_role.urn}] == []


def test_every_kubernetes_object_goes_through_the_cluster_provider(eks_run: ProgramRun) -> None:
    objects = [r for r in eks_run.resources if r.type.startswith("kubernetes:")]
    assert {r.type for r in objects} == K8S_KINDS
    # The app's seven objects plus the Cluster Autoscaler's six (ServiceAccount, RBAC, Deployment).
    assert len(objects) == 7 + 6
    provider = eks_run.one("pulumi:providers:kubernetes")
    assert refs(provider, "kubeconfig") == {eks_run.one("aws:eks/cluster:Cluster").urn}
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "aws"  # a token per call, no stored credential
    for obj in objects:
        assert obj.provider is not None and obj.provider.startswith(provider.urn + "::"), obj.name
    assert "kubeconfig" not in eks_run.outputs


def test_deployment_probes_drain_and_runs_read_only_as_non_root(eks_run: ProgramRun) -> None:
    cfg = config_of(name_of(eks_run))
    deployment = app_object(eks_run, "kubernetes:apps/v1:Deployment")
    spec = deployment.inputs["spec"]
    assert spec["replicas"] == cfg.get("k8sReplicas", 2)
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    drain = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert drain >= 5 and pod["terminationGracePeriodSeconds"] > drain
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["ports"][0]["containerPort"] == cfg.get("appPort", 8000)
    # By digest: a pod started later runs exactly what was pushed.
    assert container["image"] == eks_run.outputs["appImage"]
    assert container["image"].startswith(eks_run.outputs["ecrRepositoryUrl"] + "@sha256:")
    assert not pod.get("volumes")  # no hostPath, no PVC: nothing on the pod outlives it
    zones = [c for c in pod["topologySpreadConstraints"] if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zones and zones[0]["whenUnsatisfiable"] == "DoNotSchedule"
    config_map = eks_run.one("kubernetes:core/v1:ConfigMap")
    assert container["envFrom"] == [{"configMapRef": {"name": config_map.outputs["metadata"]["name"]}}]
    assert not any(r.type.endswith(("StatefulSet", "PersistentVolumeClaim")) for r in eks_run.resources)


def test_config_map_carries_secret_arns_never_secret_values(eks_run: ProgramRun) -> None:
    data = eks_run.one("kubernetes:core/v1:ConfigMap").inputs["data"]
    secrets = {k: v for k, v in data.items() if "SECRET" in k}
    assert set(secrets) == {"APP_DATABASE_SECRET_ARN", "APP_REDIS_AUTH_SECRET_ARN"}
    assert all(v.startswith("arn:aws:secretsmanager:") for v in secrets.values())
    assert data["APP_JWT_ISSUER"] == config_of(name_of(eks_run))["jwtIssuer"]


def test_service_autoscaler_and_disruption_budget(eks_run: ProgramRun) -> None:
    cfg = config_of(name_of(eks_run))
    spec = eks_run.one("kubernetes:core/v1:Service").inputs["spec"]
    assert spec["type"] == "NodePort" and spec["sessionAffinity"] == "None"
    assert [p["nodePort"] for p in spec["ports"]] == [NODE_PORT]
    hpa = eks_run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    replicas = cfg.get("k8sReplicas", 2)
    assert hpa["minReplicas"] == (cfg.get("k8sHpaMinReplicas") or replicas) >= replicas
    assert hpa["maxReplicas"] == cfg.get("k8sHpaMaxReplicas", 6)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}
    [metric] = hpa["metrics"]
    assert metric["resource"]["target"]["averageUtilization"] == cfg.get("k8sHpaCpuTargetPercent", 60)
    pdb = eks_run.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"] == app_object(eks_run, "kubernetes:apps/v1:Deployment").inputs["spec"]["selector"]


def test_prod_shaped_eks_keeps_two_pods_and_nodes_and_is_protected() -> None:
    run = program_run("prod-eks")
    assert app_object(run, "kubernetes:apps/v1:Deployment").inputs["spec"]["replicas"] >= 2
    groups = run.of_type("aws:eks/nodeGroup:NodeGroup")
    assert len(groups) == 3 and all(g.inputs["scalingConfig"]["minSize"] >= 1 for g in groups)
    assert run.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is True


def test_eks_exports_the_cluster_name_and_endpoint_but_no_kubeconfig(eks_run: ProgramRun) -> None:
    cluster = eks_run.one("aws:eks/cluster:Cluster")
    assert eks_run.outputs["clusterName"] == cluster.inputs["name"]
    assert eks_run.outputs["clusterEndpoint"].startswith("https://")


def test_asg_path_registers_no_eks_or_kubernetes_resource(asg_run: ProgramRun) -> None:
    assert [r.type for r in asg_run.resources if r.type.startswith(("aws:eks/", "kubernetes:", "pulumi:providers:k"))
            ] == []
    assert asg_run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert len(asg_run.of_type("aws:autoscaling/group:Group")) == 1
    assert "clusterName" not in asg_run.outputs and "clusterEndpoint" not in asg_run.outputs


def manifest(resource: Resource) -> dict[str, Any]:
    """A captured registration as the manifest it applies (numbers arrive as JSON doubles)."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return int(value) if isinstance(value, float) and value.is_integer() else value
    return plain(resource.inputs)


def test_rendered_manifests_are_valid_for_the_cluster_version(eks_run: ProgramRun) -> None:
    version = f"{eks_run.one('aws:eks/cluster:Cluster').inputs['version']}.0"
    for obj in (r for r in eks_run.resources if r.type.startswith("kubernetes:")):
        doc = manifest(obj)
        doc.setdefault("metadata", {}).setdefault("name", obj.outputs["metadata"]["name"])
        kubernetes_validate.validate(doc, version, strict=True)


def test_pods_scale_on_metrics_server_and_nodes_on_the_cluster_autoscaler(eks_run: ProgramRun) -> None:
    cluster = eks_run.one("aws:eks/cluster:Cluster")
    addon = eks_run.one("aws:eks/addon:Addon")
    assert addon.inputs["addonName"] == "metrics-server"
    assert refs(addon, "clusterName") == {cluster.urn}
    assert {g.urn for g in eks_run.of_type("aws:eks/nodeGroup:NodeGroup")} <= set(addon.dependencies)
    [autoscaler] = [r for r in eks_run.of_type("kubernetes:apps/v1:Deployment")
                    if r.name.endswith("-autoscaler-deployment")]
    container = autoscaler.inputs["spec"]["template"]["spec"]["containers"][0]
    version = str(config_of(name_of(eks_run)).get("eksKubernetesVersion", eks_versions.DEFAULT_VERSION))
    # The newest patch of the line that matches the cluster's minor version.
    release = eks_versions.AUTOSCALER_RELEASES[version]
    assert release.startswith(f"{version}.")
    assert container["image"] == f"registry.k8s.io/autoscaling/cluster-autoscaler:v{release}"
    assert (f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            f"k8s.io/cluster-autoscaler/{cluster.outputs['name']}") in container["command"]
    [role] = [r for r in eks_run.of_type("aws:iam/role:Role") if "serviceaccount:kube-system:cluster-autoscaler"
              in r.inputs["assumeRolePolicy"]]
    [inline] = [p for p in eks_run.of_type("aws:iam/rolePolicy:RolePolicy") if refs(p, "role") == {role.urn}]
    scale = next(st for st in policy(inline) if st["Sid"] == "ScaleOwnNodeGroups")
    assert scale["Condition"] == {"StringEquals": {
        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster.outputs['name']}": "owned"}}
    # The app's Deployment waits for metrics (its autoscaler reads them).
    deployment = app_object(eks_run, "kubernetes:apps/v1:Deployment")
    assert addon.urn in deployment.dependencies


def test_the_deployer_and_each_admin_get_an_access_entry(eks_run: ProgramRun) -> None:
    cfg = config_of(name_of(eks_run))
    cluster = eks_run.one("aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    entries = {e.inputs["principalArn"] for e in eks_run.of_type("aws:eks/accessEntry:AccessEntry")}
    # The configured principal (role/<name> completed with the stack's account), never the caller (the mock
    # caller is user/ci): a caller-derived entry is replaced whenever someone else runs `up`.
    configured = cfg["eksDeployerPrincipalArn"]
    deployer = configured if configured.startswith("arn:") else f"arn:aws:iam::{MOCK_ACCOUNT_ID}:{configured}"
    assert entries == {deployer, *cfg.get("eksAdminPrincipalArns", [])}
    assert "arn:aws:iam::123456789012:user/ci" not in entries
    associations = eks_run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert len(associations) == len(entries)
    assert all(a.inputs["policyArn"].endswith(":cluster-access-policy/AmazonEKSClusterAdminPolicy")
               for a in associations)
    # Kubernetes objects are created only once the deployer may create them.
    deployment = app_object(eks_run, "kubernetes:apps/v1:Deployment")
    assert {a.urn for a in associations} <= set(deployment.dependencies)


def test_the_app_starts_only_after_the_migration(eks_run: ProgramRun) -> None:
    [run] = eks_run.of_type("aws:lambda/invocation:Invocation")
    assert run.urn in app_object(eks_run, "kubernetes:apps/v1:Deployment").dependencies


def test_pods_get_the_keepalive_and_port_the_load_balancer_needs(eks_run: ProgramRun) -> None:
    cfg = config_of(name_of(eks_run))
    data = app_object(eks_run, "kubernetes:core/v1:ConfigMap").inputs["data"]
    assert data["APP_KEEPALIVE_TIMEOUT_SECONDS"] == str(cfg.get("albIdleTimeoutSeconds", 60) + 5)
    container = app_object(eks_run, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    assert data["APP_PORT"] == str(container["ports"][0]["containerPort"]) == str(cfg.get("appPort", 8000))


UPSTREAM = Path(__file__).resolve().parents[3] / "fixtures" / "cluster_autoscaler"


def _upstream_rules(release: str, kind: str) -> list[tuple[Any, ...]]:
    """The rules of one RBAC object of the upstream example manifest at cluster-autoscaler-<release>."""
    path = UPSTREAM / f"autodiscover-{release}.yaml"
    assert f"/blob/cluster-autoscaler-{release}/" in path.read_text().splitlines()[0]  # the source and tag
    [doc] = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    return sorted(_rule(r) for r in doc["rules"])


def _rule(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (tuple(rule.get("apiGroups") or ()), tuple(rule.get("resources") or ()), tuple(rule.get("verbs") or ()),
            tuple(rule.get("resourceNames") or ()))


def test_the_autoscalers_rbac_is_the_upstream_manifests_of_its_tag(eks_run: ProgramRun) -> None:
    version = str(config_of(name_of(eks_run)).get("eksKubernetesVersion", eks_versions.DEFAULT_VERSION))
    release = eks_versions.AUTOSCALER_RELEASES[version]
    [cluster_role] = [r for r in eks_run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
                      if r.inputs["metadata"]["name"] == "cluster-autoscaler"]
    [role] = [r for r in eks_run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
              if r.inputs["metadata"]["name"] == "cluster-autoscaler"]
    assert sorted(_rule(r) for r in cluster_role.inputs["rules"]) == _upstream_rules(release, "ClusterRole")
    assert sorted(_rule(r) for r in role.inputs["rules"]) == _upstream_rules(release, "Role")
    if tuple(map(int, version.split("."))) >= (1, 33):
        # kubernetes/autoscaler#7904, #8678: refused VolumeAttachments stop scale-ups from 1.33 on.
        assert any("volumeattachments" in r["resources"] for r in cluster_role.inputs["rules"])


@pytest.mark.parametrize("version", sorted(eks_versions.AUTOSCALER_RELEASES))
def test_every_pinned_autoscaler_release_has_its_upstream_rbac(version: str) -> None:
    from infra.components.cluster_autoscaler import cluster_rules

    release = eks_versions.AUTOSCALER_RELEASES[version]
    assert sorted(cluster_rules(version)) == _upstream_rules(release, "ClusterRole")
    assert sorted(NAMESPACE_RULES) == _upstream_rules(release, "Role")


def test_the_first_deploy_reaches_the_api_from_the_configured_network(eks_run: ProgramRun) -> None:
    """The chosen first-deploy path: one `up` creates the cluster and then its Kubernetes objects through an
    endpoint that is private plus public for the deploy runner's network only (infra/README.md)."""
    cfg = config_of(name_of(eks_run))
    cluster = eks_run.one("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert cfg["eksPublicAccessCidrs"] and not cfg.get("eksDeployFromVpc", False)
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == cfg["eksPublicAccessCidrs"]
    # Every Kubernetes object goes through the cluster's provider and waits for the deployer's entry.
    [provider] = eks_run.of_type("pulumi:providers:kubernetes")
    [deployer_policy] = [a for a in eks_run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
                         if a.name.endswith("-deployer-policy")]
    for obj in (r for r in eks_run.resources if r.type.startswith("kubernetes:")):
        assert obj.provider and obj.provider.startswith(provider.urn)
    assert deployer_policy.urn in app_object(eks_run, "kubernetes:apps/v1:Deployment").dependencies
    # The pipeline's deploy job runs this stack's preflight on its runner (tests/unit/pipeline/test_eks_deploy.py):
    # a runner in the listed network with the configured role passes, one outside is stopped before any resource.
    settings = parse_settings(cfg, stack="dev-eks", region="us-east-1")
    inside = str(next(ipaddress.ip_network(cfg["eksPublicAccessCidrs"][0]).hosts()))
    assert eks_preflight.problems(settings, inside, cfg["eksDeployerPrincipalArn"]) == []
    [outside] = eks_preflight.problems(settings, "9.9.9.9", cfg["eksDeployerPrincipalArn"])
    assert "eksPublicAccessCidrs does not include this runner's address 9.9.9.9" in outside


def test_the_deployment_leaves_replicas_to_the_hpa_after_creation(eks_run: ProgramRun) -> None:
    """With server-side apply, pulumi-kubernetes drops an ignored field that another manager (the HPA, through
    the scale subresource) owns, and otherwise sends the live value (provider/pkg/await/await.go,
    handleSSAIgnoreFields; the fix of pulumi/pulumi-kubernetes#2491): a rollout after a scale-up keeps it."""
    deployment = app_object(eks_run, "kubernetes:apps/v1:Deployment")
    assert deployment.options["ignoreChanges"] == ["spec.replicas"]
    [provider] = eks_run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["enableServerSideApply"] in (True, "true")
    declared = deployment.inputs
    scaled = {**declared, "spec": {**declared["spec"], "replicas": 6}}
    image_change = {**declared, "spec": {**declared["spec"], "template": {"changed": True}}}
    assert reset_ignored(scaled, image_change, deployment.options["ignoreChanges"])["spec"]["replicas"] == 6


def _judge(run: ProgramRun, *rules: Any, config: dict[str, Any] | None = None,
           resources: list[Resource] | None = None) -> list[tuple[str, str]]:
    """The two EKS rules as the offline gate evaluates them on the program's records (options included)."""
    from policies.gate.config import PolicySettings
    from policies.gate.evaluate import evaluate

    policies = [r.policy() for r in rules]
    settings = {r.name: PolicySettings(r.enforcement, dict(config or {})) for r in rules}
    found = evaluate(resources if resources is not None else run.resources, policies, settings, "stateless-stack",
                     "t")
    return [(v.name, v.message) for v in found]


def test_the_eks_stacks_satisfy_their_version_and_desired_size_rules(eks_run: ProgramRun) -> None:
    from policies.rules.eks import EKS_NODEGROUP_DESIRED_SIZE_IGNORED, EKS_VERSION_SUPPORTED

    version = str(config_of(name_of(eks_run)).get("eksKubernetesVersion", eks_versions.DEFAULT_VERSION))
    found = _judge(eks_run, EKS_VERSION_SUPPORTED, EKS_NODEGROUP_DESIRED_SIZE_IGNORED, config={"asOf": "2026-12-07"})
    # Only the variant that asks for 1.32 on purpose is past standard support.
    expected = [] if eks_versions.in_standard_support(version, date(2026, 12, 7)) else [
        (eks_run.one("aws:eks/cluster:Cluster").name,
         f"version {version} is past the end of EKS standard support "
         f"({eks_versions.CALENDAR[version].end_of_standard.isoformat()}): the cluster is billed for extended "
         "support or upgraded by EKS")]
    assert found == expected


def test_a_node_group_without_the_option_would_be_reported_in_the_gate(eks_run: ProgramRun) -> None:
    from policies.rules.eks import EKS_NODEGROUP_DESIRED_SIZE_IGNORED

    [first, *_] = eks_run.of_type("aws:eks/nodeGroup:NodeGroup")
    stripped = [dataclasses.replace(r, options={**r.options, "ignoreChanges": []}) if r.urn == first.urn else r
                for r in eks_run.resources]
    assert [name for name, _ in _judge(eks_run, EKS_NODEGROUP_DESIRED_SIZE_IGNORED, resources=stripped)] == [
        first.name]

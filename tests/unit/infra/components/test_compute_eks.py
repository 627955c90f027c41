"""EKS compute under mocks: the cluster, its nodes and IAM, IRSA, and every Kubernetes object of the app.

Kubernetes objects are checked twice: their properties one by one, and the rendered manifests
against the Kubernetes OpenAPI schemas (strict: unknown fields fail) with kubernetes-validate.
"""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pulumi
import pytest

from infra.components.compute_eks import (
    CONTROL_PLANE_LOG_TYPES,
    EKS_OIDC_ROOT_CA_THUMBPRINT,
    ComputeEks,
    ComputeEksArgs,
    NodeGroupSettings,
    spread,
)
from infra.components.k8s_app import AutoscalingSettings, ResourceSettings, WorkloadSettings
from tests.unit.infra.conftest import (
    ACCOUNT,
    APP_ENV,
    REGION,
    Run,
    answered,
    as_list,
    document,
    manifest,
    plain,
    policy_findings,
    resolve,
    run_component,
    statements,
)

BUCKET_ARN = "arn:aws:s3:::prod-data-7f3a"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:prod-work-queue"
SECRET_ARNS = [
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-1234-AbCdEf",
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:redis-AbCdEf",
]
SIGNING_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TARGET_GROUP_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/prod-edge-tg/6d0ecf831eec9f09"
ENV = APP_ENV
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/stateless-app@sha256:{'ab' * 32}"
KUBERNETES_VERSION = "1.35"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/stateless-stack-deploy-prod"
"""the configured deployer: the mocks' caller is another identity (user/ci), which must not get an entry"""


def make_args(**overrides: Any) -> ComputeEksArgs:
    base: dict[str, Any] = dict(
        subnet_ids=["subnet-app-a", "subnet-app-b", "subnet-app-c"],
        node_security_group_ids=["sg-app"],
        target_group_arn=TARGET_GROUP_ARN,
        image=IMAGE,
        environment=ENV,
        bucket_arn=BUCKET_ARN,
        queue_arn=QUEUE_ARN,
        secret_arns=SECRET_ARNS,
        signing_key_arn=SIGNING_KEY_ARN,
        nodes=NodeGroupSettings(min_size=3, max_size=6, desired_size=3, instance_types=["m6i.large"]),
        workload=WorkloadSettings(replicas=3, autoscaling=AutoscalingSettings(max_replicas=9, cpu_target_percent=65),
                        resources=ResourceSettings(cpu_request="500m", memory_request="384Mi")),
        kubernetes_version=KUBERNETES_VERSION,
        public_access_cidrs=["203.0.113.0/24", "198.51.100.7/32"],
        deployer_principal_arn=DEPLOYER,
        log_retention_days=90,
    )
    base.update(overrides)
    return ComputeEksArgs(**base)


@pytest.fixture(scope="module")
def eks() -> Run:
    # The Cluster Autoscaler's objects are judged in tests/unit/infra/modes/test_eks.py; here the app's alone.
    return run_component(lambda: ComputeEks("prod-eks", make_args(node_autoscaling=False)))


def one(run: Run, type_: str) -> dict[str, Any]:
    return plain(run.one(type_).inputs)


def k8s(run: Run, kind: str) -> dict[str, Any]:
    found = [r for r in run.resources if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return manifest(found[0])


def pod_spec(run: Run) -> dict[str, Any]:
    return k8s(run, "Deployment")["spec"]["template"]["spec"]


def container(run: Run) -> dict[str, Any]:
    containers = pod_spec(run)["containers"]
    assert len(containers) == 1
    return containers[0]


# ----------------------------------------------------------------------------- cluster


def test_cluster_endpoint_is_private_with_public_access_only_from_the_given_cidrs(eks: Run) -> None:
    vpc = one(eks, "aws:eks/cluster:Cluster")["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert vpc["subnetIds"] == ["subnet-app-a", "subnet-app-b", "subnet-app-c"]


def test_without_public_cidrs_the_endpoint_is_private_only() -> None:
    run = run_component(lambda: ComputeEks("p", make_args(public_access_cidrs=())))
    vpc = one(run, "aws:eks/cluster:Cluster")["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False
    assert vpc["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in vpc


def test_secrets_are_encrypted_with_a_rotating_kms_key(eks: Run) -> None:
    cluster = one(eks, "aws:eks/cluster:Cluster")
    key = eks.one("aws:kms/key:Key")
    assert cluster["encryptionConfig"] == {
        "resources": ["secrets"],
        "provider": {"keyArn": answered(key.type, key.name, key.inputs)["arn"]},
    }
    assert plain(key.inputs)["enableKeyRotation"] is True


def test_control_plane_logs_all_types_to_a_retained_log_group(eks: Run) -> None:
    cluster = one(eks, "aws:eks/cluster:Cluster")
    assert set(cluster["enabledClusterLogTypes"]) == set(CONTROL_PLANE_LOG_TYPES) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}
    group = one(eks, "aws:cloudwatch/logGroup:LogGroup")
    assert group == {**group, "name": f"/aws/eks/{cluster['name']}/cluster", "retentionInDays": 90}


def test_cluster_uses_api_access_entries_and_the_configured_version(eks: Run) -> None:
    cluster = one(eks, "aws:eks/cluster:Cluster")
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["version"] == KUBERNETES_VERSION


def _attached(run: Run, role_name_part: str) -> set[str]:
    return {
        plain(r.inputs)["policyArn"]
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if role_name_part in r.inputs["role"]
    }


def test_cluster_role_has_only_the_eks_cluster_policy(eks: Run) -> None:
    assert _attached(eks, "cluster-role") == {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}
    trust = document(_role(eks, "prod-eks-cluster-role")["assumeRolePolicy"])
    assert [s["Principal"] for s in statements(trust)] == [{"Service": "eks.amazonaws.com"}]


def test_node_role_has_exactly_the_three_node_policies_and_nothing_inline(eks: Run) -> None:
    assert _attached(eks, "node-role") == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    }
    inline = [r for r in eks.of_type("aws:iam/rolePolicy:RolePolicy") if "node-role" in r.inputs["role"]]
    assert inline == []


def _role(run: Run, name: str) -> dict[str, Any]:
    return plain(run.named(name).inputs)


def test_only_the_configured_deployer_is_admin_by_default(eks: Run) -> None:
    assert [plain(r.inputs)["principalArn"] for r in eks.of_type("aws:eks/accessEntry:AccessEntry")] == [DEPLOYER]
    assert one(eks, "aws:eks/cluster:Cluster")["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False


def test_the_deployer_never_comes_from_the_callers_identity(eks: Run) -> None:
    # Whoever runs `up` (the mocks' caller is user/ci) must not change the entry: principalArn replaces it
    # (terraform-aws-modules/terraform-aws-eks#3293, #2969).
    assert "aws:iam/getSessionContext:getSessionContext" not in eks.invokes
    assert all(plain(r.inputs)["principalArn"] != f"arn:aws:iam::{ACCOUNT}:user/ci"
               for r in eks.of_type("aws:eks/accessEntry:AccessEntry"))


def test_a_deployer_named_by_role_is_completed_with_the_stacks_account() -> None:
    run = run_component(lambda: ComputeEks("short", make_args(deployer_principal_arn="role/deploy-dev-eks",
                                                              node_autoscaling=False)))
    [entry] = run.of_type("aws:eks/accessEntry:AccessEntry")
    assert plain(entry.inputs)["principalArn"] == f"arn:aws:iam::{ACCOUNT}:role/deploy-dev-eks"


def test_the_cluster_keeps_the_standard_upgrade_policy_unless_asked(eks: Run) -> None:
    assert one(eks, "aws:eks/cluster:Cluster")["upgradePolicy"] == {"supportType": "STANDARD"}
    run = run_component(lambda: ComputeEks("ext", make_args(upgrade_support_type="EXTENDED", node_autoscaling=False)))
    assert one(run, "aws:eks/cluster:Cluster")["upgradePolicy"] == {"supportType": "EXTENDED"}


def test_listed_admins_get_cluster_admin_through_access_entries() -> None:
    roles = [f"arn:aws:iam::{ACCOUNT}:role/ci-deploy-prod", f"arn:aws:iam::{ACCOUNT}:role/platform-oncall"]
    run = run_component(lambda: ComputeEks("adm", make_args(admin_principal_arns=roles, node_autoscaling=False)))
    entries = [plain(r.inputs) for r in run.of_type("aws:eks/accessEntry:AccessEntry")]
    assert sorted(e["principalArn"] for e in entries) == sorted([*roles, DEPLOYER])
    assert sorted(r.name for r in run.of_type("aws:eks/accessEntry:AccessEntry")) == [
        "adm-admin-ci-deploy-prod", "adm-admin-platform-oncall", "adm-deployer"]
    assert {e["type"] for e in entries} == {"STANDARD"}
    associations = [plain(r.inputs) for r in run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")]
    assert sorted(a["principalArn"] for a in associations) == sorted([*roles, DEPLOYER])
    for a in associations:
        assert a["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert a["accessScope"] == {"type": "cluster"}


# ----------------------------------------------------------------------------- nodes


def test_launch_template_requires_imdsv2_with_hop_limit_one(eks: Run) -> None:
    lt = one(eks, "aws:ec2/launchTemplate:LaunchTemplate")
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert lt["metadataOptions"]["httpEndpoint"] == "enabled"


def test_launch_template_has_one_encrypted_root_volume_and_no_data_volumes(eks: Run) -> None:
    lt = one(eks, "aws:ec2/launchTemplate:LaunchTemplate")
    mappings = lt["blockDeviceMappings"]
    assert [m["deviceName"] for m in mappings] == ["/dev/xvda"]
    ebs = mappings[0]["ebs"]
    assert ebs["encrypted"] == "true"
    assert ebs["deleteOnTermination"] == "true"
    assert ebs["volumeType"] == "gp3"
    assert "userData" not in lt and "keyName" not in lt and "iamInstanceProfile" not in lt


def test_nodes_carry_the_cluster_group_and_the_app_group(eks: Run) -> None:
    lt = one(eks, "aws:ec2/launchTemplate:LaunchTemplate")
    cluster = eks.one("aws:eks/cluster:Cluster")
    cluster_sg = answered(cluster.type, cluster.name, cluster.inputs)["vpcConfig"]["clusterSecurityGroupId"]
    assert lt["vpcSecurityGroupIds"] == [cluster_sg, "sg-app"]


def test_one_managed_node_group_per_zone_shares_the_template_and_the_sizes(eks: Run) -> None:
    groups = sorted(eks.of_type("aws:eks/nodeGroup:NodeGroup"), key=lambda r: r.name)
    lt = eks.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert [g.name for g in groups] == ["prod-eks-nodes-0", "prod-eks-nodes-1", "prod-eks-nodes-2"]
    # One subnet (one zone) each: the Cluster Autoscaler scales the group of the zone a pending pod needs.
    assert [plain(g.inputs)["subnetIds"] for g in groups] == [["subnet-app-a"], ["subnet-app-b"], ["subnet-app-c"]]
    assert [plain(g.inputs)["scalingConfig"] for g in groups] == [{"minSize": 1, "maxSize": 2, "desiredSize": 1}] * 3
    for ng in map(lambda g: plain(g.inputs), groups):
        assert ng["launchTemplate"]["id"].startswith("lt-") and lt.name == "prod-eks-nodes-lt"
        assert ng["launchTemplate"]["version"] == "1"
        assert ng["instanceTypes"] == ["m6i.large"]
        assert "diskSize" not in ng and "remoteAccess" not in ng


@pytest.mark.parametrize(("total", "groups", "expected"), [(3, 3, [1, 1, 1]), (5, 3, [2, 2, 1]), (2, 2, [1, 1]),
                                                            (9, 2, [5, 4])])
def test_node_counts_are_spread_over_the_zones_without_losing_one(total: int, groups: int, expected: list[int]) -> None:
    assert spread(total, groups) == expected and sum(expected) == total


def test_each_node_groups_instances_are_registered_in_the_alb_target_group(eks: Run) -> None:
    attachments = eks.of_type("aws:autoscaling/attachment:Attachment")
    groups = eks.of_type("aws:eks/nodeGroup:NodeGroup")
    assert len(attachments) == len(groups) == 3
    names = set()
    for ng in groups:
        (asg,) = answered(ng.type, ng.name, ng.inputs)["resources"][0]["autoscalingGroups"]
        names.add(asg["name"])
    assert {plain(a.inputs)["autoscalingGroupName"] for a in attachments} == names
    assert all(plain(a.inputs)["lbTargetGroupArn"] == TARGET_GROUP_ARN for a in attachments)
    assert all(n.startswith("eks-") for n in names)


# ----------------------------------------------------------------------------- IRSA


def test_oidc_provider_trusts_the_cluster_issuer_for_sts(eks: Run) -> None:
    provider = one(eks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert re.fullmatch(rf"https://oidc\.eks\.{REGION}\.amazonaws\.com/id/[0-9A-F]+", provider["url"])
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider["thumbprintLists"] == [EKS_OIDC_ROOT_CA_THUMBPRINT]


def test_irsa_role_can_only_be_assumed_by_the_apps_service_account(eks: Run) -> None:
    provider = one(eks, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    host = provider["url"].removeprefix("https://")
    trust = document(_role(eks, "prod-eks-app-role")["assumeRolePolicy"])
    [st] = statements(trust)
    assert st["Effect"] == "Allow"
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert st["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}
    assert st["Condition"] == {"StringEquals": {
        f"{host}:sub": "system:serviceaccount:stateless:app",
        f"{host}:aud": "sts.amazonaws.com",
    }}


def test_irsa_policy_is_scoped_to_the_apps_bucket_queue_and_secrets(eks: Run) -> None:
    doc = document(plain(eks.one("aws:iam/rolePolicy:RolePolicy").inputs)["policy"])
    grants: dict[str, set[str]] = {}
    for st in statements(doc):
        for action in as_list(st["Action"]):
            grants.setdefault(action, set()).update(as_list(st["Resource"]))
    assert all("*" not in resources for resources in grants.values())
    # The web tier's one grant, the same document the instances get (iam.web_app_policy).
    assert grants == {
        "s3:GetObject": {f"{BUCKET_ARN}/receipts/*"},
        "sqs:SendMessage": {QUEUE_ARN},
        "secretsmanager:GetSecretValue": set(SECRET_ARNS),
        "kms:Sign": {SIGNING_KEY_ARN},
        "kms:GetPublicKey": {SIGNING_KEY_ARN},
    }
    assert not any(a.startswith(("iam:", "eks:", "ec2:")) for a in grants)


def test_the_iam_role_reaches_pods_only_through_the_service_account(eks: Run) -> None:
    sa = k8s(eks, "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == resolve(eks.component.app_role_arn)
    assert sa["automountServiceAccountToken"] is False
    assert pod_spec(eks)["serviceAccountName"] == sa["metadata"]["name"] == "app"
    assert sa["metadata"]["namespace"] == "stateless"


# ----------------------------------------------------------------------------- Kubernetes provider


def test_kubernetes_provider_uses_a_token_exec_kubeconfig_of_the_cluster(eks: Run) -> None:
    provider = eks.one("pulumi:providers:kubernetes")
    config = json.loads(provider.inputs["kubeconfig"])
    [cluster] = config["clusters"]
    assert cluster["cluster"]["server"] == resolve(eks.component.cluster_endpoint)
    assert cluster["cluster"]["certificate-authority-data"]
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", cluster["name"]]
    assert "token" not in user["user"] and "client-key-data" not in user["user"]


def test_every_kubernetes_object_goes_through_the_clusters_provider(eks: Run) -> None:
    objects = [r for r in eks.resources if r.type.startswith("kubernetes:")]
    assert {r.type.split(":")[-1] for r in objects} == {
        "Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    assert all(r.provider and "::prod-eks-k8s::" in r.provider for r in objects)


# ----------------------------------------------------------------------------- Kubernetes objects


def test_namespace_enforces_the_restricted_pod_security_standard(eks: Run) -> None:
    labels = k8s(eks, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_config_map_holds_the_env_contract_and_no_secret_values(eks: Run) -> None:
    cm = k8s(eks, "ConfigMap")
    assert cm["data"] == ENV
    assert not any(re.search("PASSWORD|TOKEN|PRIVATE_KEY", k) and not k.endswith("_ARN") for k in cm["data"])
    [source] = container(eks)["envFrom"]
    assert source["configMapRef"]["name"] == resolve(eks.component.app.config_map_name)
    assert all("valueFrom" not in e for e in container(eks).get("env", []))


def test_deployment_replicas_and_surge_only_rollout(eks: Run) -> None:
    spec = k8s(eks, "Deployment")["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["strategy"]["rollingUpdate"]["maxSurge"] >= 1


def test_probes_hit_readyz_and_healthz(eks: Run) -> None:
    c = container(eks)
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 30
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_prestop_drain_fits_inside_the_grace_period(eks: Run) -> None:
    c = container(eks)
    drain = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert drain == 15
    assert pod_spec(eks)["terminationGracePeriodSeconds"] == 45 > drain


def test_container_is_non_root_read_only_without_capabilities(eks: Run) -> None:
    sc = container(eks)["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    pod_sc = pod_spec(eks)["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}


def test_container_has_requests_and_limits(eks: Run) -> None:
    res = container(eks)["resources"]
    assert res["requests"] == {"cpu": "500m", "memory": "384Mi"}
    assert set(res["limits"]) == {"cpu", "memory"}


def test_pods_spread_across_zones(eks: Run) -> None:
    constraints = pod_spec(eks)["topologySpreadConstraints"]
    zone = [c for c in constraints if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert len(zone) == 1 and zone[0]["maxSkew"] == 1
    assert zone[0]["labelSelector"] == k8s(eks, "Deployment")["spec"]["selector"]


def test_no_pod_storage_no_host_access(eks: Run) -> None:
    spec = pod_spec(eks)
    assert "volumes" not in spec
    assert "volumeMounts" not in container(eks)
    assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    types = {r.type for r in eks.resources}
    assert not types & {"kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:PersistentVolumeClaim",
                        "kubernetes:core/v1:PersistentVolume"}


def test_service_is_a_nodeport_without_session_affinity(eks: Run) -> None:
    svc = k8s(eks, "Service")["spec"]
    assert svc["type"] == "NodePort"
    assert svc["sessionAffinity"] == "None"
    assert svc["ports"] == [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080}]
    assert svc["selector"] == k8s(eks, "Deployment")["spec"]["template"]["metadata"]["labels"]


def test_autoscaler_bounds_start_at_the_replica_floor(eks: Run) -> None:
    hpa = k8s(eks, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["minReplicas"] == 3 and spec["maxReplicas"] == 9
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}
    [metric] = spec["metrics"]
    assert metric["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}}


def test_disruption_budget_lets_one_pod_go_at_a_time(eks: Run) -> None:
    pdb = k8s(eks, "PodDisruptionBudget")["spec"]
    assert pdb == {"maxUnavailable": 1, "selector": k8s(eks, "Deployment")["spec"]["selector"]}


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
@pytest.mark.parametrize(
    "kind",
    ["Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
     "PodDisruptionBudget"],
)
def test_rendered_manifest_is_valid_against_the_kubernetes_schema(eks: Run, kind: str, version: str) -> None:
    """The cluster's own version and the newest schema kubernetes-validate ships."""
    doc = k8s(eks, kind)
    assert doc["kind"] == kind
    kubernetes_validate.validate(doc, version, strict=True)


def test_schema_validation_rejects_a_broken_manifest(eks: Run) -> None:
    doc = k8s(eks, "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_stateless_guard_rules_find_nothing(eks: Run) -> None:
    assert policy_findings(eks.resources) == []


# ----------------------------------------------------------------------------- bad args


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nodes": None}, "compute mode eks needs node group sizes"),
        ({"public_access_cidrs": ["0.0.0.0/0"]}, "opens the Kubernetes API to the internet"),
        ({"public_access_cidrs": ["10.0.0.1/8"]}, "public access CIDR '10.0.0.1/8' is not a valid network"),
        ({"public_access_cidrs": "203.0.113.0/24"}, "not one string"),
        ({"kubernetes_version": "1.29"},
         "kubernetes_version must be 1.30 or newer: the app's preStop drain uses the sleep action (got 1.29)"),
        ({"kubernetes_version": "latest"}, "kubernetes_version must be a major.minor version such as 1.33"),
        ({"log_types": ["api", "kubelet"]}, "unknown control-plane log types ['kubelet']"),
        ({"node_security_group_ids": []}, "nodes need the app security group"),
        ({"secret_arns": []}, "secret_arns must list the secrets"),
        ({"secret_arns": SECRET_ARNS[:1]}, "APP_REDIS_AUTH_SECRET_ARN names a secret that secret_arns does not"),
        ({"environment": {**ENV, "APP_JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"}}, "looks like a secret"),
        ({"environment": {**ENV, "APP_REDIS_URL": "rediss://user:hunter2@cache:6379"}}, "password in a URL"),
        ({"cluster_name": "-bad"}, "cluster name '-bad'"),
        ({"oidc_thumbprint": "abc"}, "40 hex digits"),
        ({"deployer_principal_arn": "arn:aws:sts::123456789012:assumed-role/deploy/run-1"},
         "deployer_principal_arn must be an IAM role or user ARN, or role/<name> in the stack's account"),
        ({"admin_principal_arns": [DEPLOYER]}, "deployer_principal_arn is also listed in eksAdminPrincipalArns"),
        ({"deployer_principal_arn": "role/ops", "admin_principal_arns": ["arn:aws:iam::123456789012:role/ops"]},
         "deployer_principal_arn is also listed in eksAdminPrincipalArns"),
        ({"upgrade_support_type": "NONE"}, "upgrade_support_type must be one of STANDARD, EXTENDED, got 'NONE'"),
        ({"subnet_ids": ["subnet-app-a"]}, "subnet_ids must list one private subnet per availability zone"),
        ({"nodes": NodeGroupSettings(min_size=2, max_size=6)},
         "node group min size (2) must be ≥ the number of availability zones (3)"),
        ({"kubernetes_version": "1.37"}, "no Cluster Autoscaler release is pinned for Kubernetes 1.37"),
        ({"admin_principal_arns": ["arn:aws:iam::123456789012:policy/x"]},
         "admin_principal_arns must list IAM role or user ARNs"),
        ({"admin_principal_arns": ["arn:aws:iam::123456789012:role/ops.team",
                                   "arn:aws:iam::123456789012:user/ops-team"]},
         "admin_principal_arns lists a principal twice (or two with the same name)"),
        ({"admin_principal_arns": "arn:aws:iam::123456789012:role/x"}, "not one string"),
        ({"admin_principal_arns": ["arn:aws:iam::123456789012:role/x"] * 2}, "lists a principal twice"),
    ],
)
def test_bad_args_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_args(**overrides)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: NodeGroupSettings(min_size=0, max_size=3), "node group min size must be ≥ 1"),
        (lambda: NodeGroupSettings(min_size=3, max_size=2), "max size (2) must be ≥ min size (3)"),
        (lambda: NodeGroupSettings(min_size=2, max_size=4, desired_size=5), "desired size (5) must lie between"),
        (lambda: NodeGroupSettings(min_size=2, max_size=4, instance_types=[]), "non-empty list of instance types"),
        (lambda: NodeGroupSettings(min_size=2, max_size=4, root_volume_gib=4), "root volume size must be 8..16384"),
        (lambda: WorkloadSettings(replicas=0), "replicas must be ≥ 1"),
        (lambda: WorkloadSettings(replicas=3, autoscaling=AutoscalingSettings(min_replicas=2)),
         "autoscaler min replicas (2) must be ≥ the Deployment's replicas (3)"),
        (lambda: WorkloadSettings(replicas=3, autoscaling=AutoscalingSettings(max_replicas=2)),
         "autoscaler max replicas (2) must be ≥ min replicas (3)"),
        (lambda: AutoscalingSettings(cpu_target_percent=0), "CPU target must be 1..100"),
        (lambda: WorkloadSettings(drain_seconds=30, termination_grace_seconds=30), "must exceed the preStop drain"),
        (lambda: WorkloadSettings(node_port=8080), "NodePort range 30000-32767"),
        (lambda: WorkloadSettings(namespace="Stateless"), "must be a DNS label"),
        (lambda: ResourceSettings(memory_limit="lots"), "not a Kubernetes quantity"),
    ],
)
def test_bad_nested_settings_fail_with_a_clear_message(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_an_environment_output_with_a_secret_value_fails_the_deployment() -> None:
    leaky = pulumi.Output.from_input({**ENV, "APP_DATABASE_PASSWORD": "hunter2"})
    with pytest.raises(Exception, match="APP_DATABASE_PASSWORD looks like a secret"):
        run_component(lambda: ComputeEks("leaky", make_args(environment=leaky)))


def test_an_environment_output_is_accepted() -> None:
    run = run_component(lambda: ComputeEks("out", make_args(environment=pulumi.Output.from_input(ENV))))
    assert k8s(run, "ConfigMap")["data"] == ENV

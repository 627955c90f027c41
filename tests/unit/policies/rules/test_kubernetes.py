"""no-k8s-host-storage, no-k8s-persistent-volumes, no-app-statefulsets, emptydir-size-limit."""

import copy

import pytest

from policies.rules.kubernetes import (
    EMPTYDIR_SIZE_LIMIT,
    NO_APP_STATEFULSETS,
    NO_K8S_HOST_STORAGE,
    NO_K8S_PERSISTENT_VOLUMES,
)

POD_SPEC = {
    "containers": [{"name": "web", "image": "web:1"}],
    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, {"name": "cfg", "configMap": {"name": "c"}}],
}

WORKLOADS = {
    "kubernetes:apps/v1:Deployment": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:DaemonSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:ReplicaSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:Job": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:CronJob": lambda spec: {"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}},
    "kubernetes:core/v1:Pod": lambda spec: {"spec": spec},
}


def _spec_with(volume):
    spec = copy.deepcopy(POD_SPEC)
    spec["volumes"].append(volume)
    return spec


@pytest.mark.parametrize("kind", WORKLOADS)
def test_compliant_workloads_pass(kind, via_policy):
    props = WORKLOADS[kind](POD_SPEC)
    for rule in (NO_K8S_HOST_STORAGE, NO_K8S_PERSISTENT_VOLUMES, EMPTYDIR_SIZE_LIMIT):
        assert via_policy(rule, kind, props) == []


@pytest.mark.parametrize("kind", WORKLOADS)
def test_host_path_volume(kind, via_policy):
    props = WORKLOADS[kind](_spec_with({"name": "data", "hostPath": {"path": "/var/data"}}))
    assert via_policy(NO_K8S_HOST_STORAGE, kind, props) == [
        "volume data mounts hostPath /var/data: data on the node's disk"
    ]


@pytest.mark.parametrize("kind", WORKLOADS)
def test_pvc_volume(kind, via_policy):
    props = WORKLOADS[kind](_spec_with({"name": "data", "persistentVolumeClaim": {"claimName": "uploads"}}))
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, kind, props) == ["volume data mounts PersistentVolumeClaim uploads"]


@pytest.mark.parametrize("kind", WORKLOADS)
def test_empty_dir_without_size_limit(kind, via_policy):
    props = WORKLOADS[kind](_spec_with({"name": "scratch", "emptyDir": {}}))
    assert via_policy(EMPTYDIR_SIZE_LIMIT, kind, props) == [
        "emptyDir volume scratch has no sizeLimit: scratch space can fill the node"
    ]
    assert EMPTYDIR_SIZE_LIMIT.enforcement.value == "advisory"


def test_local_and_host_path_persistent_volumes(via_policy):
    pv = "kubernetes:core/v1:PersistentVolume"
    assert via_policy(NO_K8S_HOST_STORAGE, pv, {"spec": {"csi": {"driver": "ebs.csi.aws.com"}}}) == []
    assert via_policy(NO_K8S_HOST_STORAGE, pv, {"spec": {"local": {"path": "/mnt/disks/ssd1"}}}) == [
        "PersistentVolume uses a node-local disk (local.path /mnt/disks/ssd1)"
    ]
    assert via_policy(NO_K8S_HOST_STORAGE, pv, {"spec": {"hostPath": {"path": "/data"}}}) == [
        "PersistentVolume uses hostPath /data on the node"
    ]


def test_standalone_pvc(via_policy):
    pvc = "kubernetes:core/v1:PersistentVolumeClaim"
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, pvc, {"spec": {"accessModes": ["ReadWriteOnce"]}}) == [
        "a PersistentVolumeClaim gives pods a disk of their own; keep app data in managed services"
    ]
    labelled = {"metadata": {"labels": {"stateless-guard/stateful-infra": "true"}}}
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, pvc, labelled) == []


STS = "kubernetes:apps/v1:StatefulSet"
STATEFUL_SET = {
    "metadata": {"name": "sessions"},
    "spec": {
        "serviceName": "sessions",
        "template": {"metadata": {"labels": {"app": "sessions"}}, "spec": POD_SPEC},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
    },
}
STS_MESSAGE = (
    "a StatefulSet gives each pod a sticky identity (and usually a disk); app workloads run as Deployments, "
    "stateful infrastructure carries an allow-list label"
)


def test_statefulset_for_app_workload(via_policy):
    assert via_policy(NO_APP_STATEFULSETS, STS, STATEFUL_SET) == [STS_MESSAGE]
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, STS, STATEFUL_SET) == [
        "volumeClaimTemplates creates a PersistentVolumeClaim data per pod"
    ]
    assert via_policy(NO_APP_STATEFULSETS, "kubernetes:apps/v1:Deployment", STATEFUL_SET) == []


@pytest.mark.parametrize("where", ["metadata", "template"])
def test_statefulset_allow_list(where, via_policy):
    props = copy.deepcopy(STATEFUL_SET)
    meta = props["metadata"] if where == "metadata" else props["spec"]["template"]["metadata"]
    meta["labels"] = {**meta.get("labels", {}), "stateless-guard/stateful-infra": "true"}
    assert via_policy(NO_APP_STATEFULSETS, STS, props) == []
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, STS, props) == []


def test_statefulset_allow_list_is_configurable(via_policy):
    props = copy.deepcopy(STATEFUL_SET)
    props["metadata"]["annotations"] = {"platform.example.com/tier": "database"}
    assert via_policy(NO_APP_STATEFULSETS, STS, props) == [STS_MESSAGE]
    config = {"statefulAllowList": {"platform.example.com/tier": ["database", "broker"]}}
    assert via_policy(NO_APP_STATEFULSETS, STS, props, config) == []


@pytest.mark.parametrize("key", ["initContainers", "containers", "ephemeralContainers"])
def test_every_kind_of_container_in_a_pod_is_scanned(key):
    # An init container runs in the same pod with the same volumes and environment: what is forbidden
    # in a container is forbidden there too (the secrets and datastore scans read this list).
    from policies.rules.kubernetes import containers

    spec = {key: [{"name": "only", "image": "busybox:1"}]}
    assert containers(spec) == [{"name": "only", "image": "busybox:1"}]


def test_default_enforcement_levels():
    rules = (NO_K8S_HOST_STORAGE, NO_K8S_PERSISTENT_VOLUMES, NO_APP_STATEFULSETS, EMPTYDIR_SIZE_LIMIT)
    assert [r.enforcement.value for r in rules] == ["mandatory", "mandatory", "mandatory", "advisory"]


def test_unnamed_volumes_and_claims_are_reported_with_a_question_mark(via_policy):
    deployment = "kubernetes:apps/v1:Deployment"
    spec = {
        "containers": [{"name": "web", "image": "web:1"}],
        "volumes": [{"hostPath": {}}, {"persistentVolumeClaim": {}}, {"emptyDir": {}}],
    }
    props = WORKLOADS[deployment](spec)
    assert via_policy(NO_K8S_HOST_STORAGE, deployment, props) == ["volume ? mounts hostPath ?: data on the node's disk"]
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, deployment, props) == ["volume ? mounts PersistentVolumeClaim ?"]
    assert via_policy(EMPTYDIR_SIZE_LIMIT, deployment, props) == [
        "emptyDir volume ? has no sizeLimit: scratch space can fill the node"
    ]
    sts = copy.deepcopy(STATEFUL_SET)
    sts["spec"]["volumeClaimTemplates"] = [{"spec": {}}]
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, STS, sts) == [
        "volumeClaimTemplates creates a PersistentVolumeClaim ? per pod"
    ]


@pytest.mark.parametrize("kind", ["kubernetes:core/v1:Pod", "kubernetes:batch/v1:CronJob"])
def test_a_pod_or_cronjob_has_no_pod_template_to_allow_list(kind, via_policy):
    # spec.template means nothing on these kinds: a label there exempts nothing.
    spec = _spec_with({"name": "data", "persistentVolumeClaim": {"claimName": "data"}})
    props = WORKLOADS[kind](spec)
    props["spec"]["template"] = {"metadata": {"labels": {"stateless-guard/stateful-infra": "true"}}}
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, kind, props) == ["volume data mounts PersistentVolumeClaim data"]
    props["metadata"] = {"labels": {"stateless-guard/stateful-infra": "true"}}
    assert via_policy(NO_K8S_PERSISTENT_VOLUMES, kind, props) == []

"""Rules against state inside Kubernetes workloads: node-local volumes (hostPath, local
PersistentVolumes), persistent volume claims and StatefulSets for app workloads, and emptyDir
scratch space without a size limit.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import Rule, get, items, known

_WORKLOAD = re.compile(
    r"^kubernetes:(apps|extensions|batch|core)/v[0-9a-z]+:"
    r"(Deployment|StatefulSet|DaemonSet|ReplicaSet|Pod|Job|CronJob|ReplicationController|PodTemplate)(Patch)?$"
)
_STATEFUL_SET = re.compile(r"^kubernetes:apps/v[0-9a-z]+:StatefulSet(Patch)?$")
PERSISTENT_VOLUME = "kubernetes:core/v1:PersistentVolume"
PERSISTENT_VOLUME_CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"

WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "Job",
    "CronJob",
    "ReplicationController",
    "PodTemplate",
)


def is_workload(resource_type: str) -> bool:
    return bool(_WORKLOAD.match(resource_type))


def _kind(resource_type: str) -> str:
    return resource_type.rpartition(":")[2].removesuffix("Patch")


def pod_spec(resource_type: str, props: dict[str, Any]) -> Any:
    kind = _kind(resource_type)
    if kind == "Pod":
        return get(props, "spec")
    if kind == "CronJob":
        return get(props, "spec", "jobTemplate", "spec", "template", "spec")
    if kind == "PodTemplate":
        return get(props, "template", "spec")
    return get(props, "spec", "template", "spec")


def containers(spec: Any) -> list[dict[str, Any]]:
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in items(get(spec, key))
        if isinstance(c, dict)
    ]


def allow_listed(props: dict[str, Any], config: dict[str, Any], resource_type: str) -> bool:
    """Labels or annotations (on the object or its pod template) that mark genuinely stateful infra."""
    allowed: dict[str, Any] = config.get("statefulAllowList") or {}
    places = [get(props, "metadata")]
    if _kind(resource_type) not in ("Pod", "CronJob"):
        places.append(get(props, "spec", "template", "metadata"))
    for meta in places:
        for field in ("labels", "annotations"):
            marks = get(meta, field)
            if not isinstance(marks, dict):
                continue
            for key, values in allowed.items():
                value = marks.get(key)
                if isinstance(value, str) and value in values:
                    return True
    return False


def _volumes(resource_type: str, props: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in items(get(pod_spec(resource_type, props), "volumes")) if isinstance(v, dict)]


def check_host_storage(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if resource_type == PERSISTENT_VOLUME:
        found = []
        if known(get(props, "spec", "local")):
            found.append(f"PersistentVolume uses a node-local disk (local.path {get(props, 'spec', 'local', 'path')})")
        if known(get(props, "spec", "hostPath")):
            found.append(f"PersistentVolume uses hostPath {get(props, 'spec', 'hostPath', 'path')} on the node")
        return found
    return [
        f"volume {v.get('name', '?')} mounts hostPath {get(v, 'hostPath', 'path', default='?')}: "
        "data on the node's disk"
        for v in _volumes(resource_type, props)
        if known(v.get("hostPath"))
    ]


def check_persistent_volumes(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if allow_listed(props, config, resource_type):
        return []
    if resource_type == PERSISTENT_VOLUME_CLAIM:
        return ["a PersistentVolumeClaim gives pods a disk of their own; keep app data in managed services"]
    found = [
        f"volume {v.get('name', '?')} mounts PersistentVolumeClaim "
        f"{get(v, 'persistentVolumeClaim', 'claimName', default='?')}"
        for v in _volumes(resource_type, props)
        if known(v.get("persistentVolumeClaim"))
    ]
    if is_stateful_set(resource_type):
        for template in items(get(props, "spec", "volumeClaimTemplates")):
            name = get(template, "metadata", "name", default="?")
            found.append(f"volumeClaimTemplates creates a PersistentVolumeClaim {name} per pod")
    return found


def check_statefulsets(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if allow_listed(props, config, resource_type):
        return []
    return [
        "a StatefulSet gives each pod a sticky identity (and usually a disk); app workloads run as "
        "Deployments, stateful infrastructure carries an allow-list label"
    ]


def check_empty_dir(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    return [
        f"emptyDir volume {v.get('name', '?')} has no sizeLimit: scratch space can fill the node"
        for v in _volumes(resource_type, props)
        if isinstance(v.get("emptyDir"), dict) and get(v, "emptyDir", "sizeLimit") is None
    ]


def is_stateful_set(resource_type: str) -> bool:
    return bool(_STATEFUL_SET.match(resource_type))


def _workload_or_pv(resource_type: str) -> bool:
    return resource_type == PERSISTENT_VOLUME or is_workload(resource_type)


def _workload_or_pvc(resource_type: str) -> bool:
    return resource_type == PERSISTENT_VOLUME_CLAIM or is_workload(resource_type)


_STATEFUL_ALLOW_LIST = {
    "statefulAllowList": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "default": {"stateless-guard/stateful-infra": ["true"]},
        "description": "Label or annotation key to values that mark genuinely stateful infrastructure "
        "(a database operator, a message broker) as exempt.",
    }
}

NO_K8S_HOST_STORAGE = Rule(
    name="no-k8s-host-storage",
    description="Pods may not keep data on the node: no hostPath volumes, no local or hostPath PersistentVolumes.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="Node disks vanish with the node and tie a pod to one machine; hostPath also breaks isolation.",
    remediation="Remove hostPath / local volumes; use managed data stores, or emptyDir with a sizeLimit "
    "for scratch space.",
    resource_types=_workload_or_pv,
    check=check_host_storage,
    tags=("statelessness", "kubernetes"),
)

NO_K8S_PERSISTENT_VOLUMES = Rule(
    name="no-k8s-persistent-volumes",
    description="App workloads may not mount PersistentVolumeClaims.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A PVC gives a pod a disk of its own (usually one zone's EBS volume): the pod can no longer be "
    "rescheduled freely and its data is outside the managed, backed-up stores.",
    remediation="Keep app data in RDS/ElastiCache/S3; label genuinely stateful infrastructure with an "
    "allow-listed label (policy config statefulAllowList).",
    resource_types=_workload_or_pvc,
    check=check_persistent_volumes,
    config=_STATEFUL_ALLOW_LIST,
    tags=("statelessness", "kubernetes"),
)

NO_APP_STATEFULSETS = Rule(
    name="no-app-statefulsets",
    description="App workloads run as Deployments, not StatefulSets.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="StatefulSets exist to give pods identity and storage; an app that needs them is keeping state.",
    remediation="Use a Deployment; label genuinely stateful infrastructure with an allow-listed label "
    "(policy config statefulAllowList).",
    resource_types=is_stateful_set,
    check=check_statefulsets,
    config=_STATEFUL_ALLOW_LIST,
    tags=("statelessness", "kubernetes"),
)

EMPTYDIR_SIZE_LIMIT = Rule(
    name="emptydir-size-limit",
    description="emptyDir volumes declare a sizeLimit.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Unbounded scratch space invites using it as storage and can evict neighbours when the node fills.",
    remediation="Set emptyDir.sizeLimit (e.g. 64Mi) on every emptyDir volume.",
    resource_types=is_workload,
    check=check_empty_dir,
    tags=("statelessness", "kubernetes"),
)

RULES = (NO_K8S_HOST_STORAGE, NO_K8S_PERSISTENT_VOLUMES, NO_APP_STATEFULSETS, EMPTYDIR_SIZE_LIMIT)

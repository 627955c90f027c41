"""A datastore running as an app container: Kubernetes workloads of every kind, ECS task definitions,
Docker provider containers, App Runner services, Lightsail container deployments and Batch job
definitions.

The commonest tutorial way to keep state is a `redis`, `postgres`, `mysql` or `mongo` image next to
the app, in a Deployment or a task definition, usually without any volume: the data lives in the
container and dies with it, and every replica has its own. Images are judged by name (see
`images.py`); a team declares an image stateless in `allowedImages` (a glob and the reason), and a
Kubernetes workload that is deliberately stateful infrastructure carries the `statefulAllowList`
label the other Kubernetes rules honour. A run-to-completion container (a Kubernetes Job or CronJob, a
Batch job) whose command starts no server uses the image for its client tools (`pg_dump`, `psql`,
`redis-cli`) and passes. Volumes are the volume rules' business
(`no-k8s-persistent-volumes`, `no-ecs-host-volumes`, ...): a datastore container is reported with or
without one, and the message says where its data lives.

Property names are pulumi-aws v7's (`apprunner.Service.sourceConfiguration.imageRepository.
imageIdentifier`, `lightsail.ContainerServiceDeploymentVersion.containers[].image`,
`batch.JobDefinition.containerProperties` / `ecsProperties` / `nodeProperties` as JSON strings and
`eksProperties.podProperties.containers[]`), pulumi-docker v4's (`docker.Container.image`, `volumes[]`
with `hostPath`, `mounts[]` with `type: bind`) and pulumi-kubernetes'. Not judged: Elastic Beanstalk's
`Dockerrun.aws.json`, which lives in the application version's source bundle in S3, outside the
program's properties.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, get, items, json_value, type_set
from .images import allowed_image, holds_unknown, is_datastore_image, not_known
from .kubernetes import allow_listed, containers, is_workload, pod_spec

ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"
DOCKER_CONTAINER = "docker:index/container:Container"
APP_RUNNER = "aws:apprunner/service:Service"
LIGHTSAIL_DEPLOYMENT = "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion"
BATCH_JOB = "aws:batch/jobDefinition:JobDefinition"

CONTAINER_TYPES = type_set(ECS_TASK, DOCKER_CONTAINER, APP_RUNNER, LIGHTSAIL_DEPLOYMENT, BATCH_JOB)


# Server programs: a run-to-completion container whose command names none of them uses a datastore
# image for its client tools (`pg_dump`, `psql`, `redis-cli`, `mongodump`), not to serve.
_SERVER_WORDS = re.compile(
    r"(?<![\w-])(postgres|redis-server|valkey-server|keydb-server|mongod|mysqld|mariadbd|memcached|"
    r"rabbitmq-server|kafka-server-start(\.sh)?|zookeeper-server-start(\.sh)?|etcd|minio|influxd|neo4j|"
    r"clickhouse-server|docker-entrypoint\.sh)(?![\w-])"
)


def _client_run(command: Any) -> bool:
    """A command that is set and starts no server (a Job's `pg_dump`, a Batch job's `psql -f`)."""
    if isinstance(command, str):
        words = command.strip()
    elif isinstance(command, list) and all(isinstance(w, str) for w in command):
        words = " ".join(command)
    else:
        return False
    return bool(words) and not _SERVER_WORDS.search(words)


class _Images:
    """The images a resource runs, each with where it is declared and where its data would live."""

    def __init__(self, runs_to_completion: bool) -> None:
        self.found: list[tuple[str, str, str]] = []
        self.unknown: list[str] = []
        self.runs_to_completion = runs_to_completion

    def add(self, image: Any, where: str, holder: str, path: str, command: Any = None) -> None:
        if self.runs_to_completion and _client_run(command):
            return
        if image is UNKNOWN or holds_unknown(image):
            self.unknown.append(path)
        elif isinstance(image, str) and image.strip():
            self.found.append((image.strip(), where, holder))

    def json(self, document: Any, path: str) -> Any:
        """A JSON string property; an unknown one (or one that is not JSON because an unknown was
        spliced into it) is noted, and nothing is read from it."""
        if document is UNKNOWN or (holds_unknown(document) and json_value(document) is None):
            self.unknown.append(path)
            return None
        return json_value(document)


def _kubernetes(resource_type: str, props: dict[str, Any], images: _Images) -> None:
    spec = pod_spec(resource_type, props)
    if spec is UNKNOWN:
        images.unknown.append("spec")
        return
    for key in ("initContainers", "containers", "ephemeralContainers"):
        if get(spec, key) is UNKNOWN:
            images.unknown.append(f"spec.{key}")
    volumes = {v.get("name"): v for v in items(get(spec, "volumes")) if isinstance(v, dict)}
    for container in containers(spec):
        name = container.get("name", "?")
        # `args` alone are arguments to the image's own entrypoint, the server.
        command = (
            [*items(container.get("command")), *items(container.get("args"))] if container.get("command") else None
        )
        holder = _pod_holder(container, volumes)
        images.add(container.get("image"), f"container {name}", holder, f"{name}.image", command)


def _pod_holder(container: dict[str, Any], volumes: dict[Any, dict[str, Any]]) -> str:
    kinds = []
    for mount in items(container.get("volumeMounts")):
        volume = volumes.get(get(mount, "name"), {})
        for kind in ("persistentVolumeClaim", "hostPath"):
            if kind in volume and kind not in kinds:
                kinds.append(kind)
    if "persistentVolumeClaim" in kinds:
        return "a PersistentVolumeClaim of the pod's own"
    if "hostPath" in kinds:
        return "the node's disk"
    return "the pod (gone when it is rescheduled)"


def _ecs(props: dict[str, Any], images: _Images) -> None:
    definitions = images.json(props.get("containerDefinitions"), "containerDefinitions")
    volumes = {v.get("name"): v for v in items(props.get("volumes")) if isinstance(v, dict)}
    for container in items(definitions):
        if not isinstance(container, dict):
            continue
        name = container.get("name", "?")
        holder = "the task (gone when it stops)"
        for mount in items(container.get("mountPoints")):
            volume = volumes.get(get(mount, "sourceVolume"), {})
            if volume.get("efsVolumeConfiguration"):
                holder = "a shared EFS file system"
            elif volume.get("hostPath") or get(volume, "dockerVolumeConfiguration", "scope") == "shared":
                holder = "the container instance's disk"
        images.add(container.get("image"), f"container {name}", holder, f"containerDefinitions.{name}.image")


def _docker(props: dict[str, Any], images: _Images) -> None:
    host_paths = [get(v, "hostPath") for v in items(props.get("volumes")) if isinstance(get(v, "hostPath"), str)]
    host_paths += [
        get(m, "source") for m in items(props.get("mounts")) if get(m, "type") == "bind" and get(m, "source")
    ]
    holder = f"the Docker host's disk ({', '.join(map(str, host_paths))})" if host_paths else "the container"
    image = props.get("image")
    if isinstance(image, str) and image.startswith("sha256:"):
        # An image id (`RemoteImage.image_id`) names no repository: which image it is cannot be told here.
        images.unknown.append("image")
        return
    images.add(image, f"Docker container {props.get('name') or ''}".rstrip(), holder, "image")


def _batch(props: dict[str, Any], images: _Images) -> None:
    holder = "the job's container"
    container = images.json(props.get("containerProperties"), "containerProperties")
    images.add(get(container, "image"), "job container", holder, "containerProperties.image", get(container, "command"))
    ecs = images.json(props.get("ecsProperties"), "ecsProperties")
    for task in items(get(ecs, "taskProperties")):
        for c in items(get(task, "containers")):
            name = get(c, "name", default="?")
            images.add(
                get(c, "image"), f"job container {name}", holder, f"ecsProperties.{name}.image", get(c, "command")
            )
    nodes = images.json(props.get("nodeProperties"), "nodeProperties")
    for node_range in items(get(nodes, "nodeRangeProperties")):
        target = get(node_range, "targetNodes", default="?")
        container = get(node_range, "container")
        images.add(
            get(container, "image"), f"node range {target}", holder, "nodeProperties.image", get(container, "command")
        )
    for c in items(get(props, "eksProperties", "podProperties", "containers")):
        name = get(c, "name", default="?")
        command = [*items(get(c, "commands")), *items(get(c, "args"))] if get(c, "commands") else None
        images.add(get(c, "image"), f"job container {name}", holder, f"eksProperties.{name}.image", command)


def _runs_to_completion(resource_type: str) -> bool:
    return resource_type == BATCH_JOB or (is_workload(resource_type) and _JOB_KIND.search(resource_type) is not None)


_JOB_KIND = re.compile(r":(Job|CronJob)(Patch)?$")


def _images(resource_type: str, props: dict[str, Any]) -> _Images:
    images = _Images(_runs_to_completion(resource_type))
    if resource_type == ECS_TASK:
        _ecs(props, images)
    elif resource_type == DOCKER_CONTAINER:
        _docker(props, images)
    elif resource_type == APP_RUNNER:
        image = get(props, "sourceConfiguration", "imageRepository", "imageIdentifier")
        images.add(image, "App Runner service", "the service instance", "imageIdentifier")
    elif resource_type == LIGHTSAIL_DEPLOYMENT:
        for c in items(props.get("containers")):
            name = get(c, "containerName", default="?")
            images.add(get(c, "image"), f"container {name}", "the container service node", f"{name}.image")
    elif resource_type == BATCH_JOB:
        _batch(props, images)
    else:
        _kubernetes(resource_type, props, images)
    return images


def check_datastore_containers(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if is_workload(resource_type) and allow_listed(props, config, resource_type):
        return []
    images = _images(resource_type, props)
    allowed = config.get("allowedImages")
    extra = [p for p in config.get("datastoreImages") or [] if isinstance(p, str)]
    found = []
    for image, where, holder in images.found:
        is_store = is_datastore_image(image) or allowed_image(image, dict.fromkeys(extra)) is not None
        if is_store and allowed_image(image, allowed) is None:
            found.append(
                f"{where} runs datastore image {image}: its data lives on {holder}, one copy per replica; use the "
                "managed service (RDS, ElastiCache, Amazon MQ, ...) or declare the image stateless in allowedImages"
            )
    if not found and images.unknown:
        not_known(images.unknown[0])
    return found


def _container_types(resource_type: str) -> bool:
    return resource_type in CONTAINER_TYPES or is_workload(resource_type)


NO_DATASTORE_CONTAINERS = Rule(
    name="no-datastore-containers",
    description="No database, cache or queue server runs as an app container (Kubernetes, ECS, Docker, "
    "App Runner, Lightsail, Batch).",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A Redis, PostgreSQL or MongoDB container next to the app is state in a replica: a rescheduled pod "
    "or a stopped task starts empty (sessions and carts gone), replicas diverge, and nothing backs it up.",
    remediation="Use the managed service (RDS, ElastiCache, Amazon MQ, MSK, OpenSearch) and connect to it; "
    "declare an image that keeps nothing in allowedImages with the reason, or label deliberately stateful "
    "Kubernetes infrastructure (statefulAllowList).",
    resource_types=_container_types,
    check=check_datastore_containers,
    config={
        "allowedImages": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
            "default": {},
            "description": "Image glob (as written, registry and tag included, e.g. `*/acme/render-cache:*`) "
            "to the reason the team declares it stateless.",
        },
        "datastoreImages": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Extra image globs that are datastores (a team's own build of one).",
        },
        "statefulAllowList": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": {"stateless-guard/stateful-infra": ["true"]},
            "description": "Label or annotation key to values that mark a Kubernetes workload as genuinely "
            "stateful infrastructure (a database operator's cluster), as for no-k8s-persistent-volumes.",
        },
    },
    tags=("statelessness", "containers", "kubernetes", "ecs"),
)

RULES = (NO_DATASTORE_CONTAINERS,)

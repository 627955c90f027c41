"""no-datastore-containers: a database, cache or queue image wherever a container is defined."""

import copy
import json

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UnknownValueError

from policies.rules.containers import NO_DATASTORE_CONTAINERS as RULE

UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDIS = "public.ecr.aws/docker/library/redis:7.2-alpine"
ADVICE = (
    "one copy per replica; use the managed service (RDS, ElastiCache, Amazon MQ, ...) or declare the image "
    "stateless in allowedImages"
)


def _msg(where: str, image: str, holder: str) -> str:
    return f"{where} runs datastore image {image}: its data lives on {holder}, {ADVICE}"


def test_default_enforcement_is_mandatory():
    assert RULE.enforcement == EnforcementLevel.MANDATORY
    assert RULE.policy().enforcement_level == EnforcementLevel.MANDATORY
    assert RULE.settings()["allowedImages"] == {}
    assert RULE.settings()["datastoreImages"] == []


POD = {"containers": [{"name": "web", "image": "registry/app:1.2.3"}]}
K8S = {
    "kubernetes:apps/v1:Deployment": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:apps/v1:StatefulSet": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:apps/v1:DaemonSet": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:apps/v1:ReplicaSet": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:core/v1:ReplicationController": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:batch/v1:Job": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:batch/v1:CronJob": lambda s: {"spec": {"jobTemplate": {"spec": {"template": {"spec": s}}}}},
    "kubernetes:core/v1:Pod": lambda s: {"spec": s},
    "kubernetes:core/v1:PodTemplate": lambda s: {"template": {"spec": s}},
    "kubernetes:apps/v1:DeploymentPatch": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:apps/v1:StatefulSetPatch": lambda s: {"spec": {"template": {"spec": s}}},
    "kubernetes:batch/v1:CronJobPatch": lambda s: {"spec": {"jobTemplate": {"spec": {"template": {"spec": s}}}}},
    "kubernetes:core/v1:PodPatch": lambda s: {"spec": s},
}


def _pod_with(container, **extra):
    spec = copy.deepcopy(POD)
    spec["containers"].append(container)
    spec.update(extra)
    return spec


@pytest.mark.parametrize("kind", K8S)
def test_kubernetes_workload_without_a_datastore_passes(kind, via_policy):
    assert via_policy(RULE, kind, K8S[kind](POD)) == []


@pytest.mark.parametrize("kind", K8S)
def test_kubernetes_datastore_container_in_every_workload_kind(kind, via_policy):
    props = K8S[kind](_pod_with({"name": "leader", "image": "redis"}))
    assert via_policy(RULE, kind, props) == [_msg("container leader", "redis", "the pod (gone when it is rescheduled)")]


@pytest.mark.parametrize("key", ["initContainers", "ephemeralContainers"])
def test_init_and_ephemeral_containers_count(key, via_policy):
    spec = copy.deepcopy(POD)
    spec[key] = [{"name": "db", "image": "postgres:16"}]
    props = K8S["kubernetes:apps/v1:Deployment"](spec)
    assert via_policy(RULE, "kubernetes:apps/v1:Deployment", props) == [
        _msg("container db", "postgres:16", "the pod (gone when it is rescheduled)")
    ]


@pytest.mark.parametrize(
    ("volume", "holder"),
    [
        ({"persistentVolumeClaim": {"claimName": "data"}}, "a PersistentVolumeClaim of the pod's own"),
        ({"hostPath": {"path": "/srv/pg"}}, "the node's disk"),
        ({"emptyDir": {}}, "the pod (gone when it is rescheduled)"),
    ],
)
def test_kubernetes_message_says_where_the_data_lives(volume, holder, via_policy):
    container = {"name": "db", "image": "postgres:16", "volumeMounts": [{"name": "data", "mountPath": "/var/lib"}]}
    spec = _pod_with(container, volumes=[{"name": "data", **volume}])
    props = K8S["kubernetes:apps/v1:Deployment"](spec)
    assert via_policy(RULE, "kubernetes:apps/v1:Deployment", props) == [_msg("container db", "postgres:16", holder)]


def test_stateful_allow_list_label_exempts_a_workload(via_policy):
    kind = "kubernetes:apps/v1:StatefulSet"
    props = K8S[kind](_pod_with({"name": "db", "image": "postgres:16"}))
    props["metadata"] = {"labels": {"stateless-guard/stateful-infra": "true"}}
    assert via_policy(RULE, kind, props) == []
    props["metadata"] = {"labels": {"stateless-guard/stateful-infra": "false"}}
    assert len(via_policy(RULE, kind, props)) == 1


def test_allowed_images_exempt_with_a_reason(via_policy):
    kind = "kubernetes:apps/v1:Deployment"
    props = K8S[kind](_pod_with({"name": "cache", "image": "memcached:1.6"}))
    assert len(via_policy(RULE, kind, props)) == 1
    config = {"allowedImages": {"memcached:*": "caches rendered pages only; sessions are in ElastiCache"}}
    assert via_policy(RULE, kind, props, config) == []
    assert len(via_policy(RULE, kind, props, {"allowedImages": {"redis:*": "x"}})) == 1


def test_datastore_images_add_a_teams_own_build(via_policy):
    kind = "kubernetes:apps/v1:Deployment"
    props = K8S[kind](_pod_with({"name": "kv", "image": "ghcr.io/acme/kvstore:3"}))
    assert via_policy(RULE, kind, props) == []
    assert via_policy(RULE, kind, props, {"datastoreImages": ["*/acme/kvstore:*"]}) == [
        _msg("container kv", "ghcr.io/acme/kvstore:3", "the pod (gone when it is rescheduled)")
    ]


def test_kubernetes_unknown_image_is_not_judged(via_policy):
    kind = "kubernetes:apps/v1:Deployment"
    props = K8S[kind](_pod_with({"name": "x", "image": UNKNOWN_VALUE}))
    with pytest.raises(UnknownValueError):
        via_policy(RULE, kind, props)


def test_kubernetes_unknown_container_list_is_not_judged(via_policy):
    kind = "kubernetes:apps/v1:Deployment"
    with pytest.raises(UnknownValueError):
        via_policy(RULE, kind, K8S[kind]({"containers": UNKNOWN_VALUE}))
    with pytest.raises(UnknownValueError):
        via_policy(RULE, kind, {"spec": {"template": UNKNOWN_VALUE}})


def test_a_known_datastore_is_reported_beside_an_unknown_image(via_policy):
    kind = "kubernetes:apps/v1:Deployment"
    spec = _pod_with({"name": "x", "image": UNKNOWN_VALUE})
    spec["containers"].append({"name": "db", "image": "mysql:8"})
    assert via_policy(RULE, kind, K8S[kind](spec)) == [
        _msg("container db", "mysql:8", "the pod (gone when it is rescheduled)")
    ]


ECS = "aws:ecs/taskDefinition:TaskDefinition"
APP_CONTAINER = {"name": "web", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1", "essential": True}


def _task(*containers, volumes=None):
    props = {"family": "app", "containerDefinitions": json.dumps([APP_CONTAINER, *containers])}
    if volumes is not None:
        props["volumes"] = volumes
    return props


def test_ecs_task_without_a_datastore_passes(via_policy):
    assert via_policy(RULE, ECS, _task()) == []


def test_ecs_datastore_container(via_policy):
    props = _task({"name": "redis-container", "image": "redis:alpine", "memory": 512})
    assert via_policy(RULE, ECS, props) == [
        _msg("container redis-container", "redis:alpine", "the task (gone when it stops)")
    ]


def test_ecs_container_definitions_given_as_a_list(via_policy):
    props = {"containerDefinitions": [APP_CONTAINER, {"name": "db", "image": "postgres:16"}]}
    assert via_policy(RULE, ECS, props) == [_msg("container db", "postgres:16", "the task (gone when it stops)")]


@pytest.mark.parametrize(
    ("volume", "holder"),
    [
        ({"hostPath": "/srv/redis"}, "the container instance's disk"),
        ({"dockerVolumeConfiguration": {"scope": "shared"}}, "the container instance's disk"),
        ({"efsVolumeConfiguration": {"fileSystemId": "fs-1"}}, "a shared EFS file system"),
        ({"dockerVolumeConfiguration": {"scope": "task"}}, "the task (gone when it stops)"),
    ],
)
def test_ecs_message_says_where_the_data_lives(volume, holder, via_policy):
    container = {"name": "db", "image": "redis:7", "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]}
    props = _task(container, volumes=[{"name": "data", **volume}])
    assert via_policy(RULE, ECS, props) == [_msg("container db", "redis:7", holder)]


def test_ecs_unknown_definitions_are_not_judged(via_policy):
    with pytest.raises(UnknownValueError):
        via_policy(RULE, ECS, {"containerDefinitions": UNKNOWN_VALUE})
    with pytest.raises(UnknownValueError):
        via_policy(RULE, ECS, _task({"name": "x", "image": UNKNOWN_VALUE}))
    with pytest.raises(UnknownValueError):
        via_policy(RULE, ECS, {"containerDefinitions": f'[{{"name": "x", "image": {UNKNOWN_VALUE}}}]'})


def test_ecs_definitions_that_are_not_json_are_not_a_finding(via_policy):
    assert via_policy(RULE, ECS, {"containerDefinitions": "[{not json"}) == []


DOCKER = "docker:index/container:Container"


def test_docker_container(via_policy):
    assert via_policy(RULE, DOCKER, {"name": "web", "image": "nginx:1.27"}) == []
    assert via_policy(RULE, DOCKER, {"name": "db", "image": "postgres:16"}) == [
        _msg("Docker container db", "postgres:16", "the container")
    ]


def test_docker_container_with_host_paths(via_policy):
    props = {
        "image": "docker.io/library/mongo:7",
        "volumes": [{"hostPath": "/srv/mongo", "containerPath": "/data/db"}, {"volumeName": "v"}],
        "mounts": [{"type": "bind", "source": "/srv/cfg", "target": "/cfg"}, {"type": "tmpfs", "target": "/t"}],
    }
    assert via_policy(RULE, DOCKER, props) == [
        _msg("Docker container", "docker.io/library/mongo:7", "the Docker host's disk (/srv/mongo, /srv/cfg)")
    ]


def test_docker_container_with_an_unknown_image_is_not_judged(via_policy):
    with pytest.raises(UnknownValueError):
        via_policy(RULE, DOCKER, {"image": UNKNOWN_VALUE})


APP_RUNNER = "aws:apprunner/service:Service"


def _app_runner(image):
    return {"sourceConfiguration": {"imageRepository": {"imageIdentifier": image, "imageRepositoryType": "ECR_PUBLIC"}}}


def test_app_runner(via_policy):
    assert via_policy(RULE, APP_RUNNER, _app_runner("public.ecr.aws/acme/web:1")) == []
    assert via_policy(RULE, APP_RUNNER, _app_runner(REDIS)) == [
        _msg("App Runner service", REDIS, "the service instance")
    ]
    assert via_policy(RULE, APP_RUNNER, {"sourceConfiguration": {"codeRepository": {"repositoryUrl": "x"}}}) == []
    with pytest.raises(UnknownValueError):
        via_policy(RULE, APP_RUNNER, _app_runner(UNKNOWN_VALUE))


LIGHTSAIL = "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion"


def test_lightsail_container_deployment(via_policy):
    web = {"containerName": "web", "image": "nginx:1.27"}
    assert via_policy(RULE, LIGHTSAIL, {"containers": [web]}) == []
    db = {"containerName": "db", "image": "mysql:8"}
    assert via_policy(RULE, LIGHTSAIL, {"containers": [web, db]}) == [
        _msg("container db", "mysql:8", "the container service node")
    ]
    with pytest.raises(UnknownValueError):
        via_policy(RULE, LIGHTSAIL, {"containers": [web, {"containerName": "x", "image": UNKNOWN_VALUE}]})


BATCH = "aws:batch/jobDefinition:JobDefinition"


def test_batch_job_definitions(via_policy):
    job = "the job's container"
    assert via_policy(RULE, BATCH, {"containerProperties": json.dumps({"image": "acme/etl:1"})}) == []
    assert via_policy(RULE, BATCH, {"containerProperties": json.dumps({"image": "postgres:16"})}) == [
        _msg("job container", "postgres:16", job)
    ]
    ecs = {"taskProperties": [{"containers": [{"name": "kv", "image": "valkey/valkey:8"}]}]}
    assert via_policy(RULE, BATCH, {"ecsProperties": json.dumps(ecs)}) == [
        _msg("job container kv", "valkey/valkey:8", job)
    ]
    nodes = {"nodeRangeProperties": [{"targetNodes": "0:", "container": {"image": "cassandra:5"}}]}
    assert via_policy(RULE, BATCH, {"nodeProperties": json.dumps(nodes)}) == [_msg("node range 0:", "cassandra:5", job)]
    eks = {"podProperties": {"containers": [{"name": "q", "image": "rabbitmq:3"}]}}
    assert via_policy(RULE, BATCH, {"eksProperties": eks}) == [_msg("job container q", "rabbitmq:3", job)]
    for key in ("containerProperties", "ecsProperties", "nodeProperties"):
        with pytest.raises(UnknownValueError):
            via_policy(RULE, BATCH, {key: UNKNOWN_VALUE})


@pytest.mark.parametrize(
    "resource_type",
    ["aws:ec2/instance:Instance", "kubernetes:core/v1:Service", "aws:ecs/service:Service", "docker:index/image:Image"],
)
def test_other_types_are_not_judged(resource_type):
    assert not RULE.applies_to(resource_type)


JOB_KINDS = ["kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:batch/v1:JobPatch"]
K8S["kubernetes:batch/v1:JobPatch"] = K8S["kubernetes:batch/v1:Job"]


@pytest.mark.parametrize("kind", JOB_KINDS)
@pytest.mark.parametrize(
    "container",
    [
        {"command": ["pg_dump", "-h", "db.internal", "-f", "/backup/app.sql"]},
        {"command": ["sh", "-c"], "args": ["psql -h db.internal -f /migrations/001.sql"]},
        {"command": ["redis-cli", "-h", "cache.internal", "FLUSHDB"]},
    ],
)
def test_a_job_using_a_datastore_image_for_its_client_tools_passes(kind, container, via_policy):
    props = K8S[kind](_pod_with({"name": "backup", "image": "postgres:16", **container}))
    assert via_policy(RULE, kind, props) == []


@pytest.mark.parametrize("kind", JOB_KINDS)
@pytest.mark.parametrize(
    "container",
    [
        {},
        {"args": ["-c", "max_connections=200"]},
        {"command": ["docker-entrypoint.sh", "postgres"]},
        {"command": ["sh", "-c"], "args": ["redis-server --save ''"]},
    ],
)
def test_a_job_running_the_server_is_reported(kind, container, via_policy):
    props = K8S[kind](_pod_with({"name": "db", "image": "postgres:16", **container}))
    assert via_policy(RULE, kind, props) == [
        _msg("container db", "postgres:16", "the pod (gone when it is rescheduled)")
    ]


def test_a_long_running_workload_with_a_client_command_is_still_reported(via_policy):
    kind = "kubernetes:apps/v1:Deployment"
    props = K8S[kind](_pod_with({"name": "db", "image": "postgres:16", "command": ["pg_dump"]}))
    assert len(via_policy(RULE, kind, props)) == 1


@pytest.mark.parametrize(
    ("props", "reported"),
    [
        ({"containerProperties": json.dumps({"image": "postgres:16", "command": ["pg_dump", "-f", "/o"]})}, False),
        ({"containerProperties": json.dumps({"image": "postgres:16", "command": ["postgres"]})}, True),
        (
            {
                "ecsProperties": json.dumps(
                    {"taskProperties": [{"containers": [{"image": "mysql:8", "command": ["mysqldump"]}]}]}
                )
            },
            False,
        ),
        (
            {
                "nodeProperties": json.dumps(
                    {"nodeRangeProperties": [{"container": {"image": "mongo:7", "command": ["mongodump"]}}]}
                )
            },
            False,
        ),
        (
            {"eksProperties": {"podProperties": {"containers": [{"image": "redis:7", "commands": ["redis-cli"]}]}}},
            False,
        ),
        ({"eksProperties": {"podProperties": {"containers": [{"image": "redis:7", "args": ["--save", ""]}]}}}, True),
    ],
)
def test_batch_client_commands(props, reported, via_policy):
    assert bool(via_policy(RULE, BATCH, props)) is reported


@pytest.mark.parametrize(
    ("command", "client"),
    [
        (["pg_dump", "-f", "/o"], True),
        ("mysqldump orders", True),
        (["sh", "-c", "exec postgres -c fsync=off"], False),
        ("docker-entrypoint.sh mysqld", False),
        (["redis-server"], False),
        ([], False),
        ("", False),
        (None, False),
        (["pg_dump", 5], False),
    ],
)
def test_client_run(command, client):
    from policies.rules.containers import _client_run

    assert _client_run(command) is client


def test_docker_container_run_by_image_id_is_not_judged(via_policy):
    with pytest.raises(UnknownValueError):
        via_policy(RULE, DOCKER, {"image": "sha256:4c1a3f0e7b2d9a8c6e5f4d3b2a1c0e9f8d7c6b5a4e3d2c1b0a9f8e7d6c5b4a3f"})
    assert via_policy(RULE, DOCKER, {"image": "nginx@sha256:4c1a3f0e"}) == []


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _batch_ecs(container):
    return {"ecsProperties": json.dumps({"taskProperties": [{"containers": [container]}]})}


@pytest.mark.parametrize(
    ("resource_type", "props", "path"),
    [
        (BATCH, {"containerProperties": UNKNOWN_VALUE}, "containerProperties"),
        (BATCH, {"containerProperties": json.dumps({"image": UNKNOWN_VALUE})}, "containerProperties.image"),
        (BATCH, {"ecsProperties": UNKNOWN_VALUE}, "ecsProperties"),
        (BATCH, _batch_ecs({"name": "kv", "image": UNKNOWN_VALUE}), "ecsProperties.kv.image"),
        (BATCH, _batch_ecs({"image": UNKNOWN_VALUE}), "ecsProperties.?.image"),
        (BATCH, {"nodeProperties": UNKNOWN_VALUE}, "nodeProperties"),
        (
            BATCH,
            {"nodeProperties": json.dumps({"nodeRangeProperties": [{"container": {"image": UNKNOWN_VALUE}}]})},
            "nodeProperties.image",
        ),
        (
            BATCH,
            {"eksProperties": {"podProperties": {"containers": [{"image": UNKNOWN_VALUE}]}}},
            "eksProperties.?.image",
        ),
        (DOCKER, {"image": UNKNOWN_VALUE}, "image"),
        (DOCKER, {"image": "sha256:0f1e2d3c"}, "image"),
        (ECS, {"containerDefinitions": UNKNOWN_VALUE}, "containerDefinitions"),
        (ECS, _task({"image": UNKNOWN_VALUE}), "containerDefinitions.?.image"),
        (APP_RUNNER, _app_runner(UNKNOWN_VALUE), "imageIdentifier"),
        (LIGHTSAIL, {"containers": [{"image": UNKNOWN_VALUE}]}, "?.image"),
        (DEPLOYMENT, {"spec": {"template": {"spec": UNKNOWN_VALUE}}}, "spec"),
        (DEPLOYMENT, K8S[DEPLOYMENT]({**POD, "initContainers": UNKNOWN_VALUE}), "spec.initContainers"),
        (DEPLOYMENT, K8S[DEPLOYMENT]({**POD, "ephemeralContainers": UNKNOWN_VALUE}), "spec.ephemeralContainers"),
        (DEPLOYMENT, K8S[DEPLOYMENT](_pod_with({"image": UNKNOWN_VALUE})), "?.image"),
    ],
)
def test_what_is_not_known_is_named(resource_type, props, path, via_policy):
    with pytest.raises(UnknownValueError) as raised:
        via_policy(RULE, resource_type, props)
    assert raised.value.props == [path]


def test_unnamed_containers_are_reported_with_a_question_mark(via_policy):
    job = "the job's container"
    assert via_policy(RULE, BATCH, _batch_ecs({"image": "redis"})) == [_msg("job container ?", "redis", job)]
    nodes = {"nodeRangeProperties": [{"container": {"image": "redis"}}]}
    assert via_policy(RULE, BATCH, {"nodeProperties": json.dumps(nodes)}) == [_msg("node range ?", "redis", job)]
    eks = {"podProperties": {"containers": [{"image": "redis"}]}}
    assert via_policy(RULE, BATCH, {"eksProperties": eks}) == [_msg("job container ?", "redis", job)]
    assert via_policy(RULE, ECS, _task({"image": "redis"})) == [
        _msg("container ?", "redis", "the task (gone when it stops)")
    ]
    assert via_policy(RULE, LIGHTSAIL, {"containers": [{"image": "redis"}]}) == [
        _msg("container ?", "redis", "the container service node")
    ]
    assert via_policy(RULE, DEPLOYMENT, K8S[DEPLOYMENT](_pod_with({"image": "redis"}))) == [
        _msg("container ?", "redis", "the pod (gone when it is rescheduled)")
    ]


def test_a_batch_eks_container_serving_through_its_args_is_reported(via_policy):
    eks = {
        "podProperties": {
            "containers": [{"name": "kv", "image": "redis", "commands": ["sh"], "args": ["-c", "redis-server"]}]
        }
    }
    assert via_policy(RULE, BATCH, {"eksProperties": eks}) == [_msg("job container kv", "redis", "the job's container")]
    eks["podProperties"]["containers"][0]["args"] = ["-c", "redis-cli -h cache ping"]
    assert via_policy(RULE, BATCH, {"eksProperties": eks}) == []


def test_docker_mounts_that_are_not_host_paths(via_policy):
    mounts = [{"type": "bind"}, {"type": "volume", "source": "data"}]
    assert via_policy(RULE, DOCKER, {"image": "redis", "mounts": mounts}) == [
        _msg("Docker container", "redis", "the container")
    ]


def test_odd_definitions_and_mounts_of_missing_volumes(via_policy):
    props = {
        "containerDefinitions": json.dumps(
            ["junk", {"name": "db", "image": "redis", "mountPoints": [{"sourceVolume": "gone"}]}]
        )
    }
    assert via_policy(RULE, ECS, props) == [_msg("container db", "redis", "the task (gone when it stops)")]
    spec = _pod_with({"name": "db", "image": "redis", "volumeMounts": [{"name": "gone"}, {"name": "tmp"}]})
    spec["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    assert via_policy(RULE, DEPLOYMENT, K8S[DEPLOYMENT](spec)) == [
        _msg("container db", "redis", "the pod (gone when it is rescheduled)")
    ]


def test_a_definition_holding_an_unknown_that_still_parses_is_judged(via_policy):
    db = {"name": "db", "image": "redis", "environment": [{"name": "X", "value": UNKNOWN_VALUE}]}
    assert via_policy(RULE, ECS, _task(db)) == [_msg("container db", "redis", "the task (gone when it stops)")]

"""no-disk-setup-in-user-data and no-local-datastore-in-user-data, on plain, base64 and gzip user data."""

import base64
import gzip

import pytest

from policies.rules.userdata import NO_DISK_SETUP_IN_USER_DATA, NO_LOCAL_DATASTORE_IN_USER_DATA

LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
LC = "aws:ec2/launchConfiguration:LaunchConfiguration"

CLEAN = """#!/bin/bash
set -euo pipefail
dnf install -y postgresql15 redis6-cli amazon-cloudwatch-agent
growpart /dev/xvda 1
mount -t efs fs-12345:/ /mnt/shared
psql "host=db.internal" -c 'select 1'
redis-cli -h cache.internal ping
docker run -d -p 8000:8000 registry/app:1.2.3
systemctl enable --now app
"""


def _encodings(script: str) -> list[tuple[str, dict[str, str]]]:
    b64 = base64.b64encode(script.encode()).decode()
    gz = base64.b64encode(gzip.compress(script.encode())).decode()
    return [
        (INSTANCE, {"userData": script}),
        (INSTANCE, {"userDataBase64": b64}),
        (LT, {"userData": b64}),
        (LT, {"userData": gz}),
        (LC, {"userData": script}),
    ]


@pytest.mark.parametrize(("resource_type", "props"), _encodings(CLEAN))
def test_clean_user_data_passes(resource_type, props, via_policy):
    assert via_policy(NO_DISK_SETUP_IN_USER_DATA, resource_type, props) == []
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, resource_type, props) == []


def _message(line: str, what: str) -> str:
    return f"user data {what}: `{line}`"


DISK_CASES = [
    ("mkfs -t xfs /dev/nvme1n1", "formats a disk (mkfs)"),
    ("mkfs.ext4 /dev/xvdf", "formats a disk (mkfs)"),
    ("mount /dev/xvdf /data", "mounts a disk"),
    ("mount -t xfs -o noatime /dev/nvme1n1 /data", "mounts a disk"),
    ("mount -a", "mounts a disk"),
    ("echo 'UUID=x /data xfs defaults 0 2' >> /etc/fstab", "edits /etc/fstab to mount a disk at boot"),
    ("parted -s /dev/xvdf mklabel gpt", "partitions a disk"),
    ("mdadm --create /dev/md0 --level=0 /dev/nvme1n1 /dev/nvme2n1", "builds a RAID array (mdadm --create)"),
]


@pytest.mark.parametrize(("line", "what"), DISK_CASES)
def test_disk_setup_is_flagged_in_every_encoding(line, what, via_policy):
    message = _message(line, what)
    script = CLEAN + line + "\n"
    for resource_type, props in _encodings(script):
        assert via_policy(NO_DISK_SETUP_IN_USER_DATA, resource_type, props) == [message]


def test_cloud_init_disk_setup():
    doc = "#cloud-config\nfs_setup:\n  - device: /dev/xvdf\n    filesystem: ext4\n"
    assert NO_DISK_SETUP_IN_USER_DATA.evaluate(INSTANCE, {"userData": doc}) == [
        "user data sets up disks with cloud-init: `fs_setup:`"
    ]


DAEMON_CASES = [
    ("apt-get install -y redis-server", "installs a database/cache server"),
    ("apt-get install -y postgresql", "installs a database/cache server"),
    ("yum install -y postgresql15-server", "installs a database/cache server"),
    ("dnf install -y mariadb105-server", "installs a database/cache server"),
    ("systemctl start mongod", "starts a local database/cache service"),
    ("service mysql start", "starts a local database/cache service"),
    ("redis-server --daemonize yes", "runs a database/cache daemon"),
    ("memcached -d -m 64", "runs a database/cache daemon"),
    ("docker run -d -p 5432:5432 postgres:16", "runs a database/cache container on the instance (postgres:16)"),
]


@pytest.mark.parametrize(("line", "what"), DAEMON_CASES)
def test_local_datastores_are_flagged(line, what, via_policy):
    message = _message(line, what)
    script = CLEAN + line + "\n"
    for resource_type, props in _encodings(script):
        assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, resource_type, props) == [message]


def test_cloud_init_packages():
    doc = "#cloud-config\npackages:\n  - nginx\n  - redis-server\n"
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {"userData": doc}) == [
        "user data installs a database/cache server (cloud-init packages): `- redis-server`"
    ]


def test_one_message_per_line_in_script_order():
    script = "#!/bin/sh\nyum install -y redis6\nsystemctl enable --now redis6\n"
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(LT, {"userData": base64.b64encode(script.encode()).decode()}) == [
        "user data installs a database/cache server: `yum install -y redis6`",
        "user data starts a local database/cache service: `systemctl enable --now redis6`",
    ]


def test_missing_user_data_passes():
    assert NO_DISK_SETUP_IN_USER_DATA.evaluate(INSTANCE, {}) == []
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {}) == []


SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
LIGHTSAIL = "aws:lightsail/instance:Instance"

APP_COMPOSE = """services:
  web:
    image: registry.example.com/stateless/app:1.4.2
    environment:
      APP_REDIS_HOST: cache.internal
  proxy:
    image: nginx:1.27
"""


def _compose(extra: str) -> str:
    return APP_COMPOSE + extra


def _carriers(compose: str) -> list[tuple[str, str, dict]]:
    """The ways a compose file reaches an instance, each with the resource that carries it."""
    heredoc = (
        f"#!/bin/bash\ncat > /opt/app/compose.yaml <<'EOF'\n{compose}EOF\n"
        "docker compose -f /opt/app/compose.yaml up -d\n"
    )
    block = "#cloud-config\nwrite_files:\n  - path: /opt/app/compose.yaml\n    content: |\n" + "".join(
        f"      {line}\n" for line in compose.splitlines()
    )
    b64 = base64.b64encode(compose.encode()).decode()
    gz64 = base64.b64encode(gzip.compress(compose.encode())).decode()

    def write_files(encoding: str, content: str) -> str:
        return (
            "#cloud-config\nwrite_files:\n  - path: /opt/app/compose.yaml\n"
            f"    encoding: {encoding}\n    content: {content}\nruncmd:\n  - [docker, compose, up, -d]\n"
        )

    return [
        ("plain heredoc", INSTANCE, {"userData": heredoc}),
        ("base64 script", LT, {"userData": base64.b64encode(heredoc.encode()).decode()}),
        ("gzip+base64 script", LT, {"userData": base64.b64encode(gzip.compress(heredoc.encode())).decode()}),
        ("cloud-init write_files", LT, {"userData": base64.b64encode(block.encode()).decode()}),
        ("write_files b64", INSTANCE, {"userData": write_files("b64", b64)}),
        ("write_files gz+b64", LT, {"userData": base64.b64encode(write_files("gz+b64", gz64).encode()).decode()}),
        ("spot fleet", SPOT_FLEET, {"launchSpecifications": [{"userData": heredoc}]}),
        ("lightsail", LIGHTSAIL, {"userData": heredoc}),
    ]


@pytest.mark.parametrize(("how", "resource_type", "props"), _carriers(APP_COMPOSE))
def test_compose_of_stateless_services_passes(how, resource_type, props, via_policy):
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, resource_type, props) == []


COMPOSE_STORES = [
    ('  db:\n    image: "postgres:16-alpine"\n', "postgres:16-alpine", 'image: "postgres:16-alpine"'),
    (
        "  cache:\n    image: docker.io/bitnami/redis:7.4\n",
        "docker.io/bitnami/redis:7.4",
        "image: docker.io/bitnami/redis:7.4",
    ),
    ("  queue:\n    image: rabbitmq:3-management\n", "rabbitmq:3-management", "image: rabbitmq:3-management"),
    (
        "  broker:\n    image: confluentinc/cp-kafka@sha256:0f\n",
        "confluentinc/cp-kafka@sha256:0f",
        "image: confluentinc/cp-kafka@sha256:0f",
    ),
]


@pytest.mark.parametrize(("service", "image", "line"), COMPOSE_STORES)
def test_compose_declaring_a_datastore_is_flagged_in_every_carrier(service, image, line, via_policy):
    message = f"user data declares a database/cache/queue server container ({image}) in a service definition: `{line}`"
    for how, resource_type, props in _carriers(_compose(service)):
        assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, resource_type, props) == [message], how


def test_podman_quadlet_declaring_a_datastore():
    unit = (
        "#!/bin/sh\ncat > /etc/containers/systemd/db.container <<EOF\n"
        "[Container]\nImage=docker.io/library/mariadb:11\nEOF\n"
    )
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {"userData": unit}) == [
        "user data declares a database/cache/queue server container (docker.io/library/mariadb:11) in a service "
        "definition: `Image=docker.io/library/mariadb:11`"
    ]


def test_an_image_line_outside_a_service_definition_is_not_a_compose_file():
    script = "#!/bin/sh\n# image: postgres is what the database tier runs\necho ok\n"
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {"userData": script}) == []


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (
            SPOT_FLEET,
            {
                "launchSpecifications": [
                    {"userData": "#!/bin/sh\necho ok\n"},
                    {"userData": CLEAN + "mkfs.ext4 /dev/xvdf\n"},
                ]
            },
        ),
        (LIGHTSAIL, {"userData": CLEAN + "mkfs.ext4 /dev/xvdf\n"}),
    ],
)
def test_spot_fleet_and_lightsail_user_data_is_scanned(resource_type, props, via_policy):
    assert via_policy(NO_DISK_SETUP_IN_USER_DATA, resource_type, props) == [
        "user data formats a disk (mkfs): `mkfs.ext4 /dev/xvdf`"
    ]


RUN_CASES = [
    "docker run -d --name cache -p 6379:6379 public.ecr.aws/docker/library/redis:7.2-alpine",
    "docker run -d docker.io/library/postgres:16",
    "docker run -d ghcr.io/acme/mongo:7 --bind_ip_all",
    "docker run --rm -it quay.io/bitnami/mariadb@sha256:4f2a",
    "docker container run -d -e POSTGRES_PASSWORD_FILE=/run/pw --network=host postgres",
    "podman run -dt -v /srv/kafka:/var/lib/kafka docker.io/bitnami/kafka:3.7",
    "docker run -dp 6379:6379 valkey/valkey:8",
    "docker run -p9200:9200 opensearchproject/opensearch:2",
]


@pytest.mark.parametrize(
    ("line", "image"),
    [(line, line.split()[-1]) for line in RUN_CASES[:2]]
    + [
        (RUN_CASES[2], "ghcr.io/acme/mongo:7"),
        *[(line, line.split()[-1]) for line in RUN_CASES[3:]],
    ],
)
def test_datastore_container_runs_from_any_registry(line, image, via_policy):
    message = f"user data runs a database/cache container on the instance ({image}): `{line[:80]}`"
    for resource_type, props in _encodings(CLEAN + line + "\n"):
        assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, resource_type, props) == [message]


@pytest.mark.parametrize(
    "line",
    [
        "docker run -d --name redis -e REDIS_HOST=cache.internal registry/app:1.2.3",
        "docker run -d -v /etc/app:/etc/app:ro --link postgres:db ghcr.io/acme/web:2",
        "docker run --rm oliver006/redis_exporter:v1.62.0",
        "docker run -d pulumi/guestbook-php-redis",
        "docker pull postgres:16",
    ],
)
def test_app_containers_and_option_values_named_like_a_store_pass(line):
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {"userData": CLEAN + line + "\n"}) == []


def test_backslash_continued_docker_run():
    script = (
        "#!/bin/bash\ndocker run -d \\\n  --restart always \\\n  -p 6379:6379 \\\n"
        "  public.ecr.aws/docker/library/redis:7.2-alpine\n"
    )
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(LT, {"userData": base64.b64encode(script.encode()).decode()}) == [
        "user data runs a database/cache container on the instance (public.ecr.aws/docker/library/redis:7.2-alpine): "
        "`docker run -d --restart always -p 6379:6379 public.ecr.aws/docker/library/redis:`"
    ]


def test_backslash_continued_package_install_and_mount():
    script = "#!/bin/bash\nyum install -y \\\n  jq \\\n  redis6\nmount \\\n  /dev/nvme1n1 /data\n"
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {"userData": script}) == [
        "user data installs a database/cache server: `yum install -y jq redis6`"
    ]
    assert NO_DISK_SETUP_IN_USER_DATA.evaluate(INSTANCE, {"userData": script}) == [
        "user data mounts a disk: `mount /dev/nvme1n1 /data`"
    ]


def test_cloud_init_runcmd_list_form():
    doc = "#cloud-config\nruncmd:\n  - [docker, run, -d, '-p', '5432:5432', 'postgres:16-alpine']\n"
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.evaluate(INSTANCE, {"userData": doc}) == [
        "user data runs a database/cache container on the instance (postgres:16-alpine): "
        "`- docker run -d -p 5432:5432 postgres:16-alpine`"
    ]


UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.mark.parametrize("rule", [NO_DISK_SETUP_IN_USER_DATA, NO_LOCAL_DATASTORE_IN_USER_DATA])
@pytest.mark.parametrize(
    "props",
    [
        {"userData": UNKNOWN_VALUE},
        {"userDataBase64": UNKNOWN_VALUE},
        {"userData": f"#!/bin/bash\nexport IMAGE={UNKNOWN_VALUE}\ndocker run -d $IMAGE\n"},
        {"launchSpecifications": UNKNOWN_VALUE},
        {"launchSpecifications": [{"userData": UNKNOWN_VALUE}]},
    ],
)
def test_unknown_user_data_is_not_judged(rule, props, via_policy):
    from pulumi_policy.proxy import UnknownValueError

    resource_type = SPOT_FLEET if "launchSpecifications" in props else INSTANCE
    with pytest.raises(UnknownValueError):
        via_policy(rule, resource_type, props)


def test_known_finding_is_reported_even_beside_unknown_user_data(via_policy):
    props = {"userData": "#!/bin/sh\nsystemctl start mongod\n", "userDataBase64": UNKNOWN_VALUE}
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, INSTANCE, props) == [
        "user data starts a local database/cache service: `systemctl start mongod`"
    ]


@pytest.mark.parametrize(
    ("args", "image"),
    [
        ("-d redis:7", "redis:7"),
        ("--rm -it --name db -e=A=1 postgres", "postgres"),
        ("--detach --env A=1 -v /a:/b mongo", "mongo"),
        ("-dp 80:80 nginx", "nginx"),
        ("-- -weird-image-name", "-weird-image-name"),
        ("--network host", None),
        ("", None),
    ],
)
def test_run_image_skips_options_and_their_values(args, image):
    from policies.rules.userdata import _run_image

    assert _run_image(args) == image


def test_default_enforcement_levels():
    assert NO_DISK_SETUP_IN_USER_DATA.enforcement.value == "mandatory"
    assert NO_LOCAL_DATASTORE_IN_USER_DATA.enforcement.value == "mandatory"


def test_a_line_is_reported_once_whatever_finds_it(via_policy):
    script = (
        "#!/bin/bash\nsystemctl start redis\nsystemctl start redis\ndocker run -d mongo\ndocker run -d mongo\n"
        "docker run -d redis redis-server\n"
    )
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, INSTANCE, {"userData": script}) == [
        "user data starts a local database/cache service: `systemctl start redis`",
        "user data runs a database/cache daemon: `docker run -d redis redis-server`",
        "user data runs a database/cache container on the instance (mongo): `docker run -d mongo`",
    ]
    compose = "services:\n  a:\n    image: redis:7\n  b:\n    image: redis:7\n"
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, INSTANCE, {"userData": compose}) == [
        "user data declares a database/cache/queue server container (redis:7) in a service definition: `image: redis:7`"
    ]


def test_long_lines_are_cut_at_80_characters(via_policy):
    line = "docker run -d redis " + "x" * 100
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, INSTANCE, {"userData": line}) == [
        f"user data runs a database/cache container on the instance (redis): `{line[:80]}`"
    ]
    disk = "mkfs -t xfs /dev/nvme1n1 " + "y" * 100
    assert via_policy(NO_DISK_SETUP_IN_USER_DATA, INSTANCE, {"userData": disk}) == [
        _message(disk[:80], "formats a disk (mkfs)")
    ]
    compose = "services:\n  a:\n    image: redis:7 " + "z" * 100 + "\n"
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, INSTANCE, {"userData": compose}) == [
        "user data declares a database/cache/queue server container (redis:7) in a service definition: "
        f"`{('image: redis:7 ' + 'z' * 100)[:80]}`"
    ]


def test_unknown_user_data_names_the_path(via_policy):
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError) as raised:
        via_policy(NO_DISK_SETUP_IN_USER_DATA, INSTANCE, {"userData": UNKNOWN_VALUE})
    assert raised.value.props == ["userData"]


def test_list_form_words_keep_everything_but_quotes(via_policy):
    script = "#cloud-config\nruncmd:\n  - [systemctl, start, redis, X]\n"
    assert via_policy(NO_LOCAL_DATASTORE_IN_USER_DATA, INSTANCE, {"userData": script}) == [
        "user data starts a local database/cache service: `- systemctl start redis X`"
    ]


@pytest.mark.parametrize(
    ("args", "image"),
    [
        ('-d "redis:7"', "redis:7"),
        ("-d redisX", "redisX"),
        ("-d -- redis", "redis"),
        ("--", None),
        ("- redis", "-"),
        ("-d= redis", "redis"),
        ("-ditPq redis", "redis"),
        ("-dxp redis", "redis"),
        ("-ditPqp 80:80 redis", "redis"),
    ],
)
def test_run_image_edges(args, image):
    from policies.rules.userdata import _run_image

    assert _run_image(args) == image

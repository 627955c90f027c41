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
    ("docker run -d -p 5432:5432 postgres:16", "runs a database/cache container on the instance"),
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


def test_missing_or_unknown_user_data():
    from policies.rules import UNKNOWN

    assert NO_DISK_SETUP_IN_USER_DATA.evaluate(INSTANCE, {}) == []
    assert NO_DISK_SETUP_IN_USER_DATA.evaluate(INSTANCE, {"userData": UNKNOWN}) == []


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

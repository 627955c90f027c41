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

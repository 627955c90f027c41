"""Rules over EC2 user data (instances, launch templates, launch configurations, spot requests):
no formatting or mounting of disks, no local database or cache daemons.

User data is where "just one more thing on the box" hides: a mkfs + mount or a local Redis turns a
disposable instance into the only copy of some data. User data may be plain text, base64
(`userDataBase64`, launch templates), or gzip inside base64; all are read.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import Rule, decoded_texts, type_set

USER_DATA_TYPES = type_set(
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/launchConfiguration:LaunchConfiguration",
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
)


def user_data_texts(props: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for key in ("userData", "userDataBase64"):
        for text in decoded_texts(props.get(key)):
            if text not in texts:
                texts.append(text)
    return texts


def _scripts(props: dict[str, Any]) -> list[str]:
    # Both the raw value and its decoding are scanned: a plain script can happen to be valid base64.
    return user_data_texts(props)


_DISK_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![\w-])mkfs(\.\w+)?\b"), "formats a disk (mkfs)"),
    (re.compile(r"(?<![\w-])mke2fs\b"), "formats a disk (mke2fs)"),
    (re.compile(r"(?<![\w-])mkswap\b"), "creates swap on a disk (mkswap)"),
    (re.compile(r"(?<![\w-])(parted|fdisk|sfdisk|sgdisk|pvcreate|vgcreate|lvcreate)\s"), "partitions a disk"),
    (re.compile(r"(?<![\w-])mdadm\s+(--create|-C)\b"), "builds a RAID array (mdadm --create)"),
    (re.compile(r"(?<![\w/-])mount\s+(-\S+\s+(\S+\s+)?)*(/dev/|-a\b|UUID=|LABEL=)"), "mounts a disk"),
    (re.compile(r"/etc/fstab\b"), "edits /etc/fstab to mount a disk at boot"),
    (re.compile(r"^\s*(disk_setup|fs_setup|mounts)\s*:", re.MULTILINE), "sets up disks with cloud-init"),
)

_DAEMONS = r"(postgresql(@[\w.-]+)?|postgres|mysql|mysqld|mariadb|redis|redis-server|redis\d+|mongod|mongodb|memcached)"
# Server packages only: client packages (postgresql15 on Amazon Linux, redis-tools, mysql) are fine.
_PACKAGES = (
    r"(postgresql\d*-server|postgresql-\d+|mysql-server|mariadb\d*-server|redis\d*(-server)?|"
    r"mongodb(-org)?(-server)?|memcached)"
)
# On Debian and Ubuntu the bare `postgresql` package is the server.
_APT_PACKAGES = r"(postgresql\d*)"
_DAEMON_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(rf"\bsystemctl\s+(?:--now\s+)?(?:start|enable|restart)\s+(?:--now\s+)?{_DAEMONS}(\.service)?\b"),
        "starts a local database/cache service",
    ),
    (re.compile(rf"\bservice\s+{_DAEMONS}\s+(start|restart)\b"), "starts a local database/cache service"),
    (
        re.compile(rf"\b(apt-get|apt)\s+install\b[^\n]*?(?<![\w-]){_APT_PACKAGES}(?![\w-])"),
        "installs a database/cache server",
    ),
    (
        re.compile(
            rf"\b(apt-get|apt|yum|dnf|zypper|apk|amazon-linux-extras)\s+(install|add|enable)\b[^\n]*?"
            rf"(?<![\w-]){_PACKAGES}(?![\w-])"
        ),
        "installs a database/cache server",
    ),
    (re.compile(rf"^\s*-\s*{_PACKAGES}\s*$", re.MULTILINE), "installs a database/cache server (cloud-init packages)"),
    (
        re.compile(
            r"(?<![\w/.-])(redis-server|mongod|mysqld|mysqld_safe|memcached|pg_ctl|pg_ctlcluster|initdb)(?![\w-])"
        ),
        "runs a database/cache daemon",
    ),
    (
        re.compile(r"\bdocker\s+run\b[^\n]*?\s(postgres|mysql|mariadb|redis|mongo|memcached)(:[\w.-]+)?(\s|$)"),
        "runs a database/cache container on the instance",
    ),
)


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)].strip()


def _first_hit(texts: list[str], patterns: tuple[tuple[re.Pattern[str], str], ...]) -> list[str]:
    """One message per offending line (in script order), naming the first pattern that line trips."""
    found: list[str] = []
    seen_lines: set[str] = set()
    for text in texts:
        hits: dict[int, tuple[str, str]] = {}
        for pattern, what in patterns:
            for match in pattern.finditer(text):
                start = text.rfind("\n", 0, match.start()) + 1
                if start not in hits:
                    hits[start] = (_line_at(text, match.start()), what)
        for _, (line, what) in sorted(hits.items()):
            if line not in seen_lines:
                seen_lines.add(line)
                found.append(f"user data {what}: `{line[:80]}`")
    return found


def check_disk_setup(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    return _first_hit(_scripts(props), _DISK_PATTERNS)


def check_local_datastores(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    return _first_hit(_scripts(props), _DAEMON_PATTERNS)


NO_DISK_SETUP_IN_USER_DATA = Rule(
    name="no-disk-setup-in-user-data",
    description="User data may not format, partition or mount disks.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="Formatting and mounting a disk at boot is how a data volume gets used; the instance becomes "
    "the only holder of whatever lands there.",
    remediation="Remove mkfs/mount/fstab/cloud-init disk setup from user data; write data to S3, RDS or ElastiCache.",
    resource_types=USER_DATA_TYPES,
    check=check_disk_setup,
    tags=("statelessness", "ec2"),
)

NO_LOCAL_DATASTORE_IN_USER_DATA = Rule(
    name="no-local-datastore-in-user-data",
    description="User data may not install or start a local database or cache (PostgreSQL, MySQL, Redis, "
    "MongoDB, memcached).",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A database or cache on an app instance is state on the instance: every replica gets its own "
    "diverging copy and a replacement starts empty.",
    remediation="Use the managed service (RDS, ElastiCache) and connect to it; client tools (psql, "
    "redis-cli) are fine.",
    resource_types=USER_DATA_TYPES,
    check=check_local_datastores,
    tags=("statelessness", "ec2"),
)

RULES = (NO_DISK_SETUP_IN_USER_DATA, NO_LOCAL_DATASTORE_IN_USER_DATA)

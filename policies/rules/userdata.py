"""Rules over user data (EC2 instances, launch templates, launch configurations, spot requests, spot
fleet launch specifications, Lightsail instances): no formatting or mounting of disks, no local
database, cache or queue servers.

User data is where "just one more thing on the box" hides: a mkfs + mount or a local Redis turns a
disposable instance into the only copy of some data. User data may be plain text, base64
(`userDataBase64`, launch templates), or gzip inside base64; all are read, and so are the base64
(or gzip+base64) blobs inside it, as cloud-init `write_files` entries with `encoding: b64` carry
them. A compose file (or a similar service definition) that declares a database, cache or queue
image is a datastore on the instance even when no command line names a daemon.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, decoded_texts, items, type_set
from .images import holds_unknown, is_datastore_image, not_known

SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
LIGHTSAIL_INSTANCE = "aws:lightsail/instance:Instance"
USER_DATA_TYPES = type_set(
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/launchConfiguration:LaunchConfiguration",
    "aws:ec2/spotInstanceRequest:SpotInstanceRequest",
    SPOT_FLEET,
    LIGHTSAIL_INSTANCE,
)

# A base64 run long enough to carry a file (cloud-init write_files `encoding: b64`, `gz+b64`).
_EMBEDDED_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")


def _readable(text: str) -> bool:
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def _embedded_texts(text: str) -> list[str]:
    found = []
    for match in _EMBEDDED_BLOB.finditer(text):
        for decoded in decoded_texts(match.group(0))[1:]:
            if _readable(decoded):
                found.append(decoded)
    return found


def user_data_texts(props: dict[str, Any]) -> list[str]:
    """Every text the instance will read from its user data: the value, its decoding, and the
    decoded blobs inside it. Spot fleets carry user data per launch specification."""
    values = [props.get("userData"), props.get("userDataBase64")]
    values += [spec.get("userData") for spec in items(props.get("launchSpecifications")) if isinstance(spec, dict)]
    texts: list[str] = []
    for value in values:
        for text in decoded_texts(value):
            for candidate in (text, *_embedded_texts(text)):
                if candidate not in texts:
                    texts.append(candidate)
    return texts


def user_data_values(props: dict[str, Any]) -> list[Any]:
    values = [props.get("userData"), props.get("userDataBase64")]
    launch_specs = props.get("launchSpecifications")
    if launch_specs is UNKNOWN:
        values.append(UNKNOWN)
    values += [spec.get("userData") for spec in items(launch_specs) if isinstance(spec, dict)]
    return values


# A cloud-init `runcmd` entry in list form, `- [docker, run, -d, redis]`.
_LIST_COMMAND = re.compile(r"^(?P<indent>\s*-\s*)\[(?P<words>[^\]\n]*)\]\s*$", re.MULTILINE)


def _normalized(text: str) -> str:
    """The script as the shell reads it: backslash-continued lines joined, list-form commands as words."""
    joined = re.sub(r"[ \t]*\\\r?\n[ \t]*", " ", text)
    return _LIST_COMMAND.sub(
        lambda m: m.group("indent") + " ".join(w.strip().strip("\"'") for w in m.group("words").split(",")), joined
    )


def _scripts(props: dict[str, Any]) -> list[str]:
    # Both the raw value and its decoding are scanned: a plain script can happen to be valid base64.
    return [_normalized(text) for text in user_data_texts(props)]


def _judged(props: dict[str, Any], found: list[str]) -> list[str]:
    """What the known user data shows; with nothing shown, user data the engine does not know yet (or
    that has an unknown spliced in) cannot be judged."""
    if not found:
        for value in user_data_values(props):
            if value is UNKNOWN or holds_unknown(value):
                not_known("userData")
    return found


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
)


# Compose `services:`, Kubernetes-style `containers:` and podman quadlet `[Container]` files.
_SERVICE_DEFINITION = re.compile(r"^\s*(services|containers)\s*:|^\s*\[Container\]\s*$", re.MULTILINE)
_IMAGE = re.compile(r"^\s*(?:-\s*)?(?:image\s*:|Image\s*=)\s*[\"']?(?P<image>[^\s\"'#]+)", re.MULTILINE)


def _store_image(image: str) -> bool:
    return is_datastore_image(image)


def _service_definitions(texts: list[str], seen: set[str]) -> list[str]:
    found = []
    for text in texts:
        if not _SERVICE_DEFINITION.search(text):
            continue
        for match in _IMAGE.finditer(text):
            line = _line_at(text, match.start("image"))
            if _store_image(match.group("image")) and line not in seen:
                seen.add(line)
                found.append(
                    f"user data declares a database/cache/queue server container ({match.group('image')}) "
                    f"in a service definition: `{line[:80]}`"
                )
    return found


def _line_at(text: str, pos: int) -> str:
    return (text[:pos].rpartition("\n")[2] + text[pos:].partition("\n")[0]).strip()


def _first_hit(
    texts: list[str], patterns: tuple[tuple[re.Pattern[str], str], ...], seen_lines: set[str] | None = None
) -> list[str]:
    """One message per offending line (in script order), naming the first pattern that line trips."""
    found: list[str] = []
    seen_lines = set() if seen_lines is None else seen_lines
    for text in texts:
        hits: dict[int, tuple[str, str]] = {}
        for pattern, what in patterns:
            for match in pattern.finditer(text):
                number = text[: match.start()].count("\n")
                if number not in hits:
                    hits[number] = (_line_at(text, match.start()), what)
        for _, (line, what) in sorted(hits.items()):
            if line not in seen_lines:
                seen_lines.add(line)
                found.append(f"user data {what}: `{line[:80]}`")
    return found


# `docker run` (also `docker container run`, `create`, podman and nerdctl); the image is the first word
# that is neither an option nor an option's value.
_CONTAINER_RUN = re.compile(
    r"(?<![\w-])(docker|podman|nerdctl)\s+(?:container\s+)?(?:run|create)\s+(?P<args>[^\n;&|]*)"
)
# Options of `docker run` that take no value (docs.docker.com/reference/cli/docker/container/run/).
_FLAGS = frozenset(
    {
        "--detach", "--interactive", "--tty", "--rm", "--privileged", "--init", "--publish-all", "--read-only",
        "--no-healthcheck", "--oom-kill-disable", "--sig-proxy", "--quiet", "--help", "--replace",
    }
)  # fmt: skip
_SHORT_FLAGS = frozenset("ditPq")


def _run_image(args: str) -> str | None:
    words = [w.strip("\"'") for w in args.split()]
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return words[i + 1] if i + 1 < len(words) else None
        if word.startswith("--"):
            i += 1 if "=" in word or word in _FLAGS else 2
        elif word.startswith("-") and len(word) > 1:
            letters = word[1:]
            # `-d`, `-it`: flags; `-p 80:80`, `-dp 80:80`: the last letter takes the next word; `-p80:80`,
            # `-e=X`: the value is attached.
            takes_next = "=" not in word and not set(letters) <= _SHORT_FLAGS and set(letters[:-1]) <= _SHORT_FLAGS
            i += 2 if takes_next else 1
        else:
            return word
    return None


def _container_runs(texts: list[str], seen: set[str]) -> list[str]:
    found = []
    for text in texts:
        for match in _CONTAINER_RUN.finditer(text):
            image = _run_image(match.group("args"))
            line = _line_at(text, match.start())
            if image and is_datastore_image(image) and line not in seen:
                seen.add(line)
                found.append(f"user data runs a database/cache container on the instance ({image}): `{line[:80]}`")
    return found


def check_disk_setup(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    return _judged(props, _first_hit(_scripts(props), _DISK_PATTERNS))


def check_local_datastores(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    texts = _scripts(props)
    seen: set[str] = set()
    found = _first_hit(texts, _DAEMON_PATTERNS, seen)
    found += _container_runs(texts, seen)
    return _judged(props, found + _service_definitions(texts, seen))


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
    description="User data may not install or start a local database, cache or queue server (PostgreSQL, "
    "MySQL, Redis, MongoDB, memcached; also as containers of a compose file).",
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

"""Which container images are datastores, and how a rule says that a value it judges is not known yet.

An image is judged by its repository name alone, the last path component without tag or digest, so
the registry does not matter: `redis`, `redis:7.2-alpine`, `docker.io/library/redis`,
`public.ecr.aws/docker/library/redis:7.2-alpine@sha256:...`, `ghcr.io/acme/redis`,
`quay.io/bitnami/redis` are one image. A name is a datastore when it is one of the known server
names (`STORE_NAMES`, `_EXACT`) or a server name followed only by words that name a variant of that
server (`redis-replica`, `guestbook-redis-replica`, `postgresql-repmgr`, `mariadb-galera`). A name
that merely mentions a store (`redis-exporter`, `mongo-express`, `guestbook-php-redis`,
`opensearch-dashboards`) is a tool or an app talking to it, not the store.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any, NoReturn

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

# One-word server names. memcached is here on purpose: a cache in a replica is where sessions end up
# (PHP's and Django's cache-backed sessions), and losing it with the pod logs users out.
STORE_NAMES = frozenset(
    {
        "postgres", "postgresql", "postgis", "timescaledb", "mysql", "mariadb", "percona", "mongo", "mongodb",
        "redis", "valkey", "keydb", "dragonfly", "memcached", "rabbitmq", "kafka", "activemq", "artemis", "nats",
        "pulsar", "cassandra", "scylla", "couchdb", "couchbase", "elasticsearch", "opensearch", "zookeeper",
        "etcd", "influxdb", "clickhouse", "neo4j", "cockroach", "minio", "arangodb", "questdb", "yugabyte",
        "surrealdb", "rethinkdb",
    }
)  # fmt: skip
# Server images whose name is more than one word and would not pass the variant rule.
_EXACT = re.compile(
    r"^(percona-server(-mongodb)?|mongodb-community-server|mongodb-enterprise-server|redis-stack(-server)?|"
    r"cp-kafka|cp-server|cp-zookeeper|activemq-classic|activemq-artemis|nats-streaming|clickhouse-server|"
    r"mssql-server|dynamodb-local|timescaledb-ha|bitnami-redis)$"
)
# Words that, after a server name, still name the server (a role, a packaging, a topology).
_VARIANTS = frozenset(
    {
        "server", "stack", "cluster", "replica", "replicas", "slave", "master", "primary", "leader", "follower",
        "ha", "galera", "repmgr", "community", "enterprise", "oss", "standalone", "node", "db", "alpine",
        "sentinel", "broker", "single", "arm64", "amd64",
    }
)  # fmt: skip
_WORD = re.compile(r"[-_.]")


def repository_name(image: str) -> str:
    """The image's name without registry, path, tag or digest, lower-cased."""
    name = image.strip().partition("@")[0].rpartition("/")[2]
    return name.partition(":")[0].lower()


def is_datastore_image(image: str) -> bool:
    name = repository_name(image)
    if name in STORE_NAMES or _EXACT.match(name):
        return True
    words = _WORD.split(name)
    for i, word in enumerate(words):
        if word in STORE_NAMES and i < len(words) - 1 and all(w in _VARIANTS for w in words[i + 1 :]):
            return True
    return False


def allowed_image(image: str, allowed: Any) -> str | None:
    """The pattern of `allowedImages` (glob to reason) that the image as written matches, if any."""
    if not isinstance(allowed, dict):
        return None
    for pattern in allowed:
        if isinstance(pattern, str) and fnmatchcase(image.strip(), pattern):
            return pattern
    return None


def holds_unknown(value: Any) -> bool:
    """A string that is, or contains, the engine's unknown sentinel (a JSON document built from an
    output the engine does not know yet carries it inside)."""
    return isinstance(value, str) and UNKNOWN_STRING_VALUE in value


def not_known(path: str) -> NoReturn:
    """Says "cannot judge" the way pulumi_policy's unknown-checking proxy does: the gate and the
    analyzer turn this into a note that the policy could not run during preview."""
    raise UnknownValueError(UNKNOWN_STRING_VALUE, [path])

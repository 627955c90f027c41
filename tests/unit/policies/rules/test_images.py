"""Which images are datastores, allowedImages matching, and the unknown helpers."""

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policies.rules.images import (
    allowed_image,
    holds_unknown,
    is_datastore_image,
    not_known,
    repository_name,
)


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("redis", "redis"),
        ("Redis:7.2", "redis"),
        ("public.ecr.aws/docker/library/redis:7.2-alpine", "redis"),
        ("localhost:5000/team/postgres:16@sha256:0f1e", "postgres"),
        ("docker.io/library/postgres@sha256:0f1e", "postgres"),
    ],
)
def test_repository_name_drops_registry_path_tag_and_digest(image, name):
    assert repository_name(image) == name


@pytest.mark.parametrize(
    "image",
    [
        "redis",
        "valkey/valkey:8",
        "eqalpha/keydb",
        "memcached:1.6-alpine",
        "postgres:16",
        "postgis/postgis:16-3.4",
        "timescale/timescaledb:latest-pg16",
        "mysql:8",
        "mariadb:11",
        "percona/percona-server:8.0",
        "mongo:7",
        "mongodb/mongodb-community-server:7.0-ubi8",
        "cassandra:5",
        "scylladb/scylla",
        "docker.elastic.co/elasticsearch/elasticsearch:8.14.0",
        "opensearchproject/opensearch:2",
        "rabbitmq:3-management",
        "bitnami/kafka:3.7",
        "confluentinc/cp-kafka:7.6.0",
        "confluentinc/cp-zookeeper:7.6.0",
        "zookeeper:3.9",
        "minio/minio:latest",
        "quay.io/coreos/etcd:v3.5.13",
        "influxdb:2.7",
        "neo4j:5",
        "couchdb:3",
        "clickhouse/clickhouse-server:24",
        "ghcr.io/acme/mongo:7",
        "quay.io/bitnami/postgresql:16",
        "bitnami/postgresql-repmgr:16",
        "bitnami/mariadb-galera:11",
        "bitnami/redis-cluster:7.2",
        "redis/redis-stack-server:latest",
        "pulumi/guestbook-redis-replica",
        "redis-sentinel",
    ],
)
def test_datastore_images(image):
    assert is_datastore_image(image)


@pytest.mark.parametrize(
    "image",
    [
        "",
        "nginx:1.27",
        "pulumi/guestbook-php-redis",
        "oliver006/redis_exporter:v1.62.0",
        "prometheuscommunity/postgres-exporter",
        "mongo-express",
        "rediscommander/redis-commander",
        "opensearchproject/opensearch-dashboards:2",
        "provectuslabs/kafka-ui",
        "registry/app:1.2.3",
        "redis-operator",
    ],
)
def test_tools_and_apps_named_after_a_store_are_not_datastores(image):
    assert not is_datastore_image(image)


def test_allowed_image_matches_globs_as_written():
    allowed = {"*/acme/render-cache:*": "keeps rendered fragments only", "memcached:1.6*": "query cache"}
    assert allowed_image("ghcr.io/acme/render-cache:3", allowed) == "*/acme/render-cache:*"
    assert allowed_image("memcached:1.6-alpine", allowed) == "memcached:1.6*"
    assert allowed_image("memcached:1.5", allowed) is None
    assert allowed_image("ghcr.io/acme/render-cache:3", None) is None
    assert allowed_image("Memcached:1.6", allowed) is None


def test_holds_unknown():
    assert holds_unknown(UNKNOWN_STRING_VALUE)
    assert holds_unknown(f'[{{"image": "{UNKNOWN_STRING_VALUE}"}}]')
    assert not holds_unknown("redis")
    assert not holds_unknown(None)


def test_not_known_raises_the_proxys_error_with_the_path():
    with pytest.raises(UnknownValueError) as err:
        not_known("containerDefinitions")
    assert err.value.message == "string value at .containerDefinitions can't be known during preview"

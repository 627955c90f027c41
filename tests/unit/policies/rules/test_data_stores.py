"""RDS/Aurora, ElastiCache and SQS rules."""

import json

import pytest

from policies.rules import UNKNOWN
from policies.rules.data_stores import (
    AURORA_MULTI_AZ,
    ELASTICACHE_AUTH,
    ELASTICACHE_AUTOMATIC_FAILOVER,
    ELASTICACHE_ENCRYPTION,
    RDS_BACKUPS_ENABLED,
    RDS_DELETION_PROTECTION,
    RDS_MANAGED_MASTER_PASSWORD,
    RDS_MULTI_AZ,
    RDS_NOT_PUBLIC,
    RDS_STORAGE_ENCRYPTED,
    SQS_DEAD_LETTER_QUEUE,
    SQS_ENCRYPTION,
)

RDS = "aws:rds/instance:Instance"
AURORA = "aws:rds/cluster:Cluster"
RDS_OK = {
    "engine": "postgres",
    "username": "app",
    "manageMasterUserPassword": True,
    "storageEncrypted": True,
    "publiclyAccessible": False,
    "backupRetentionPeriod": 7,
    "multiAz": True,
    "deletionProtection": True,
}
AURORA_OK = {
    "engine": "aurora-postgresql",
    "masterUsername": "app",
    "manageMasterUserPassword": True,
    "storageEncrypted": True,
    "backupRetentionPeriod": 7,
    "deletionProtection": True,
}
RDS_RULES = (
    RDS_STORAGE_ENCRYPTED,
    RDS_NOT_PUBLIC,
    RDS_BACKUPS_ENABLED,
    RDS_MANAGED_MASTER_PASSWORD,
    RDS_MULTI_AZ,
    RDS_DELETION_PROTECTION,
)


@pytest.mark.parametrize(("resource_type", "props"), [(RDS, RDS_OK), (AURORA, AURORA_OK)])
def test_compliant_databases_pass(resource_type, props, via_policy):
    for rule in RDS_RULES:
        assert via_policy(rule, resource_type, props) == [], rule.name


@pytest.mark.parametrize(
    ("rule", "change", "message"),
    [
        (RDS_STORAGE_ENCRYPTED, {"storageEncrypted": False}, "RDS instance storageEncrypted is not true"),
        (RDS_STORAGE_ENCRYPTED, {"storageEncrypted": None}, "RDS instance storageEncrypted is not true"),
        (RDS_NOT_PUBLIC, {"publiclyAccessible": True}, "RDS instance is publicly accessible"),
        (RDS_BACKUPS_ENABLED, {"backupRetentionPeriod": 0}, "RDS instance backupRetentionPeriod is 0 (minimum 1 days)"),
        (
            RDS_MANAGED_MASTER_PASSWORD,
            {"password": "hunter2hunter2"},
            "RDS instance sets password in the program; set manageMasterUserPassword so RDS keeps the master password "
            "in Secrets Manager",
        ),
        (RDS_MULTI_AZ, {"multiAz": False}, "RDS instance multiAz is not true: one AZ outage takes the database down"),
        (RDS_DELETION_PROTECTION, {"deletionProtection": False}, "RDS instance deletionProtection is not true"),
        (
            RDS_DELETION_PROTECTION,
            {"skipFinalSnapshot": True},
            "RDS instance skipFinalSnapshot is true: deleting it loses the data",
        ),
    ],
)
def test_rds_instance_one_property_broken(rule, change, message, via_policy):
    props = {k: v for k, v in {**RDS_OK, **change}.items() if v is not None}
    assert via_policy(rule, RDS, props) == [message]


def test_aurora_cluster_breaks(via_policy):
    assert via_policy(RDS_MANAGED_MASTER_PASSWORD, AURORA, {**AURORA_OK, "masterPassword": "pw-in-code"}) == [
        "Aurora cluster sets masterPassword in the program; set manageMasterUserPassword so RDS keeps the master "
        "password in Secrets Manager"
    ]
    assert via_policy(RDS_STORAGE_ENCRYPTED, AURORA, {**AURORA_OK, "storageEncrypted": False}) == [
        "Aurora cluster storageEncrypted is not true"
    ]
    assert via_policy(RDS_NOT_PUBLIC, "aws:rds/clusterInstance:ClusterInstance", {"publiclyAccessible": True}) == [
        "cluster instance is publicly accessible"
    ]


def test_unknown_password_and_replicas_are_not_flagged():
    assert RDS_MANAGED_MASTER_PASSWORD.evaluate(RDS, {**RDS_OK, "password": UNKNOWN}) == []
    replica = {"replicateSourceDb": "db-primary", "backupRetentionPeriod": 0, "multiAz": False}
    assert RDS_BACKUPS_ENABLED.evaluate(RDS, replica) == []
    assert RDS_STORAGE_ENCRYPTED.evaluate(RDS, replica) == []
    assert RDS_MULTI_AZ.evaluate(RDS, replica) == []


def test_rds_knobs(via_policy):
    props = {**RDS_OK, "backupRetentionPeriod": 7}
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, props, {"minRetentionDays": 14}) == [
        "RDS instance backupRetentionPeriod is 7 (minimum 14 days)"
    ]
    skip = {**RDS_OK, "skipFinalSnapshot": True}
    assert via_policy(RDS_DELETION_PROTECTION, RDS, skip, {"requireFinalSnapshot": False}) == []
    assert RDS_MULTI_AZ.enforcement.value == "advisory"
    assert RDS_DELETION_PROTECTION.enforcement.value == "advisory"


RG = "aws:elasticache/replicationGroup:ReplicationGroup"
RG_OK = {
    "engine": "redis",
    "transitEncryptionEnabled": True,
    "atRestEncryptionEnabled": True,
    "authToken": "token-from-secrets-manager",
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
}


def test_compliant_replication_group(via_policy):
    for rule in (ELASTICACHE_ENCRYPTION, ELASTICACHE_AUTH, ELASTICACHE_AUTOMATIC_FAILOVER):
        assert via_policy(rule, RG, RG_OK) == []
    rbac = {k: v for k, v in RG_OK.items() if k != "authToken"} | {"userGroupIds": ["app-users"]}
    assert via_policy(ELASTICACHE_AUTH, RG, rbac) == []


@pytest.mark.parametrize(
    ("rule", "change", "message"),
    [
        (
            ELASTICACHE_ENCRYPTION,
            {"transitEncryptionEnabled": False},
            "replication group transitEncryptionEnabled is not true: cache data is not encrypted in transit",
        ),
        (
            ELASTICACHE_ENCRYPTION,
            {"atRestEncryptionEnabled": None},
            "replication group atRestEncryptionEnabled is not true: cache data is not encrypted at rest",
        ),
        (
            ELASTICACHE_AUTH,
            {"authToken": None},
            "replication group has neither an authToken nor RBAC userGroupIds: any client in the network can connect",
        ),
        (
            ELASTICACHE_AUTOMATIC_FAILOVER,
            {"automaticFailoverEnabled": False},
            "replication group automaticFailoverEnabled is not true: a primary failure means downtime",
        ),
        (
            ELASTICACHE_AUTOMATIC_FAILOVER,
            {"multiAzEnabled": False},
            "replication group multiAzEnabled is not true: replicas may share the primary's AZ",
        ),
    ],
)
def test_replication_group_one_property_broken(rule, change, message, via_policy):
    props = {k: v for k, v in {**RG_OK, **change}.items() if v is not None}
    assert via_policy(rule, RG, props) == [message]


def test_cache_knobs_and_standalone_cluster(via_policy):
    no_multi = {**RG_OK, "multiAzEnabled": False}
    assert via_policy(ELASTICACHE_AUTOMATIC_FAILOVER, RG, no_multi, {"requireMultiAz": False}) == []
    cluster = "aws:elasticache/cluster:Cluster"
    assert via_policy(ELASTICACHE_ENCRYPTION, cluster, {"engine": "memcached"}) == [
        "cache cluster transitEncryptionEnabled is not true"
    ]
    assert via_policy(ELASTICACHE_ENCRYPTION, cluster, {"engine": "memcached"}, {"requireMemcachedTls": False}) == []
    assert via_policy(ELASTICACHE_ENCRYPTION, cluster, {"replicationGroupId": "rg-1"}) == []


QUEUE = "aws:sqs/queue:Queue"


def test_queue_encryption(via_policy):
    assert via_policy(SQS_ENCRYPTION, QUEUE, {}) == []
    assert via_policy(SQS_ENCRYPTION, QUEUE, {"sqsManagedSseEnabled": True}) == []
    assert via_policy(SQS_ENCRYPTION, QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": "alias/app"}) == []
    assert via_policy(SQS_ENCRYPTION, QUEUE, {"sqsManagedSseEnabled": False}) == [
        "queue has sqsManagedSseEnabled false and no kmsMasterKeyId: messages are stored unencrypted"
    ]


DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"


def test_work_queue_with_dlq_passes_and_dlq_is_exempt(via_stack_policy):
    resources = [
        (QUEUE, "orders-dlq", {"arn": DLQ_ARN}, {}),
        (
            QUEUE,
            "orders",
            {"redrivePolicy": json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5})},
            {"redrivePolicy": ["orders-dlq"]},
        ),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, resources) == []
    # Matched by property dependency alone, when the ARN is not known.
    by_dep = [
        (QUEUE, "orders-dlq", {}, {}),
        (QUEUE, "orders", {"redrivePolicy": "{}"}, {"redrivePolicy": ["orders-dlq"]}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, by_dep) == []


def test_work_queue_without_dlq_is_flagged(via_stack_policy):
    reported = via_stack_policy(SQS_DEAD_LETTER_QUEUE, [(QUEUE, "jobs", {"arn": "arn:aws:sqs:::jobs"}, {})])
    assert reported == [
        (
            "urn:pulumi:t::p::aws:sqs/queue:Queue::jobs",
            "queue jobs has no redrivePolicy: poison messages are retried forever and never set aside",
        )
    ]


def test_separate_redrive_policy_resource(via_stack_policy):
    resources = [
        (QUEUE, "dlq", {"arn": DLQ_ARN}, {}),
        (QUEUE, "jobs", {"url": "https://sqs/jobs"}, {}),
        (
            "aws:sqs/redrivePolicy:RedrivePolicy",
            "jobs-redrive",
            {"queueUrl": "https://sqs/jobs", "redrivePolicy": json.dumps({"deadLetterTargetArn": DLQ_ARN})},
            {"queueUrl": ["jobs"], "redrivePolicy": ["dlq"]},
        ),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, resources) == []


CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"


def test_aurora_cluster_instances(via_stack_policy):
    cluster = (AURORA, "orders", {**AURORA_OK, "clusterIdentifier": "orders-db"}, {})
    writer = (CLUSTER_INSTANCE, "orders-1", {"clusterIdentifier": "orders-db"}, {"clusterIdentifier": ["orders"]})
    reader = (CLUSTER_INSTANCE, "orders-2", {"clusterIdentifier": "orders-db"}, {})
    assert via_stack_policy(AURORA_MULTI_AZ, [cluster, writer, reader]) == []
    assert via_stack_policy(AURORA_MULTI_AZ, [cluster, writer]) == [
        (
            f"urn:pulumi:t::p::{AURORA}::orders",
            "Aurora cluster orders has 1 instance(s) (minimum 2): no replica to fail over to",
        )
    ]
    assert via_stack_policy(AURORA_MULTI_AZ, [cluster, writer], {"minInstances": 1}) == []
    multi_az_db_cluster = (AURORA, "pg", {"engine": "postgres", "dbClusterInstanceClass": "db.m6gd.large"}, {})
    assert via_stack_policy(AURORA_MULTI_AZ, [multi_az_db_cluster]) == []


@pytest.mark.parametrize("engine", ["valkey", "Valkey"])
def test_valkey_group_is_encrypted_at_rest_by_default(engine, via_policy):
    props = {k: v for k, v in RG_OK.items() if k != "atRestEncryptionEnabled"} | {"engine": engine}
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, props) == []
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, {**props, "atRestEncryptionEnabled": False}) == [
        "replication group atRestEncryptionEnabled is not true: cache data is not encrypted at rest"
    ]


@pytest.mark.parametrize("engine", [None, "redis"])
def test_redis_group_without_at_rest_encryption(engine, via_policy):
    props = {k: v for k, v in RG_OK.items() if k not in ("atRestEncryptionEnabled", "engine")}
    if engine:
        props["engine"] = engine
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, props) == [
        "replication group atRestEncryptionEnabled is not true: cache data is not encrypted at rest"
    ]


def test_group_of_an_unknown_engine_without_at_rest_setting_is_not_judged(via_policy):
    from pulumi_policy.proxy import UnknownValueError

    props = {k: v for k, v in RG_OK.items() if k != "atRestEncryptionEnabled"}
    props["engine"] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    with pytest.raises(UnknownValueError):
        via_policy(ELASTICACHE_ENCRYPTION, RG, props)
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, {**props, "transitEncryptionEnabled": False}) == [
        "replication group transitEncryptionEnabled is not true: cache data is not encrypted in transit"
    ]
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, {**props, "atRestEncryptionEnabled": True}) == []

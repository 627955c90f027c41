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
    with pytest.raises(UnknownValueError) as raised:
        via_policy(ELASTICACHE_ENCRYPTION, RG, props)
    assert raised.value.props == ["engine"]
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, {**props, "transitEncryptionEnabled": False}) == [
        "replication group transitEncryptionEnabled is not true: cache data is not encrypted in transit"
    ]
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, {**props, "atRestEncryptionEnabled": True}) == []


UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_default_enforcement_levels():
    mandatory = (RDS_STORAGE_ENCRYPTED, RDS_NOT_PUBLIC, RDS_BACKUPS_ENABLED, RDS_MANAGED_MASTER_PASSWORD)
    mandatory += (ELASTICACHE_ENCRYPTION, ELASTICACHE_AUTH, SQS_ENCRYPTION, SQS_DEAD_LETTER_QUEUE)
    advisory = (RDS_MULTI_AZ, AURORA_MULTI_AZ, RDS_DELETION_PROTECTION, ELASTICACHE_AUTOMATIC_FAILOVER)
    assert [r.enforcement.value for r in mandatory] == ["mandatory"] * len(mandatory)
    assert [r.enforcement.value for r in advisory] == ["advisory"] * len(advisory)


@pytest.mark.parametrize(
    "source",
    [
        {"replicateSourceDb": "db-primary"},
        {"replicationSourceIdentifier": "arn:aws:rds:us-east-1:123456789012:cluster:primary"},
    ],
)
def test_each_replica_key_exempts_encryption_and_backups(source, via_policy):
    props = {**RDS_OK, "storageEncrypted": False, "backupRetentionPeriod": 0, "multiAz": False, **source}
    assert via_policy(RDS_STORAGE_ENCRYPTED, RDS, props) == []
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, props) == []
    assert via_policy(RDS_MULTI_AZ, RDS, props) == []


@pytest.mark.parametrize(
    "source", [{"snapshotIdentifier": "orders-final"}, {"restoreToPointInTime": {"sourceDbInstanceIdentifier": "db"}}]
)
def test_each_restore_key_exempts_encryption_but_not_backups(source, via_policy):
    props = {**RDS_OK, "storageEncrypted": False, "backupRetentionPeriod": 0, **source}
    assert via_policy(RDS_STORAGE_ENCRYPTED, RDS, props) == []
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, props) == ["RDS instance backupRetentionPeriod is 0 (minimum 1 days)"]


def test_a_source_not_known_yet_is_no_exemption(via_policy):
    props = {
        **RDS_OK,
        "storageEncrypted": False,
        "replicateSourceDb": UNKNOWN_VALUE,
        "snapshotIdentifier": UNKNOWN_VALUE,
    }
    assert via_policy(RDS_STORAGE_ENCRYPTED, RDS, props) == ["RDS instance storageEncrypted is not true"]


def test_serverless_aurora_without_storage_encrypted_is_encrypted_by_default(via_policy):
    serverless = {k: v for k, v in AURORA_OK.items() if k != "storageEncrypted"} | {"engineMode": "serverless"}
    assert via_policy(RDS_STORAGE_ENCRYPTED, AURORA, serverless) == []
    assert via_policy(RDS_STORAGE_ENCRYPTED, AURORA, {**serverless, "storageEncrypted": False}) == [
        "Aurora cluster storageEncrypted is not true"
    ]
    provisioned = {**serverless, "engineMode": "provisioned"}
    assert via_policy(RDS_STORAGE_ENCRYPTED, AURORA, provisioned) == ["Aurora cluster storageEncrypted is not true"]
    no_mode = {k: v for k, v in serverless.items() if k != "engineMode"}
    assert via_policy(RDS_STORAGE_ENCRYPTED, AURORA, no_mode) == ["Aurora cluster storageEncrypted is not true"]
    # engineMode means nothing on an instance.
    instance = {k: v for k, v in RDS_OK.items() if k != "storageEncrypted"} | {"engineMode": "serverless"}
    assert via_policy(RDS_STORAGE_ENCRYPTED, RDS, instance) == ["RDS instance storageEncrypted is not true"]


def test_storage_encrypted_as_string_and_not_known(via_policy):
    assert via_policy(RDS_STORAGE_ENCRYPTED, RDS, {**RDS_OK, "storageEncrypted": "false"}) == [
        "RDS instance storageEncrypted is not true"
    ]
    assert via_policy(RDS_STORAGE_ENCRYPTED, RDS, {**RDS_OK, "storageEncrypted": "true"}) == []
    assert RDS_STORAGE_ENCRYPTED.evaluate(RDS, {**RDS_OK, "storageEncrypted": UNKNOWN}) == []


def test_backup_retention_boundaries(via_policy):
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, {**RDS_OK, "backupRetentionPeriod": 1}) == []
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, {**RDS_OK, "backupRetentionPeriod": 14}, {"minRetentionDays": 14}) == []
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, {**RDS_OK, "backupRetentionPeriod": 13}, {"minRetentionDays": 14}) == [
        "RDS instance backupRetentionPeriod is 13 (minimum 14 days)"
    ]
    assert via_policy(RDS_BACKUPS_ENABLED, AURORA, {**AURORA_OK, "backupRetentionPeriod": "0"}) == [
        "Aurora cluster backupRetentionPeriod is 0 (minimum 1 days)"
    ]
    unset = {k: v for k, v in RDS_OK.items() if k != "backupRetentionPeriod"}
    assert via_policy(RDS_BACKUPS_ENABLED, RDS, unset) == []
    assert RDS_BACKUPS_ENABLED.evaluate(RDS, {**RDS_OK, "backupRetentionPeriod": 0}, {}) == [
        "RDS instance backupRetentionPeriod is 0 (minimum 1 days)"
    ]


def test_password_keys_by_resource_type(via_policy):
    message = (
        "{} sets {} in the program; set manageMasterUserPassword so RDS keeps the master password in Secrets Manager"
    )
    both = {**RDS_OK, "password": "pw-in-code", "passwordWo": "pw-write-only"}
    assert via_policy(RDS_MANAGED_MASTER_PASSWORD, RDS, both) == [
        message.format("RDS instance", "password"),
        message.format("RDS instance", "passwordWo"),
    ]
    assert via_policy(RDS_MANAGED_MASTER_PASSWORD, AURORA, {**AURORA_OK, "masterPasswordWo": "pw"}) == [
        message.format("Aurora cluster", "masterPasswordWo")
    ]
    # Each resource type is judged by its own keys only.
    assert via_policy(RDS_MANAGED_MASTER_PASSWORD, RDS, {**RDS_OK, "masterPassword": "pw"}) == []
    assert via_policy(RDS_MANAGED_MASTER_PASSWORD, AURORA, {**AURORA_OK, "password": "pw"}) == []
    assert via_policy(RDS_MANAGED_MASTER_PASSWORD, RDS, {**RDS_OK, "password": ""}) == []


def test_multi_az_and_deletion_protection_unset(via_policy):
    unset = {k: v for k, v in RDS_OK.items() if k not in ("multiAz", "deletionProtection")}
    assert via_policy(RDS_MULTI_AZ, RDS, unset) == [
        "RDS instance multiAz is not true: one AZ outage takes the database down"
    ]
    assert via_policy(RDS_MULTI_AZ, RDS, {**unset, "multiAz": "true"}) == []
    assert via_policy(RDS_DELETION_PROTECTION, RDS, unset) == ["RDS instance deletionProtection is not true"]
    aurora = {k: v for k, v in AURORA_OK.items() if k != "deletionProtection"} | {"skipFinalSnapshot": "true"}
    assert via_policy(RDS_DELETION_PROTECTION, AURORA, aurora) == [
        "Aurora cluster deletionProtection is not true",
        "Aurora cluster skipFinalSnapshot is true: deleting it loses the data",
    ]
    assert via_policy(RDS_DELETION_PROTECTION, RDS, {**RDS_OK, "skipFinalSnapshot": False}) == []


def _aurora_report(name, count, minimum=2):
    return (
        f"urn:pulumi:t::p::{AURORA}::{name}",
        f"Aurora cluster {name} has {count} instance(s) (minimum {minimum}): no replica to fail over to",
    )


def test_aurora_cluster_matched_by_id_and_by_dependency(via_stack_policy):
    by_id = (AURORA, "orders", {**AURORA_OK, "id": "orders-db"}, {})
    one = (CLUSTER_INSTANCE, "orders-1", {"clusterIdentifier": "orders-db"}, {})
    two = (CLUSTER_INSTANCE, "orders-2", {"clusterIdentifier": "orders-db"}, {})
    assert via_stack_policy(AURORA_MULTI_AZ, [one, by_id, two]) == []
    # By dependency alone, while the identifier is not known yet.
    unnamed = (AURORA, "orders", dict(AURORA_OK), {})
    deps = [
        (CLUSTER_INSTANCE, f"orders-{i}", {"clusterIdentifier": UNKNOWN_VALUE}, {"clusterIdentifier": ["orders"]})
        for i in (1, 2)
    ]
    assert via_stack_policy(AURORA_MULTI_AZ, [unnamed, *deps]) == []
    assert via_stack_policy(AURORA_MULTI_AZ, [unnamed, deps[0]]) == [_aurora_report("orders", 1)]


def test_aurora_instances_count_once_and_for_their_own_cluster(via_stack_policy):
    orders = (AURORA, "orders", {**AURORA_OK, "clusterIdentifier": "orders-db"}, {})
    carts = (AURORA, "carts", {**AURORA_OK, "clusterIdentifier": "carts-db"}, {})
    # Named and depended on: still one instance.
    writer = (CLUSTER_INSTANCE, "orders-1", {"clusterIdentifier": "orders-db"}, {"clusterIdentifier": ["orders"]})
    # The dependency wins over a name that points elsewhere.
    moved = (CLUSTER_INSTANCE, "orders-2", {"clusterIdentifier": "carts-db"}, {"clusterIdentifier": ["orders"]})
    assert via_stack_policy(AURORA_MULTI_AZ, [orders, carts, writer]) == [
        _aurora_report("orders", 1),
        _aurora_report("carts", 0),
    ]
    assert via_stack_policy(AURORA_MULTI_AZ, [orders, carts, writer, moved]) == [_aurora_report("carts", 0)]
    # A dependency on something that is not an Aurora cluster does not hide the name.
    key = ("aws:kms/key:Key", "key", {}, {})
    named = (CLUSTER_INSTANCE, "carts-1", {"clusterIdentifier": "carts-db"}, {"clusterIdentifier": ["key"]})
    assert via_stack_policy(AURORA_MULTI_AZ, [carts, key, named], {"minInstances": 1}) == []
    # A different resource type naming the cluster counts for nothing.
    other = ("aws:rds/instance:Instance", "db", {"clusterIdentifier": "carts-db"}, {})
    assert via_stack_policy(AURORA_MULTI_AZ, [carts, key, other, named], {"minInstances": 2}) == [
        _aurora_report("carts", 1)
    ]
    assert via_stack_policy(AURORA_MULTI_AZ, [orders, carts, writer], {"minInstances": 3}) == [
        _aurora_report("orders", 1, 3),
        _aurora_report("carts", 0, 3),
    ]


def test_aurora_clusters_that_are_not_judged(via_stack_policy):
    empty_name = (AURORA, "orders", {**AURORA_OK, "clusterIdentifier": ""}, {})
    nameless = (CLUSTER_INSTANCE, "orders-1", {"clusterIdentifier": ""}, {})
    assert via_stack_policy(AURORA_MULTI_AZ, [empty_name, nameless]) == [_aurora_report("orders", 0)]
    provisioned = (AURORA, "orders", {**AURORA_OK, "engineMode": "provisioned"}, {})
    assert via_stack_policy(AURORA_MULTI_AZ, [provisioned]) == [_aurora_report("orders", 0)]
    for props in (
        {**AURORA_OK, "engineMode": "serverless"},
        {**AURORA_OK, "replicationSourceIdentifier": "arn:aws:rds:us-east-1:123456789012:cluster:primary"},
        {**AURORA_OK, "engine": "mysql"},
        {k: v for k, v in AURORA_OK.items() if k != "engine"},
    ):
        assert via_stack_policy(AURORA_MULTI_AZ, [(AURORA, "orders", props, {})]) == [], props
    unknown_source = {**AURORA_OK, "replicationSourceIdentifier": UNKNOWN_VALUE}
    assert via_stack_policy(AURORA_MULTI_AZ, [(AURORA, "orders", unknown_source, {})]) == [_aurora_report("orders", 0)]
    assert via_stack_policy(AURORA_MULTI_AZ, [(RDS, "db", RDS_OK, {})]) == []


CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"


def test_standalone_cache_clusters(via_policy):
    message = ["cache cluster transitEncryptionEnabled is not true"]
    assert (
        via_policy(ELASTICACHE_ENCRYPTION, CACHE_CLUSTER, {"engine": "memcached", "transitEncryptionEnabled": True})
        == []
    )
    assert (
        via_policy(ELASTICACHE_ENCRYPTION, CACHE_CLUSTER, {"engine": "redis", "transitEncryptionEnabled": "false"})
        == message
    )
    # The knob spares memcached only, in any case.
    assert (
        via_policy(ELASTICACHE_ENCRYPTION, CACHE_CLUSTER, {"engine": "redis"}, {"requireMemcachedTls": False})
        == message
    )
    assert (
        via_policy(ELASTICACHE_ENCRYPTION, CACHE_CLUSTER, {"engine": "Memcached"}, {"requireMemcachedTls": False}) == []
    )
    assert via_policy(ELASTICACHE_ENCRYPTION, CACHE_CLUSTER, {}, {"requireMemcachedTls": False}) == message
    assert via_policy(ELASTICACHE_ENCRYPTION, CACHE_CLUSTER, {"replicationGroupId": UNKNOWN_VALUE}) == message


def test_replication_group_without_either_encryption(via_policy):
    props = {k: v for k, v in RG_OK.items() if k not in ("transitEncryptionEnabled", "atRestEncryptionEnabled")}
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, props) == [
        "replication group transitEncryptionEnabled is not true: cache data is not encrypted in transit",
        "replication group atRestEncryptionEnabled is not true: cache data is not encrypted at rest",
    ]
    valkey = {**props, "engine": " valkey ", "transitEncryptionEnabled": True}
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, valkey) == []
    unknown_engine = {**props, "engine": UNKNOWN_VALUE}
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, unknown_engine) == [
        "replication group transitEncryptionEnabled is not true: cache data is not encrypted in transit"
    ]
    assert via_policy(ELASTICACHE_ENCRYPTION, RG, {**props, "engine": 7, "transitEncryptionEnabled": True}) == [
        "replication group atRestEncryptionEnabled is not true: cache data is not encrypted at rest"
    ]


@pytest.mark.parametrize(
    ("change", "flagged"),
    [
        ({"authToken": ""}, True),
        ({"authToken": None, "userGroupIds": []}, True),
        ({"authToken": "", "userGroupIds": ""}, True),
        ({"authToken": UNKNOWN_VALUE}, False),
        ({"authToken": None, "userGroupIds": UNKNOWN_VALUE}, False),
        ({"authToken": "", "userGroupIds": ["app-users"]}, False),
    ],
)
def test_cache_auth_empty_and_unknown_values(change, flagged, via_policy):
    props = {k: v for k, v in {**RG_OK, **change}.items() if v is not None}
    expected = [
        "replication group has neither an authToken nor RBAC userGroupIds: any client in the network can connect"
    ]
    assert via_policy(ELASTICACHE_AUTH, RG, props) == (expected if flagged else [])


def test_failover_settings_unset(via_policy):
    props = {k: v for k, v in RG_OK.items() if k not in ("automaticFailoverEnabled", "multiAzEnabled")}
    assert via_policy(ELASTICACHE_AUTOMATIC_FAILOVER, RG, props) == [
        "replication group automaticFailoverEnabled is not true: a primary failure means downtime",
        "replication group multiAzEnabled is not true: replicas may share the primary's AZ",
    ]
    assert ELASTICACHE_AUTOMATIC_FAILOVER.evaluate(RG, {**RG_OK, "multiAzEnabled": False}, {}) == [
        "replication group multiAzEnabled is not true: replicas may share the primary's AZ"
    ]


def test_queue_encryption_string_and_unknown_key(via_policy):
    assert via_policy(SQS_ENCRYPTION, QUEUE, {"sqsManagedSseEnabled": "false"}) == [
        "queue has sqsManagedSseEnabled false and no kmsMasterKeyId: messages are stored unencrypted"
    ]
    assert via_policy(SQS_ENCRYPTION, QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": UNKNOWN_VALUE}) == []
    assert via_policy(SQS_ENCRYPTION, QUEUE, {"kmsMasterKeyId": "alias/app"}) == []


def _dlq_report(name):
    return (
        f"urn:pulumi:t::p::{QUEUE}::{name}",
        f"queue {name} has no redrivePolicy: poison messages are retried forever and never set aside",
    )


def test_a_queue_that_allows_redrive_to_it_is_a_dlq(via_stack_policy):
    allow = json.dumps({"redrivePermission": "allowAll"})
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, [(QUEUE, "dlq", {"redriveAllowPolicy": allow}, {})]) == []
    unknown = [(QUEUE, "dlq", {"redriveAllowPolicy": UNKNOWN_VALUE}, {})]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, unknown) == [_dlq_report("dlq")]
    empty = [(QUEUE, "jobs", {"redrivePolicy": "", "redriveAllowPolicy": allow}, {})]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, empty) == []
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, [(QUEUE, "jobs", {"redrivePolicy": ""}, {})]) == [
        _dlq_report("jobs")
    ]


@pytest.mark.parametrize("key", ["arn", "url", "id", "name"])
def test_dlq_named_by_any_of_its_keys(key, via_stack_policy):
    resources = [
        (QUEUE, "dlq", {key: "orders-dlq-key"}, {}),
        (QUEUE, "orders", {"redrivePolicy": {"deadLetterTargetArn": "orders-dlq-key"}}, {}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, resources) == []
    unnamed = [
        (QUEUE, "dlq", {key: "another-queue"}, {}),
        (QUEUE, "orders", {"redrivePolicy": {"deadLetterTargetArn": "orders-dlq-key"}}, {}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, unnamed) == [_dlq_report("dlq")]


def test_redrive_target_that_is_not_a_string_names_nothing(via_stack_policy):
    resources = [
        (QUEUE, "dlq", {"arn": DLQ_ARN}, {}),
        (QUEUE, "orders", {"redrivePolicy": json.dumps({"deadLetterTargetArn": [DLQ_ARN]})}, {}),
        (QUEUE, "carts", {"redrivePolicy": "not json"}, {}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, resources) == [_dlq_report("dlq")]


def test_other_resources_and_order_do_not_matter(via_stack_policy):
    key = ("aws:kms/key:Key", "key", {"redrivePolicy": json.dumps({"deadLetterTargetArn": DLQ_ARN})}, {})
    resources = [
        key,
        (QUEUE, "orders", {"redrivePolicy": json.dumps({"deadLetterTargetArn": DLQ_ARN})}, {}),
        (QUEUE, "dlq", {"arn": DLQ_ARN}, {}),
        (QUEUE, "jobs", {}, {}),
        (QUEUE, "carts", {}, {}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, resources) == [_dlq_report("jobs"), _dlq_report("carts")]
    # The KMS key is not a queue: depending on it for the redrive policy exempts no queue.
    with_dep = [
        (QUEUE, "orders", {"redrivePolicy": "{}"}, {"redrivePolicy": ["key"]}),
        ("aws:kms/key:Key", "key", {}, {}),
        (QUEUE, "jobs", {}, {}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, with_dep) == [_dlq_report("jobs")]


def test_redrive_policy_resource_found_by_url_or_by_dependency(via_stack_policy):
    redrive = json.dumps({"deadLetterTargetArn": DLQ_ARN})
    by_url = [
        (
            "aws:sqs/redrivePolicy:RedrivePolicy",
            "redrive",
            {"queueUrl": "https://sqs/jobs", "redrivePolicy": redrive},
            {},
        ),
        (QUEUE, "jobs", {"url": "https://sqs/jobs"}, {}),
        (QUEUE, "dlq", {"arn": DLQ_ARN}, {}),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, by_url) == []
    by_dep = [
        (QUEUE, "jobs", {}, {}),
        (QUEUE, "dlq", {}, {}),
        (
            "aws:sqs/redrivePolicy:RedrivePolicy",
            "redrive",
            {"queueUrl": UNKNOWN_VALUE, "redrivePolicy": UNKNOWN_VALUE},
            {"queueUrl": ["jobs"], "redrivePolicy": ["dlq"]},
        ),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, by_dep) == []
    elsewhere = [
        (QUEUE, "jobs", {"url": "https://sqs/jobs"}, {}),
        (QUEUE, "dlq", {"arn": DLQ_ARN}, {}),
        (
            "aws:sqs/redrivePolicy:RedrivePolicy",
            "redrive",
            {"queueUrl": "https://sqs/other", "redrivePolicy": redrive},
            {},
        ),
    ]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, elsewhere) == [_dlq_report("jobs")]
    assert via_stack_policy(SQS_DEAD_LETTER_QUEUE, []) == []

"""Rules for where state is allowed to live: RDS/Aurora, ElastiCache and SQS, each configured safely.

Knobs that differ per environment (Multi-AZ, deletion protection, automatic failover) are separate
rules, advisory by default and made mandatory by a stack's policy config.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import (
    UNKNOWN,
    Rule,
    StackResource,
    as_int,
    falsy,
    get,
    json_value,
    known,
    resource_keys,
    truthy,
    type_set,
)
from .images import not_known

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
QUEUE = "aws:sqs/queue:Queue"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"


def _is_replica(props: dict[str, Any]) -> bool:
    # Read replicas and snapshot restores inherit encryption, backups and credentials from the source.
    return known(props.get("replicateSourceDb")) or known(props.get("replicationSourceIdentifier"))


def _restored(props: dict[str, Any]) -> bool:
    return known(props.get("snapshotIdentifier")) or known(props.get("restoreToPointInTime"))


def _kind(resource_type: str) -> str:
    return "Aurora cluster" if resource_type == RDS_CLUSTER else "RDS instance"


def check_rds_encrypted(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if _is_replica(props) or _restored(props):
        return []
    value = props.get("storageEncrypted")
    if not known(value) and resource_type == RDS_CLUSTER and props.get("engineMode") == "serverless":
        return []
    if value is None or falsy(value):
        return [f"{_kind(resource_type)} storageEncrypted is not true"]
    return []


def check_rds_private(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if truthy(props.get("publiclyAccessible")):
        kind = "cluster instance" if resource_type == RDS_CLUSTER_INSTANCE else "RDS instance"
        return [f"{kind} is publicly accessible"]
    return []


def check_rds_backups(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if _is_replica(props):
        return []
    days = as_int(props.get("backupRetentionPeriod"))
    minimum = int(config["minRetentionDays"])
    if days is not None and days < minimum:
        return [f"{_kind(resource_type)} backupRetentionPeriod is {days} (minimum {minimum} days)"]
    return []


def check_rds_password(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    keys = ("masterPassword", "masterPasswordWo") if resource_type == RDS_CLUSTER else ("password", "passwordWo")
    found = []
    for key in keys:
        if known(props.get(key)) and props.get(key) != "":
            found.append(
                f"{_kind(resource_type)} sets {key} in the program; set manageMasterUserPassword so RDS "
                "keeps the master password in Secrets Manager"
            )
    return found


def check_rds_multi_az(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if _is_replica(props):
        return []
    value = props.get("multiAz")
    if value is None or falsy(value):
        return ["RDS instance multiAz is not true: one AZ outage takes the database down"]
    return []


def check_aurora_multi_az(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    clusters = [
        r
        for r in resources
        if r.resource_type == RDS_CLUSTER
        and str(r.props.get("engine")).startswith("aurora")
        and r.props.get("engineMode") != "serverless"
        and not known(r.props.get("replicationSourceIdentifier"))
    ]
    if not clusters:
        return []
    keys: dict[str, str] = {}
    for c in clusters:
        for key in ("clusterIdentifier", "id"):
            value = c.props.get(key)
            if isinstance(value, str) and value:
                keys[value] = c.urn
    counts = {c.urn: 0 for c in clusters}
    for r in resources:
        if r.resource_type != RDS_CLUSTER_INSTANCE:
            continue
        owners = {u for u in r.property_dependencies.get("clusterIdentifier", ()) if u in counts}
        value = r.props.get("clusterIdentifier")
        if not owners and isinstance(value, str) and value in keys:
            owners = {keys[value]}
        for urn in owners:
            counts[urn] += 1
    minimum = int(config["minInstances"])
    return [
        (
            c.urn,
            f"Aurora cluster {c.name} has {counts[c.urn]} instance(s) (minimum {minimum}): no replica to fail over to",
        )
        for c in clusters
        if counts[c.urn] < minimum
    ]


def check_rds_deletion_protection(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    value = props.get("deletionProtection")
    if value is None or falsy(value):
        found.append(f"{_kind(resource_type)} deletionProtection is not true")
    if config["requireFinalSnapshot"] and truthy(props.get("skipFinalSnapshot")):
        found.append(f"{_kind(resource_type)} skipFinalSnapshot is true: deleting it loses the data")
    return found


def check_cache_encryption(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if resource_type == CACHE_CLUSTER:
        if known(props.get("replicationGroupId")):
            return []
        if str(props.get("engine")).lower() == "memcached" and not config["requireMemcachedTls"]:
            return []
        value = props.get("transitEncryptionEnabled")
        return ["cache cluster transitEncryptionEnabled is not true"] if value is None or falsy(value) else []
    found = []
    engine = props.get("engine")
    for key, what in (("transitEncryptionEnabled", "in transit"), ("atRestEncryptionEnabled", "at rest")):
        value = props.get(key)
        # Unset, at-rest encryption is on for Valkey and off for Redis OSS, the provider's default engine:
        # CreateReplicationGroup, AtRestEncryptionEnabled, "Default: true when using Valkey, false when
        # using Redis OSS" (docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/
        # API_CreateReplicationGroup.html); pulumi-aws ReplicationGroupArgs.at_rest_encryption_enabled
        # says the same. With the engine not known yet, the default cannot be judged.
        unset_is_on = key == "atRestEncryptionEnabled" and (
            engine is UNKNOWN or (isinstance(engine, str) and engine.strip().lower() == "valkey")
        )
        if (value is None and not unset_is_on) or falsy(value):
            found.append(f"replication group {key} is not true: cache data is not encrypted {what}")
    if not found and engine is UNKNOWN and props.get("atRestEncryptionEnabled") is None:
        not_known("engine")
    return found


def _configured(value: Any) -> bool:
    # A value not known yet counts as configured: it cannot be judged, so it is not a finding.
    return value is UNKNOWN or value not in (None, "", [])


def check_cache_auth(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    if _configured(props.get("authToken")) or _configured(props.get("userGroupIds")):
        return []
    return ["replication group has neither an authToken nor RBAC userGroupIds: any client in the network can connect"]


def check_cache_failover(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    value = props.get("automaticFailoverEnabled")
    if value is None or falsy(value):
        found.append("replication group automaticFailoverEnabled is not true: a primary failure means downtime")
    if config["requireMultiAz"]:
        multi = props.get("multiAzEnabled")
        if multi is None or falsy(multi):
            found.append("replication group multiAzEnabled is not true: replicas may share the primary's AZ")
    return found


def check_queue_encryption(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    # A key not known yet (a KMS key created in the same update) is a key: it cannot be judged.
    if falsy(props.get("sqsManagedSseEnabled")) and props.get("kmsMasterKeyId") is None:
        return ["queue has sqsManagedSseEnabled false and no kmsMasterKeyId: messages are stored unencrypted"]
    return []


def _redrive_target(policy: Any) -> str | None:
    target = get(json_value(policy), "deadLetterTargetArn")
    return target if isinstance(target, str) else None


def check_dead_letter_queues(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    queues = [r for r in resources if r.resource_type == QUEUE]
    if not queues:
        return []
    by_key: dict[str, StackResource] = {}
    for q in queues:
        for key in resource_keys(q, "arn", "url", "id", "name"):
            by_key[key] = q
    has_redrive: set[str] = set()
    is_dlq: set[str] = set()
    for r in resources:
        if r.resource_type == QUEUE:
            policy = r.props.get("redrivePolicy")
            if policy is None or policy == "":
                if known(r.props.get("redriveAllowPolicy")):
                    is_dlq.add(r.urn)
                continue
            has_redrive.add(r.urn)
            source = r.props
        elif r.resource_type == REDRIVE_POLICY:
            source = r.props
            target_queue = by_key.get(str(r.props.get("queueUrl")))
            for urn in r.property_dependencies.get("queueUrl", ()):
                if urn in by_key:
                    target_queue = by_key[urn]
            if target_queue is not None:
                has_redrive.add(target_queue.urn)
        else:
            continue
        target = _redrive_target(source.get("redrivePolicy"))
        if target in by_key:
            is_dlq.add(by_key[target].urn)
        for urn in r.property_dependencies.get("redrivePolicy", ()):
            if urn in by_key:
                is_dlq.add(urn)
    return [
        (q.urn, f"queue {q.name} has no redrivePolicy: poison messages are retried forever and never set aside")
        for q in queues
        if q.urn not in has_redrive and q.urn not in is_dlq
    ]


RDS_STORAGE_ENCRYPTED = Rule(
    name="rds-storage-encrypted",
    description="RDS instances and Aurora clusters encrypt their storage.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="The database is where the state lives; its disks, snapshots and backups must be encrypted at rest.",
    remediation="Set storageEncrypted: true (and kmsKeyId for a customer-managed key).",
    resource_types=type_set(RDS_INSTANCE, RDS_CLUSTER),
    check=check_rds_encrypted,
    tags=("security", "rds"),
)

RDS_NOT_PUBLIC = Rule(
    name="rds-not-public",
    description="RDS instances are not publicly accessible.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    why="A database reachable from the internet is one leaked password away from a breach.",
    remediation="Set publiclyAccessible: false and place the instance in private data subnets.",
    resource_types=type_set(RDS_INSTANCE, RDS_CLUSTER_INSTANCE),
    check=check_rds_private,
    tags=("security", "rds"),
)

RDS_BACKUPS_ENABLED = Rule(
    name="rds-backups-enabled",
    description="RDS instances and Aurora clusters keep automated backups.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="With the app stateless, the database is the only copy of the data; backups are its undo.",
    remediation="Set backupRetentionPeriod to at least minRetentionDays (default 1, 7+ in production).",
    resource_types=type_set(RDS_INSTANCE, RDS_CLUSTER),
    check=check_rds_backups,
    config={
        "minRetentionDays": {
            "type": "integer",
            "minimum": 1,
            "maximum": 35,
            "default": 1,
            "description": "Smallest accepted backupRetentionPeriod (days).",
        }
    },
    tags=("durability", "rds"),
)

RDS_MANAGED_MASTER_PASSWORD = Rule(
    name="rds-managed-master-password",
    description="RDS master passwords are managed by RDS in Secrets Manager, not set in the program.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="A password written in the program (even from secret config) ends up in the state file and the "
    "plan, and rotating it means a redeploy; manageMasterUserPassword keeps it in Secrets Manager.",
    remediation="Remove password/masterPassword and set manageMasterUserPassword: true; apps read the "
    "secret ARN from masterUserSecrets.",
    resource_types=type_set(RDS_INSTANCE, RDS_CLUSTER),
    check=check_rds_password,
    tags=("security", "secrets", "rds"),
)

RDS_MULTI_AZ = Rule(
    name="rds-multi-az",
    description="RDS instances run Multi-AZ where the stack demands it.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="A single-AZ database is the one component a zone outage takes down with the whole service.",
    remediation="Set multiAz: true (make this rule mandatory in the production policy config).",
    resource_types=type_set(RDS_INSTANCE),
    check=check_rds_multi_az,
    tags=("durability", "rds"),
)

AURORA_MULTI_AZ = Rule(
    name="aurora-multi-az",
    description="Aurora clusters run at least two instances (a writer and a replica in another AZ) where the "
    "stack demands it.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="An Aurora cluster with a single instance has nothing to fail over to when its AZ or host fails.",
    remediation="Add a second aws.rds.ClusterInstance (Aurora places replicas across AZs).",
    stack_check=check_aurora_multi_az,
    config={
        "minInstances": {
            "type": "integer",
            "minimum": 1,
            "maximum": 15,
            "default": 2,
            "description": "Fewest cluster instances accepted per Aurora cluster.",
        }
    },
    tags=("durability", "rds"),
)

RDS_DELETION_PROTECTION = Rule(
    name="rds-deletion-protection",
    description="RDS instances and Aurora clusters have deletion protection and keep a final snapshot.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="One mistaken `pulumi destroy` or replacement must not delete the only copy of the data.",
    remediation="Set deletionProtection: true and leave skipFinalSnapshot false.",
    resource_types=type_set(RDS_INSTANCE, RDS_CLUSTER),
    check=check_rds_deletion_protection,
    config={
        "requireFinalSnapshot": {
            "type": "boolean",
            "default": True,
            "description": "Also flag skipFinalSnapshot: true.",
        }
    },
    tags=("durability", "rds"),
)

ELASTICACHE_ENCRYPTION = Rule(
    name="elasticache-encryption",
    description="ElastiCache encrypts in transit and at rest.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="Sessions and carts live in the cache; they must not cross the network or sit on disk in clear.",
    remediation="Set transitEncryptionEnabled: true and atRestEncryptionEnabled: true on the replication group.",
    resource_types=type_set(REPLICATION_GROUP, CACHE_CLUSTER),
    check=check_cache_encryption,
    config={
        "requireMemcachedTls": {
            "type": "boolean",
            "default": True,
            "description": "Also require transit encryption on standalone memcached clusters.",
        }
    },
    tags=("security", "elasticache"),
)

ELASTICACHE_AUTH = Rule(
    name="elasticache-auth",
    description="ElastiCache replication groups require AUTH or RBAC.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.MANDATORY,
    why="Without AUTH any workload in the VPC can read or rewrite every session.",
    remediation="Set authToken (from Secrets Manager) or userGroupIds for RBAC.",
    resource_types=type_set(REPLICATION_GROUP),
    check=check_cache_auth,
    tags=("security", "elasticache"),
)

ELASTICACHE_AUTOMATIC_FAILOVER = Rule(
    name="elasticache-automatic-failover",
    description="ElastiCache replication groups fail over automatically across AZs where the stack demands it.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="When the session store's primary dies, every user is logged out until it is back.",
    remediation="Set automaticFailoverEnabled: true, multiAzEnabled: true and at least one replica.",
    resource_types=type_set(REPLICATION_GROUP),
    check=check_cache_failover,
    config={
        "requireMultiAz": {
            "type": "boolean",
            "default": True,
            "description": "Also require multiAzEnabled.",
        }
    },
    tags=("durability", "elasticache"),
)

SQS_ENCRYPTION = Rule(
    name="sqs-encryption",
    description="SQS queues encrypt messages at rest.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="Queued messages carry orders and user data; they must not be stored in clear.",
    remediation="Leave sqsManagedSseEnabled at its default (true) or set kmsMasterKeyId.",
    resource_types=type_set(QUEUE),
    check=check_queue_encryption,
    tags=("security", "sqs"),
)

SQS_DEAD_LETTER_QUEUE = Rule(
    name="sqs-dead-letter-queue",
    description="Work queues have a redrive policy to a dead-letter queue.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="Without a DLQ a poison message is retried until it expires, blocking workers and hiding the failure.",
    remediation="Give the queue redrivePolicy {deadLetterTargetArn, maxReceiveCount} (a queue that is "
    "itself a DLQ is exempt).",
    check=None,
    stack_check=check_dead_letter_queues,
    tags=("durability", "sqs"),
)

RULES = (
    RDS_STORAGE_ENCRYPTED,
    RDS_NOT_PUBLIC,
    RDS_BACKUPS_ENABLED,
    RDS_MANAGED_MASTER_PASSWORD,
    RDS_MULTI_AZ,
    AURORA_MULTI_AZ,
    RDS_DELETION_PROTECTION,
    ELASTICACHE_ENCRYPTION,
    ELASTICACHE_AUTH,
    ELASTICACHE_AUTOMATIC_FAILOVER,
    SQS_ENCRYPTION,
    SQS_DEAD_LETTER_QUEUE,
)

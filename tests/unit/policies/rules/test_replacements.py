"""The replace-forcing table is current (made for the installed pulumi-aws) and says where each entry
came from."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re

from policies.rules import replacements

# The types the data-loss guard's own cases name (RDS identifier, S3 bucket, SQS name/fifoQueue,
# ElastiCache replicationGroupId, EFS encrypted, KMS key), derived from the provider's source.
MUST_BE_DERIVED = {
    "aws:rds/instance:Instance": ("identifier", "storageEncrypted", "kmsKeyId"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:sqs/queue:Queue": ("name", "fifoQueue"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", "atRestEncryptionEnabled"),
    "aws:efs/fileSystem:FileSystem": ("encrypted", "kmsKeyId", "creationToken"),
    "aws:kms/key:Key": ("keyUsage", "customerMasterKeySpec", "multiRegion"),
}
_FILE_AT_COMMIT = re.compile(r"^(?:pulumi-aws )?[\w./-]+\.go@[0-9a-f]{40}$")


def test_the_table_was_made_for_the_installed_pulumi_aws():
    # The generator needs the provider's source; CI checks the version the table records instead.
    assert importlib.metadata.version("pulumi_aws") == replacements.PULUMI_AWS_VERSION, (
        "pulumi-aws changed: regenerate policies/rules/replacements.py with python -m policies.tools.replace_table"
    )


def test_every_entry_names_its_source_and_only_auto_names_what_forces_a_replacement():
    for token, entry in replacements.REPLACE_ON.items():
        assert entry["replaceOn"], token
        assert entry["source"], token
        assert set(entry.get("autoNamed", ())) <= set(entry["replaceOn"]), token
        assert not set(entry.get("replaceIf", {})) & set(entry["replaceOn"]), token


def test_derived_entries_name_each_file_and_its_commit_and_the_rest_say_they_are_transcribed():
    assert set(replacements.DERIVED) | set(replacements.TRANSCRIBED) == set(replacements.REPLACE_ON)
    assert not set(replacements.DERIVED) & set(replacements.TRANSCRIBED)
    for token in replacements.TRANSCRIBED:
        assert replacements.REPLACE_ON[token]["source"].startswith("transcribed"), token
    for token in replacements.DERIVED:
        if token.startswith("kubernetes:"):
            continue
        source = replacements.REPLACE_ON[token]["source"].split(" (alias of ")[0]
        parts = source.split("; ")
        assert all(_FILE_AT_COMMIT.match(p) for p in parts), (token, parts)
        assert any(p.startswith("internal/service/") for p in parts), token
        assert any(p.startswith("names/attr_consts_gen.go@") for p in parts), token
        assert any(p.startswith("pulumi-aws provider/") for p in parts), token


def test_the_guards_own_cases_come_from_the_provider():
    for token, paths in MUST_BE_DERIVED.items():
        assert token in replacements.DERIVED, token
        assert set(paths) <= set(replacements.REPLACE_ON[token]["replaceOn"]), token
    auto = {t: replacements.REPLACE_ON[t]["autoNamed"] for t in MUST_BE_DERIVED}
    assert "identifier" in auto["aws:rds/instance:Instance"]
    assert auto["aws:s3/bucket:Bucket"] == ["bucket"]
    assert auto["aws:sqs/queue:Queue"] == ["name"]
    assert auto["aws:elasticache/replicationGroup:ReplicationGroup"] == ["replicationGroupId"]
    assert auto["aws:efs/fileSystem:FileSystem"] == ["creationToken"]
    assert auto["aws:kms/key:Key"] == []
    # bucketV2 is pulumi-aws's alias of the same resource.
    v2 = replacements.REPLACE_ON["aws:s3/bucketV2:BucketV2"]
    assert v2["replaceOn"] == replacements.REPLACE_ON["aws:s3/bucket:Bucket"]["replaceOn"]


# Derived from the schema files named in policies/tools/README.md; each path below is a ForceNew /
# RequiresReplace() attribute of that file (ebs_volume.go needs names.AttrSnapshotID).
DERIVED_FROM_SCHEMA_FILES = {
    "aws:rds/cluster:Cluster": ("clusterIdentifier", "engine", "engineMode", "s3Import.bucketName", "dbSystemId"),
    "aws:rds/globalCluster:GlobalCluster": ("globalClusterIdentifier", "engine", "storageEncrypted"),
    "aws:docdb/cluster:Cluster": ("clusterIdentifier", "storageEncrypted", "restoreToPointInTime", "port"),
    "aws:docdb/elasticCluster:ElasticCluster": ("name", "adminUserName", "authType", "kmsKeyId"),
    "aws:elasticache/cluster:Cluster": ("clusterId", "engine", "transitEncryptionEnabled", "networkType"),
    "aws:elasticache/serverlessCache:ServerlessCache": ("name", "snapshotArnsToRestores", "subnetIds"),
    "aws:memorydb/cluster:Cluster": ("name", "namePrefix", "kmsKeyArn", "tlsEnabled", "autoMinorVersionUpgrade"),
    "aws:ebs/volume:Volume": ("snapshotId", "encrypted", "multiAttachEnabled"),
    "aws:elasticsearch/domain:Domain": ("domainName", "encryptAtRest.kmsKeyId", "vpcOptions"),
    "aws:msk/serverlessCluster:ServerlessCluster": ("clusterName", "clientAuthentication", "vpcConfigs"),
}


def test_the_stateful_types_read_from_their_schema_files_are_derived():
    for token, paths in DERIVED_FROM_SCHEMA_FILES.items():
        assert token in replacements.DERIVED, token
        assert set(paths) <= set(replacements.REPLACE_ON[token]["replaceOn"]), token
    entries = replacements.REPLACE_ON
    # CustomizeDiff: elasticache/cluster.go clusterForceNewOnMemcachedNodeTypeChange and
    # engine_version.go engineVersionForceNewOnDowngrade; docdb/cluster.go ForceNewIfChange.
    assert set(entries["aws:elasticache/cluster:Cluster"]["replaceIf"]) == {"engineVersion", "nodeType"}
    assert set(entries["aws:docdb/cluster:Cluster"]["replaceIf"]) == {"serverlessV2ScalingConfiguration"}
    # elasticsearch/domain.go: ForceNewIf on "encrypt_at_rest.0.enabled", an object to the bridge.
    assert set(entries["aws:elasticsearch/domain:Domain"]["replaceIf"]) == {
        "elasticsearchVersion",
        "encryptAtRest.enabled",
        "nodeToNodeEncryption.enabled",
    }
    assert entries["aws:elasticsearch/domain:Domain"]["autoNamed"] == ["domainName"]
    # rds/cluster.go: customdiff.ForceNewIf(storage_type) for engines other than Aurora.
    assert set(entries["aws:rds/cluster:Cluster"]["replaceIf"]) == {"storageType"}
    # pulumi-aws resource_overrides.go auto-names cluster_id and cluster_name; the bridge names `name`.
    assert entries["aws:elasticache/cluster:Cluster"]["autoNamed"] == ["clusterId"]
    assert entries["aws:msk/serverlessCluster:ServerlessCluster"]["autoNamed"] == ["clusterName"]
    assert entries["aws:memorydb/cluster:Cluster"]["autoNamed"] == ["name"]
    assert entries["aws:ebs/volume:Volume"]["autoNamed"] == []


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# rds/instance.go@00e4b238 still has the `name` argument, which pulumi-aws 7 takes only through the
# PreCheckCallback that renames it to dbName (provider/resource_overrides.go, "aws_db_instance").
_NOT_AN_SDK_INPUT = {("aws:rds/instance:Instance", "name")}


def test_every_path_starts_at_an_input_of_the_installed_pulumi_aws_resource():
    # The bridge's names (pluralised lists, renames) must be the SDK's: a path the SDK does not have
    # is never in a program's inputs, so its change would go unseen.
    for token, entry in replacements.REPLACE_ON.items():
        if not token.startswith("aws:"):
            continue
        module, resource = token.split(":")[1].split("/")[0], token.split(":")[2]
        cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), resource)
        inputs = set(inspect.signature(cls._internal_init).parameters)
        for path in [*entry["replaceOn"], *entry["replaceIf"]]:
            head = path.split(".")[0].removesuffix("[]")
            if (token, head) in _NOT_AN_SDK_INPUT:
                continue
            assert _snake(head) in inputs, (token, path)

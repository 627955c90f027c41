"""Which inputs force a replacement of each stateful type: written by policies/tools/replace_table.py.

`REPLACE_ON[type]["replaceOn"]` are input paths (camelCase engine keys, dots into objects) that the
provider cannot change in place; `autoNamed` are those the provider fills with a generated name when
the program leaves them out (the prior name is kept on later updates).

AWS: top-level `ForceNew: true` (SDKv2) / `RequiresReplace()` (framework) attributes of the
terraform-provider-aws resource, named as the pulumi-aws bridge names them (snake_case to camelCase,
field overrides and auto-names from pulumi-aws provider/resources.go). Kubernetes: the fields the API
server refuses to update (see the generator for the cited validation functions).
"""

from __future__ import annotations

from typing import Any

PULUMI_AWS_VERSION = "7.51.1"
SOURCES = {
    "terraform-provider-aws": "hashicorp/terraform-provider-aws, files as stored at the commits named per type",
    "pulumi-aws": "pulumi/pulumi-aws provider/resources.go (auto-names)",
    "kubernetes": "kubernetes/kubernetes pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate, "
    "pkg/apis/apps/validation ValidateStatefulSetUpdate",
}

REPLACE_ON: dict[str, dict[str, Any]] = {
    "aws:docdb/cluster:Cluster": {
        "autoNamed": ["clusterIdentifier"],
        "replaceOn": [
            "clusterIdentifier",
            "clusterIdentifierPrefix",
            "availabilityZones",
            "engine",
            "kmsKeyId",
            "masterUsername",
            "snapshotIdentifier",
            "storageEncrypted",
        ],
        "source": "transcribed from internal/service/docdb/cluster.go (a generator run on a full checkout replaces it)",
    },
    "aws:docdb/elasticCluster:ElasticCluster": {
        "autoNamed": ["name"],
        "replaceOn": ["name", "adminUserName", "authType", "kmsKeyId"],
        "source": "transcribed from "
        "internal/service/docdbelastic/cluster.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:dynamodb/table:Table": {
        "autoNamed": ["name"],
        "replaceOn": ["name", "hashKey", "rangeKey", "localSecondaryIndexes"],
        "source": "transcribed from internal/service/dynamodb/table.go (a generator "
        "run on a full checkout replaces it)",
    },
    "aws:ebs/volume:Volume": {
        "autoNamed": [],
        "replaceOn": ["availabilityZone", "encrypted", "kmsKeyId", "outpostArn", "snapshotId"],
        "source": "transcribed from internal/service/ec2/ebs_volume.go (a generator run "
        "on a full checkout replaces it)",
    },
    "aws:efs/fileSystem:FileSystem": {
        "autoNamed": ["creationToken"],
        "replaceOn": ["availabilityZoneName", "creationToken", "encrypted", "kmsKeyId", "performanceMode"],
        "source": "transcribed from internal/service/efs/file_system.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:elasticache/cluster:Cluster": {
        "autoNamed": ["clusterId"],
        "replaceOn": [
            "clusterId",
            "availabilityZone",
            "engine",
            "outpostMode",
            "port",
            "preferredOutpostArn",
            "replicationGroupId",
            "snapshotArns",
            "snapshotName",
            "subnetGroupName",
        ],
        "source": "transcribed from internal/service/elasticache/cluster.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        "autoNamed": ["replicationGroupId"],
        "replaceOn": [
            "replicationGroupId",
            "atRestEncryptionEnabled",
            "dataTieringEnabled",
            "globalReplicationGroupId",
            "kmsKeyId",
            "port",
            "preferredCacheClusterAzs",
            "snapshotArns",
            "snapshotName",
            "subnetGroupName",
        ],
        "source": "transcribed from "
        "internal/service/elasticache/replication_group.go "
        "(a generator run on a full checkout "
        "replaces it)",
    },
    "aws:elasticache/serverlessCache:ServerlessCache": {
        "autoNamed": ["name"],
        "replaceOn": ["name", "engine", "kmsKeyId", "snapshotArnsToRestore"],
        "source": "transcribed from "
        "internal/service/elasticache/serverless_cache.go "
        "(a generator run on a full checkout replaces "
        "it)",
    },
    "aws:elasticsearch/domain:Domain": {
        "autoNamed": ["domainName"],
        "replaceOn": ["domainName"],
        "source": "transcribed from internal/service/elasticsearch/domain.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:kinesis/stream:Stream": {
        "autoNamed": ["name"],
        "replaceOn": ["name"],
        "source": "transcribed from internal/service/kinesis/stream.go (a generator "
        "run on a full checkout replaces it)",
    },
    "aws:kms/key:Key": {
        "autoNamed": [],
        "replaceOn": ["customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"],
        "source": "transcribed from internal/service/kms/key.go (a generator run on a full checkout replaces it)",
    },
    "aws:memorydb/cluster:Cluster": {
        "autoNamed": ["name"],
        "replaceOn": [
            "name",
            "namePrefix",
            "dataTiering",
            "kmsKeyArn",
            "port",
            "snapshotArns",
            "snapshotName",
            "subnetGroupName",
            "tlsEnabled",
        ],
        "source": "transcribed from internal/service/memorydb/cluster.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:msk/cluster:Cluster": {
        "autoNamed": ["clusterName"],
        "replaceOn": ["clusterName"],
        "source": "transcribed from internal/service/kafka/cluster.go (a generator run on a full checkout replaces it)",
    },
    "aws:msk/serverlessCluster:ServerlessCluster": {
        "autoNamed": ["clusterName"],
        "replaceOn": ["clusterName", "clientAuthentication", "vpcConfigs"],
        "source": "transcribed from "
        "internal/service/kafka/serverless_cluster.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:neptune/cluster:Cluster": {
        "autoNamed": ["clusterIdentifier"],
        "replaceOn": [
            "clusterIdentifier",
            "clusterIdentifierPrefix",
            "availabilityZones",
            "engine",
            "kmsKeyArn",
            "snapshotIdentifier",
            "storageEncrypted",
        ],
        "source": "transcribed from internal/service/neptune/cluster.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:opensearch/domain:Domain": {
        "autoNamed": ["domainName"],
        "replaceOn": ["domainName"],
        "source": "transcribed from internal/service/opensearch/domain.go (a "
        "generator run on a full checkout replaces it)",
    },
    "aws:rds/cluster:Cluster": {
        "autoNamed": ["clusterIdentifier"],
        "replaceOn": [
            "clusterIdentifier",
            "clusterIdentifierPrefix",
            "availabilityZones",
            "databaseName",
            "engine",
            "engineMode",
            "kmsKeyId",
            "masterUsername",
            "restoreToPointInTime",
            "s3Import",
            "snapshotIdentifier",
            "sourceRegion",
            "storageEncrypted",
        ],
        "source": "transcribed from internal/service/rds/cluster.go (a generator run on a full checkout replaces it)",
    },
    "aws:rds/globalCluster:GlobalCluster": {
        "autoNamed": [],
        "replaceOn": ["globalClusterIdentifier", "databaseName", "sourceDbClusterIdentifier", "storageEncrypted"],
        "source": "transcribed from internal/service/rds/global_cluster.go "
        "(a generator run on a full checkout replaces it)",
    },
    "aws:rds/instance:Instance": {
        "autoNamed": ["identifier"],
        "replaceOn": [
            "identifier",
            "identifierPrefix",
            "availabilityZone",
            "characterSetName",
            "dbName",
            "engine",
            "kmsKeyId",
            "ncharCharacterSetName",
            "restoreToPointInTime",
            "s3Import",
            "snapshotIdentifier",
            "storageEncrypted",
            "timezone",
            "username",
        ],
        "source": "transcribed from internal/service/rds/instance.go (a generator run on a full checkout replaces it)",
    },
    "aws:s3/bucket:Bucket": {
        "autoNamed": ["bucket"],
        "replaceOn": ["bucket", "bucketPrefix", "objectLockEnabled"],
        "source": "transcribed from internal/service/s3/bucket.go (a generator run on a full checkout replaces it)",
    },
    "aws:s3/bucketV2:BucketV2": {
        "autoNamed": ["bucket"],
        "replaceOn": ["bucket", "bucketPrefix", "objectLockEnabled"],
        "source": "transcribed from internal/service/s3/bucket.go (a generator run on a full checkout replaces it)",
    },
    "aws:secretsmanager/secret:Secret": {
        "autoNamed": ["name"],
        "replaceOn": ["name", "namePrefix"],
        "source": "transcribed from internal/service/secretsmanager/secret.go "
        "(a generator run on a full checkout replaces it)",
    },
    "aws:sqs/queue:Queue": {
        "autoNamed": ["name"],
        "replaceOn": ["name", "namePrefix", "fifoQueue"],
        "source": "internal/service/sqs/queue.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39",
    },
    "kubernetes:apps/v1:StatefulSet": {
        "autoNamed": ["metadata.name"],
        "replaceOn": [
            "metadata.name",
            "metadata.namespace",
            "spec.selector",
            "spec.serviceName",
            "spec.volumeClaimTemplates",
            "spec.podManagementPolicy",
        ],
        "source": "kubernetes/kubernetes pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate",
    },
    "kubernetes:core/v1:PersistentVolumeClaim": {
        "autoNamed": ["metadata.name"],
        "replaceOn": [
            "metadata.name",
            "metadata.namespace",
            "spec.accessModes",
            "spec.storageClassName",
            "spec.selector",
            "spec.volumeName",
            "spec.volumeMode",
            "spec.dataSource",
            "spec.dataSourceRef",
        ],
        "source": "kubernetes/kubernetes pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate",
    },
}

"""Which inputs force a replacement of each stateful type: written by policies/tools/replace_table.py
(do not edit; rerun it after upgrading pulumi-aws, see its docstring).

`REPLACE_ON[type]["replaceOn"]` are input paths (camelCase engine keys, dots into objects, `[]` into
each item of a list) whose change the provider always meets with a replacement; `replaceIf` are those
it replaces only under a condition it evaluates itself (CustomizeDiff, RequiresReplaceIf), noted but
not judged; `autoNamed` are those the provider fills with a generated name when the program leaves
them out (the prior name is kept on later updates). `source` names each file the entry was derived
from and its commit; an entry marked "transcribed" was not derived (its source file was not given).
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any

PULUMI_AWS_VERSION = '7.51.1'
TERRAFORM_PROVIDER_AWS_REF = '00a35305dc1b297a6fcdecdfbba33f1e63c3da39'
DERIVED = ['aws:docdb/cluster:Cluster',
 'aws:docdb/elasticCluster:ElasticCluster',
 'aws:dynamodb/table:Table',
 'aws:ebs/volume:Volume',
 'aws:efs/fileSystem:FileSystem',
 'aws:elasticache/cluster:Cluster',
 'aws:elasticache/replicationGroup:ReplicationGroup',
 'aws:elasticache/serverlessCache:ServerlessCache',
 'aws:elasticsearch/domain:Domain',
 'aws:kinesis/stream:Stream',
 'aws:kms/key:Key',
 'aws:memorydb/cluster:Cluster',
 'aws:msk/serverlessCluster:ServerlessCluster',
 'aws:rds/cluster:Cluster',
 'aws:rds/globalCluster:GlobalCluster',
 'aws:rds/instance:Instance',
 'aws:s3/bucket:Bucket',
 'aws:s3/bucketV2:BucketV2',
 'aws:secretsmanager/secret:Secret',
 'aws:sqs/queue:Queue',
 'kubernetes:apps/v1:StatefulSet',
 'kubernetes:core/v1:PersistentVolumeClaim']
TRANSCRIBED = ['aws:msk/cluster:Cluster', 'aws:neptune/cluster:Cluster', 'aws:opensearch/domain:Domain']

REPLACE_ON: dict[str, dict[str, Any]] = {'aws:docdb/cluster:Cluster': {'autoNamed': [],
                               'replaceIf': {'serverlessV2ScalingConfiguration': 'CustomizeDiff '
                                                                                 'customdiff.ForceNewIfChange'},
                               'replaceOn': ['availabilityZones',
                                             'clusterIdentifier',
                                             'clusterIdentifierPrefix',
                                             'dbSubnetGroupName',
                                             'engine',
                                             'kmsKeyId',
                                             'masterUsername',
                                             'port',
                                             'restoreToPointInTime',
                                             'snapshotIdentifier',
                                             'storageEncrypted'],
                               'source': 'internal/service/docdb/cluster.go@010e0435dc8db1659cf12498559d8897d6fddab0; '
                                         'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                         'pulumi-aws '
                                         'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:docdb/elasticCluster:ElasticCluster': {'autoNamed': ['name'],
                                             'replaceIf': {},
                                             'replaceOn': ['adminUserName', 'authType', 'kmsKeyId', 'name'],
                                             'source': 'internal/service/docdbelastic/cluster.go@00b7ce004aa26d58382b38359efcdf8a065d7008; '
                                                       'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                                       'pulumi-aws '
                                                       'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:dynamodb/table:Table': {'autoNamed': ['name'],
                              'replaceIf': {},
                              'replaceOn': ['hashKey',
                                            'localSecondaryIndexes',
                                            'name',
                                            'rangeKey',
                                            'restoreSourceName',
                                            'restoreToLatestTime',
                                            'restoreDateTime'],
                              'source': 'internal/service/dynamodb/table.go@01335dd3cd3dff10ace08b5250b7302d4dbb0e04; '
                                        'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                        'pulumi-aws '
                                        'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:ebs/volume:Volume': {'autoNamed': [],
                           'replaceIf': {},
                           'replaceOn': ['availabilityZone',
                                         'encrypted',
                                         'kmsKeyId',
                                         'multiAttachEnabled',
                                         'outpostArn',
                                         'snapshotId'],
                           'source': 'internal/service/ec2/ebs_volume.go@0073593e7d6993ba482409f4dc35438daaa79bb3; '
                                     'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                     'pulumi-aws '
                                     'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:efs/fileSystem:FileSystem': {'autoNamed': ['creationToken'],
                                   'replaceIf': {},
                                   'replaceOn': ['availabilityZoneName',
                                                 'creationToken',
                                                 'encrypted',
                                                 'kmsKeyId',
                                                 'performanceMode'],
                                   'source': 'internal/service/efs/file_system.go@0389f4671dd9086cbe548d8eeabf0df30d1c38d9; '
                                             'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                             'pulumi-aws '
                                             'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:elasticache/cluster:Cluster': {'autoNamed': ['clusterId'],
                                     'replaceIf': {'engineVersion': 'CustomizeDiff ResourceDiff.ForceNew',
                                                   'nodeType': 'CustomizeDiff ResourceDiff.ForceNew'},
                                     'replaceOn': ['availabilityZone',
                                                   'clusterId',
                                                   'engine',
                                                   'networkType',
                                                   'outpostMode',
                                                   'port',
                                                   'preferredOutpostArn',
                                                   'replicationGroupId',
                                                   'snapshotArns',
                                                   'snapshotName',
                                                   'subnetGroupName',
                                                   'transitEncryptionEnabled'],
                                     'source': 'internal/service/elasticache/cluster.go@01606926a0c0ab9174aec440f976a48b0baee722; '
                                               'internal/service/elasticache/engine_version.go@01606926a0c0ab9174aec440f976a48b0baee722; '
                                               'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                               'pulumi-aws '
                                               'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:elasticache/replicationGroup:ReplicationGroup': {'autoNamed': ['replicationGroupId'],
                                                       'replaceIf': {'nodeGroupConfigurations': 'CustomizeDiff '
                                                                                                'customdiff.ForceNewIf',
                                                                     'transitEncryptionEnabled': 'CustomizeDiff '
                                                                                                 'customdiff.ForceNewIf'},
                                                       'replaceOn': ['atRestEncryptionEnabled',
                                                                     'dataTieringEnabled',
                                                                     'globalReplicationGroupId',
                                                                     'kmsKeyId',
                                                                     'networkType',
                                                                     'port',
                                                                     'replicationGroupId',
                                                                     'securityGroupNames',
                                                                     'snapshotArns',
                                                                     'snapshotName',
                                                                     'subnetGroupName'],
                                                       'source': 'internal/service/elasticache/replication_group.go@001b6364c1a3b3045e152f655440a6d47eb44a70; '
                                                                 'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                                                 'pulumi-aws '
                                                                 'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:elasticache/serverlessCache:ServerlessCache': {'autoNamed': ['name'],
                                                     'replaceIf': {},
                                                     'replaceOn': ['engine',
                                                                   'kmsKeyId',
                                                                   'majorEngineVersion',
                                                                   'name',
                                                                   'snapshotArnsToRestores',
                                                                   'subnetIds'],
                                                     'source': 'internal/service/elasticache/serverless_cache.go@00a919d1548eb437816d4838f320502ad34183ff; '
                                                               'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                                               'pulumi-aws '
                                                               'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:elasticsearch/domain:Domain': {'autoNamed': ['domainName'],
                                     'replaceIf': {'elasticsearchVersion': 'CustomizeDiff '
                                                                           'customdiff.ForceNewIf',
                                                   'encryptAtRest.enabled': 'CustomizeDiff '
                                                                            'customdiff.ForceNewIf',
                                                   'nodeToNodeEncryption.enabled': 'CustomizeDiff '
                                                                                   'customdiff.ForceNewIf'},
                                     'replaceOn': ['advancedSecurityOptions.enabled',
                                                   'domainName',
                                                   'encryptAtRest.kmsKeyId',
                                                   'vpcOptions'],
                                     'source': 'internal/service/elasticsearch/domain.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39; '
                                               'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                               'pulumi-aws '
                                               'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:kinesis/stream:Stream': {'autoNamed': ['name'],
                               'replaceIf': {},
                               'replaceOn': ['name'],
                               'source': 'internal/service/kinesis/stream.go@03aadd4385481a5bb0e26d7eec2a2d75ea30c9a0; '
                                         'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                         'pulumi-aws '
                                         'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:kms/key:Key': {'autoNamed': [],
                     'replaceIf': {},
                     'replaceOn': ['customKeyStoreId',
                                   'customerMasterKeySpec',
                                   'keyUsage',
                                   'multiRegion',
                                   'xksKeyId'],
                     'source': 'internal/service/kms/key.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39; '
                               'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                               'pulumi-aws '
                               'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:memorydb/cluster:Cluster': {'autoNamed': ['name'],
                                  'replaceIf': {},
                                  'replaceOn': ['autoMinorVersionUpgrade',
                                                'dataTiering',
                                                'kmsKeyArn',
                                                'name',
                                                'namePrefix',
                                                'port',
                                                'snapshotArns',
                                                'snapshotName',
                                                'subnetGroupName',
                                                'tlsEnabled'],
                                  'source': 'internal/service/memorydb/cluster.go@005ca9db703bd2e271f5796ffdcef771691e18a5; '
                                            'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                            'pulumi-aws '
                                            'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:msk/cluster:Cluster': {'autoNamed': ['clusterName'],
                             'replaceIf': {},
                             'replaceOn': ['clusterName'],
                             'source': 'transcribed from internal/service/kafka/cluster.go (a generator run '
                                       'on a full checkout replaces it)'},
 'aws:msk/serverlessCluster:ServerlessCluster': {'autoNamed': ['clusterName'],
                                                 'replaceIf': {},
                                                 'replaceOn': ['clientAuthentication',
                                                               'clusterName',
                                                               'vpcConfigs'],
                                                 'source': 'internal/service/kafka/serverless_cluster.go@02fe3b283b48a2d41bc19312150fb7bfe8f746fc; '
                                                           'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                                           'pulumi-aws '
                                                           'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:neptune/cluster:Cluster': {'autoNamed': ['clusterIdentifier'],
                                 'replaceIf': {},
                                 'replaceOn': ['clusterIdentifier',
                                               'clusterIdentifierPrefix',
                                               'availabilityZones',
                                               'engine',
                                               'kmsKeyArn',
                                               'snapshotIdentifier',
                                               'storageEncrypted'],
                                 'source': 'transcribed from internal/service/neptune/cluster.go (a '
                                           'generator run on a full checkout replaces it)'},
 'aws:opensearch/domain:Domain': {'autoNamed': ['domainName'],
                                  'replaceIf': {},
                                  'replaceOn': ['domainName'],
                                  'source': 'transcribed from internal/service/opensearch/domain.go (a '
                                            'generator run on a full checkout replaces it)'},
 'aws:rds/cluster:Cluster': {'autoNamed': [],
                             'replaceIf': {'storageType': 'CustomizeDiff customdiff.ForceNewIf'},
                             'replaceOn': ['availabilityZones',
                                           'clusterIdentifier',
                                           'clusterIdentifierPrefix',
                                           'clusterScalabilityType',
                                           'databaseName',
                                           'dbSubnetGroupName',
                                           'dbSystemId',
                                           'engine',
                                           'engineMode',
                                           'kmsKeyId',
                                           'masterUsername',
                                           'restoreToPointInTime',
                                           's3Import.bucketName',
                                           's3Import.bucketPrefix',
                                           's3Import.ingestionRole',
                                           's3Import.sourceEngine',
                                           's3Import.sourceEngineVersion',
                                           'snapshotIdentifier',
                                           'sourceRegion',
                                           'storageEncrypted'],
                             'source': 'internal/service/rds/cluster.go@0168cf6844f393420326f1426bf18ed357b56a77; '
                                       'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                       'pulumi-aws '
                                       'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:rds/globalCluster:GlobalCluster': {'autoNamed': [],
                                         'replaceIf': {},
                                         'replaceOn': ['databaseName',
                                                       'engine',
                                                       'globalClusterIdentifier',
                                                       'sourceDbClusterIdentifier',
                                                       'storageEncrypted'],
                                         'source': 'internal/service/rds/global_cluster.go@060c26034cb68a176dc23146b1fe6fdc92accba7; '
                                                   'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                                   'pulumi-aws '
                                                   'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:rds/instance:Instance': {'autoNamed': ['identifier', 'name'],
                               'replaceIf': {},
                               'replaceOn': ['availabilityZone',
                                             'characterSetName',
                                             'customIamInstanceProfile',
                                             'dbName',
                                             'engine',
                                             'identifier',
                                             'identifierPrefix',
                                             'kmsKeyId',
                                             'name',
                                             'ncharCharacterSetName',
                                             'restoreToPointInTime',
                                             's3Import.bucketName',
                                             's3Import.bucketPrefix',
                                             's3Import.ingestionRole',
                                             's3Import.sourceEngine',
                                             's3Import.sourceEngineVersion',
                                             'snapshotIdentifier',
                                             'storageEncrypted',
                                             'timezone',
                                             'username'],
                               'source': 'internal/service/rds/instance.go@00e4b23838859616dd0ebc9d1fd9364c0f6bff22; '
                                         'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                         'pulumi-aws '
                                         'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:s3/bucket:Bucket': {'autoNamed': ['bucket'],
                          'replaceIf': {},
                          'replaceOn': ['bucket',
                                        'bucketPrefix',
                                        'objectLockConfiguration.objectLockEnabled'],
                          'source': 'internal/service/s3/bucket.go@0070bcd12c952f14c5434a6f351ef7b6fa791226; '
                                    'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                    'pulumi-aws '
                                    'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:s3/bucketV2:BucketV2': {'autoNamed': ['bucket'],
                              'replaceIf': {},
                              'replaceOn': ['bucket',
                                            'bucketPrefix',
                                            'objectLockConfiguration.objectLockEnabled'],
                              'source': 'internal/service/s3/bucket.go@0070bcd12c952f14c5434a6f351ef7b6fa791226; '
                                        'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                        'pulumi-aws '
                                        'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3 '
                                        '(alias of aws:s3/bucket:Bucket)'},
 'aws:secretsmanager/secret:Secret': {'autoNamed': ['name'],
                                      'replaceIf': {},
                                      'replaceOn': ['name', 'namePrefix'],
                                      'source': 'internal/service/secretsmanager/secret.go@00c21cedec069dd27093b175baf15bac6d4b30fe; '
                                                'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                                'pulumi-aws '
                                                'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'aws:sqs/queue:Queue': {'autoNamed': ['name'],
                         'replaceIf': {},
                         'replaceOn': ['fifoQueue', 'name', 'namePrefix'],
                         'source': 'internal/service/sqs/queue.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39; '
                                   'names/attr_consts_gen.go@8ccb46cffbc63d47c98d8d876de5a1c977ad98e8; '
                                   'pulumi-aws '
                                   'provider/resource_overrides.go@015d343812852f40a045a28e7f6e04bca69548f3'},
 'kubernetes:apps/v1:StatefulSet': {'autoNamed': ['metadata.name'],
                                    'replaceIf': {},
                                    'replaceOn': ['metadata.name',
                                                  'metadata.namespace',
                                                  'spec.selector',
                                                  'spec.serviceName',
                                                  'spec.volumeClaimTemplates',
                                                  'spec.podManagementPolicy'],
                                    'source': 'kubernetes/kubernetes pkg/apis/apps/validation/validation.go '
                                              'ValidateStatefulSetUpdate'},
 'kubernetes:core/v1:PersistentVolumeClaim': {'autoNamed': ['metadata.name'],
                                              'replaceIf': {},
                                              'replaceOn': ['metadata.name',
                                                            'metadata.namespace',
                                                            'spec.accessModes',
                                                            'spec.storageClassName',
                                                            'spec.selector',
                                                            'spec.volumeName',
                                                            'spec.volumeMode',
                                                            'spec.dataSource',
                                                            'spec.dataSourceRef'],
                                              'source': 'kubernetes/kubernetes '
                                                        'pkg/apis/core/validation/validation.go '
                                                        'ValidatePersistentVolumeClaimUpdate'}}

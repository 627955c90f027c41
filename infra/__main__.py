"""The stateless-stack program: read the settings, wire the components, export the outputs."""

from __future__ import annotations

import sys
from pathlib import Path

# The engine runs this file as a script from infra/; the program's modules live in the `infra`
# package so that tests, tools and the program all import them by the same names.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.components.app_config import (
    AppEnvironment,
    AppEnvironmentArgs,
    AppRuntimeInputs,
    JwtSigningKey,
    JwtSigningKeyArgs,
)
from infra.components.cache import Cache, CacheArgs
from infra.components.compute_asg import ComputeAsg, ComputeAsgArgs
from infra.components.database import Database, DatabaseArgs
from infra.components.edge import Edge, EdgeArgs
from infra.components.network import Network, NetworkArgs
from infra.components.queue import QueueArgs, WorkQueue
from infra.components.registry import ImageRepository, ImageRepositoryArgs
from infra.components.security import Security, SecurityArgs
from infra.components.storage import SecureBucket, SecureBucketArgs
from infra.settings import load_settings

s = load_settings()
env = s.environment

network = Network(
    f"{env}-net",
    NetworkArgs(
        vpc_cidr=s.network.vpc_cidr,
        public_subnets=s.network.public_subnets,
        app_subnets=s.network.app_subnets,
        data_subnets=s.network.data_subnets,
        nat_gateway_per_az=s.network.nat_gateway_per_az,
        flow_log_retention_days=s.log_retention_days,
    ),
)

security = Security(f"{env}-sg", SecurityArgs(vpc_id=network.vpc_id, app_port=s.compute.app_port))

bucket = SecureBucket(
    f"{env}-data",
    SecureBucketArgs(noncurrent_version_days=s.storage.noncurrent_version_days),
)

queue = WorkQueue(
    f"{env}-work",
    QueueArgs(
        max_receive_count=s.queue.max_receive_count,
        visibility_timeout_seconds=s.queue.visibility_timeout_seconds,
        alarm_actions=(s.alarm_topic_arn,) if s.alarm_topic_arn else (),
    ),
)

cache = Cache(
    f"{env}-cache",
    CacheArgs(
        subnet_ids=network.data_subnet_ids,
        security_group_ids=[security.cache_sg_id],
        node_type=s.cache.node_type,
        engine_version=s.cache.engine_version,
        num_nodes=s.cache.num_nodes,
        automatic_failover=s.cache.automatic_failover,
        multi_az=s.cache.multi_az,
        snapshot_retention_days=s.cache.snapshot_retention_days,
    ),
)

database = Database(
    f"{env}-db",
    DatabaseArgs(
        subnet_ids=network.data_subnet_ids,
        security_group_ids=[security.db_sg_id],
        instance_class=s.database.instance_class,
        engine_version=s.database.engine_version,
        db_name=s.database.name,
        allocated_storage_gb=s.database.allocated_storage_gb,
        max_allocated_storage_gb=s.database.max_allocated_storage_gb,
        multi_az=s.database.multi_az,
        backup_retention_days=s.database.backup_retention_days,
        deletion_protection=s.database.deletion_protection,
        performance_insights=s.database.performance_insights,
    ),
)

jwt_key = JwtSigningKey(f"{env}-jwt", JwtSigningKeyArgs(project=s.project, environment=env))

runtime = AppRuntimeInputs(
    region=s.region,
    database_host=database.address,
    database_port=database.port,
    database_name=database.db_name,
    database_secret_arn=database.master_secret_arn,
    redis_host=cache.primary_endpoint,
    redis_port=cache.port,
    redis_auth_secret_arn=cache.auth_secret_arn,
    bucket=bucket.bucket_name,
    queue_url=queue.queue_url,
    jwt_private_key_secret_arn=jwt_key.secret_arn,
    jwt_issuer=s.app.jwt_issuer,
    jwt_audience=s.app.jwt_audience,
)
app_environment = AppEnvironment(
    f"{env}-app-env", AppEnvironmentArgs(project=s.project, environment=env, runtime=runtime)
)

edge = Edge(
    f"{env}-edge",
    EdgeArgs(
        vpc_id=network.vpc_id,
        subnet_ids=network.public_subnet_ids,
        security_group_ids=[security.alb_sg_id],
        region=s.region,
        app_port=s.compute.app_port,
        certificate_arn=s.edge.certificate_arn,
        deletion_protection=s.edge.deletion_protection,
        idle_timeout_seconds=s.edge.idle_timeout_seconds,
        log_retention_days=s.log_retention_days,
    ),
)

registry = ImageRepository(f"{env}-image", ImageRepositoryArgs(image_tag=s.compute.image_tag))

# settings.IMPLEMENTED_COMPUTE_MODES has already refused any mode not built here.
if s.compute.mode == "asg":
    ComputeAsg(
        f"{env}-app",
        ComputeAsgArgs(
            region=s.region,
            subnet_ids=network.app_subnet_ids,
            security_group_ids=[security.app_sg_id],
            target_group_arn=edge.target_group_arn,
            env_parameter_name=app_environment.parameter_name,
            env_parameter_arn=app_environment.parameter_arn,
            secret_arns=[database.master_secret_arn, cache.auth_secret_arn, jwt_key.secret_arn],
            bucket_arn=bucket.bucket_arn,
            queue_arn=queue.queue_arn,
            image=registry.image,
            repository_arn=registry.repository_arn,
            instance_type=s.compute.instance_type,
            ami_parameter=s.compute.ami_parameter,
            root_volume_size_gb=s.compute.root_volume_size_gb,
            min_size=s.compute.min_size,
            desired_capacity=s.compute.desired_capacity,
            max_size=s.compute.max_size,
            cpu_target_percent=s.compute.cpu_target_percent,
            log_retention_days=s.log_retention_days,
        ),
    )

pulumi.export("ecrRepositoryUrl", registry.repository_url)
pulumi.export("appUrl", edge.url)
pulumi.export("bucketName", bucket.bucket_name)
pulumi.export("queueUrl", queue.queue_url)
pulumi.export("dlqUrl", queue.dlq_url)
pulumi.export("dbEndpoint", database.address)
pulumi.export("redisEndpoint", cache.primary_endpoint)
pulumi.export("appEnvironmentParameter", app_environment.parameter_name)
pulumi.export("jwtSigningKeySecretArn", jwt_key.secret_arn)

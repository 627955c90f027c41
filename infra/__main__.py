"""The stateless-stack program: read the settings, wire the components, export the outputs.

The stack file picks the compute mode (an autoscaling group, or EKS), the ingress mode (an
internet-facing ALB, or API Gateway in front of an internal ALB) and the worker (a Lambda function
fed by the work queue, in every mode); see infra/README.md.

One `pulumi up` on an empty account ends serving the API: the program builds and pushes the app image,
creates the JWT signing key in KMS and the app role's secret, runs the migration function (schema and
the app's database role) and only then starts compute, all from the same image by digest.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The engine runs this file as a script from infra/; the program's modules live in the `infra`
# package so that tests, tools and the program all import them by the same names.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_aws as aws

from infra.components.api import CLIENT_ADDRESS_HEADER, ApiGateway, ApiGatewayArgs
from infra.components.app_config import (
    AppEnvironment,
    AppEnvironmentArgs,
    AppRuntimeInputs,
    JwtSigningKey,
    JwtSigningKeyArgs,
)
from infra.components.cache import Cache, CacheArgs
from infra.components.compute_asg import ComputeAsg, ComputeAsgArgs
from infra.components.compute_eks import ComputeEks, ComputeEksArgs, NodeGroupSettings
from infra.components.database import Database, DatabaseArgs
from infra.components.dns import AliasRecord, AliasRecordArgs
from infra.components.edge import Edge, EdgeArgs
from infra.components.k8s_app import AutoscalingSettings, WorkloadSettings
from infra.components.migration import Migration, MigrationArgs
from infra.components.network import Network, NetworkArgs
from infra.components.queue import QueueArgs, WorkQueue
from infra.components.registry import ImageRepository, ImageRepositoryArgs
from infra.components.security import Security, SecurityArgs
from infra.components.storage import SecureBucket, SecureBucketArgs
from infra.components.worker import Worker, WorkerArgs
from infra.lib import app_env
from infra.settings import load_settings

s = load_settings()
env = s.environment
behind_api = s.ingress.mode == "apigateway"

# On EKS the ALB reaches the pods through the Service's NodePort on every node, so that port is the
# one the ALB security group and target group use; the pods themselves listen on appPort.
workload: WorkloadSettings | None = None
if s.eks is not None:
    workload = WorkloadSettings(
        replicas=s.eks.replicas,
        container_port=s.compute.app_port,
        autoscaling=AutoscalingSettings(
            min_replicas=s.eks.hpa_min_replicas,
            max_replicas=s.eks.hpa_max_replicas,
            cpu_target_percent=s.eks.hpa_cpu_target_percent,
        ),
    )
target_port = workload.node_port if workload is not None else s.compute.app_port

network = Network(
    f"{env}-net",
    NetworkArgs(config=s.network, flow_log_retention_days=s.log_retention_days),
)

security = Security(
    f"{env}-sg",
    # Behind API Gateway nothing reaches the ALB from the internet; the API adds its VPC link's rule.
    SecurityArgs(vpc_id=network.vpc_id, app_port=target_port, public_ports=() if behind_api else (443, 80)),
)

# The components that hold state; `protect` reaches their children (the SDK inherits it from the parent).
stateful = pulumi.ResourceOptions(protect=s.general.protect_stateful_resources)

bucket = SecureBucket(
    f"{env}-data",
    # A disposable stack (dev) lets `pulumi destroy` delete the bucket with every object version in it.
    SecureBucketArgs(config=s.storage, force_destroy=s.release.disposable),
    opts=stateful,
)

queue = WorkQueue(
    f"{env}-work",
    QueueArgs(config=s.queue, alarm_actions=(s.alarm_topic_arn,) if s.alarm_topic_arn else ()),
    opts=stateful,
)

cache = Cache(
    f"{env}-cache",
    CacheArgs(
        subnet_ids=network.data_subnet_ids,
        security_group_ids=[security.cache_sg_id],
        config=s.cache,
    ),
    opts=stateful,
)

database = Database(
    f"{env}-db",
    DatabaseArgs(
        subnet_ids=network.data_subnet_ids,
        security_group_ids=[security.db_sg_id],
        config=s.database,
        log_retention_days=s.log_retention_days,
    ),
    opts=stateful,
)

jwt_key = JwtSigningKey(f"{env}-jwt", JwtSigningKeyArgs(project=s.project, environment=env), opts=stateful)

# The certificate by ARN, or looked up by domain in the deploying account (no account-specific ARN in
# the stack file); None serves plain HTTP.
certificate: pulumi.Input[str] | None = s.edge.certificate_arn
if s.edge.certificate_domain is not None:
    certificate = aws.acm.get_certificate_output(
        domain=s.edge.certificate_domain, statuses=["ISSUED"], most_recent=True,
    ).arn

runtime = AppRuntimeInputs(
    region=s.region,
    database_host=database.address,
    database_port=database.port,
    database_name=database.db_name,
    # The app's own least-privilege role; the master secret goes to the migration runner alone.
    database_secret_arn=database.app_secret_arn,
    redis_host=cache.primary_endpoint,
    redis_port=cache.port,
    redis_auth_secret_arn=cache.auth_secret_arn,
    bucket=bucket.bucket_name,
    queue_url=queue.queue_url,
    jwt_kms_key_id=jwt_key.key_arn,
    jwt_issuer=s.app.jwt_issuer,
    jwt_audience=s.app.jwt_audience,
    app_port=s.compute.app_port,
    # The ALB reuses idle connections for its idle timeout; the app must keep them open longer.
    keepalive_timeout_seconds=app_env.keepalive_timeout(s.edge.idle_timeout_seconds),
    # Behind API Gateway every request comes from the VPC link: the client is in the mapped header.
    client_address_header=CLIENT_ADDRESS_HEADER if behind_api else "",
)
app_environment = AppEnvironment(
    f"{env}-app-env", AppEnvironmentArgs(project=s.project, environment=env, runtime=runtime)
)

edge = Edge(
    f"{env}-edge",
    EdgeArgs(
        vpc_id=network.vpc_id,
        subnet_ids=network.app_subnet_ids if behind_api else network.public_subnet_ids,
        security_group_ids=[security.alb_sg_id],
        region=s.region,
        internet_facing=not behind_api,
        app_port=target_port,
        certificate_arn=certificate,
        config=s.edge,
        protect_access_logs=s.general.protect_stateful_resources,
        log_retention_days=s.log_retention_days,
        disposable=s.release.disposable,
    ),
)

# The first stack builds the commit's image; a promoted stack deploys the digest it is given (imageDigest).
registry = ImageRepository(f"{env}-image", ImageRepositoryArgs(
    image_label=s.compute.image_tag,
    image_digest=s.release.image_digest,
    force_delete=s.release.disposable,
))

# Schema and the app's database role, before anything runs the app (compute and worker wait for it).
migration = Migration(
    f"{env}-migrate",
    MigrationArgs(
        vpc_id=network.vpc_id,
        subnet_ids=network.app_subnet_ids,
        image=registry.image,
        environment=app_environment.environment,
        master_secret_arn=database.master_secret_arn,
        app_secret_arn=database.app_secret_arn,
        app_secret_version=database.app_secret_version,
        database_security_group_id=security.db_sg_id,
        log_retention_days=s.log_retention_days,
    ),
    # The function must reach the database and Secrets Manager when it is invoked: every security-group
    # rule and every route (NAT, S3 endpoint) first. Depending on a component waits for all its children.
    opts=pulumi.ResourceOptions(depends_on=[network, security]),
)
# Everything that runs the app's code waits for the migration, on every update: a failed migration stops
# the update before any of them takes the new image, so the old code keeps running everywhere.
after_migration = pulumi.ResourceOptions(depends_on=[migration.invocation])

app_secret_arns = [database.app_secret_arn, cache.auth_secret_arn]

if s.eks is not None and workload is not None:
    eks = ComputeEks(
        f"{env}-app",
        ComputeEksArgs(
            cluster_name=f"{s.project}-{env}",
            subnet_ids=network.app_subnet_ids,
            node_security_group_ids=[security.app_sg_id],
            target_group_arn=edge.target_group_arn,
            image=registry.image,
            environment=app_environment.environment,
            bucket_arn=bucket.bucket_arn,
            queue_arn=queue.queue_arn,
            secret_arns=app_secret_arns,
            signing_key_arn=jwt_key.key_arn,
            nodes=NodeGroupSettings(
                min_size=s.eks.node_min_size,
                desired_size=s.eks.node_desired_size,
                max_size=s.eks.node_max_size,
                instance_types=s.eks.node_instance_types,
                root_volume_gib=s.compute.root_volume_size_gb,
            ),
            workload=workload,
            kubernetes_version=s.eks.kubernetes_version,
            upgrade_support_type=s.eks.upgrade_policy,
            public_access_cidrs=s.eks.public_access_cidrs,
            deployer_principal_arn=s.eks.deployer_principal_arn,
            admin_principal_arns=s.eks.admin_principal_arns,
            deletion_protection=s.eks.deletion_protection,
            log_retention_days=s.log_retention_days,
        ),
        opts=after_migration,
    )
    pulumi.export("clusterName", eks.cluster_name)
    pulumi.export("clusterEndpoint", eks.cluster_endpoint)
else:
    ComputeAsg(
        f"{env}-app",
        ComputeAsgArgs(
            region=s.region,
            subnet_ids=network.app_subnet_ids,
            security_group_ids=[security.app_sg_id],
            target_group_arn=edge.target_group_arn,
            env_parameter_name=app_environment.parameter_name,
            env_parameter_arn=app_environment.parameter_arn,
            secret_arns=app_secret_arns,
            signing_key_arn=jwt_key.key_arn,
            bucket_arn=bucket.bucket_arn,
            queue_arn=queue.queue_arn,
            image=registry.image,
            repository_arn=registry.repository_arn,
            environment=app_environment.environment,
            config=s.compute,
            log_retention_days=s.log_retention_days,
        ),
        opts=after_migration,
    )

# settings.WORKER_MODES has only "lambda": the worker is the same function whatever runs the web tier.
worker = Worker(
    f"{env}-worker",
    WorkerArgs(
        vpc_id=network.vpc_id,
        subnet_ids=network.app_subnet_ids,
        image=registry.image,
        queue_arn=queue.queue_arn,
        queue_visibility_timeout_seconds=s.queue.visibility_timeout_seconds,
        bucket_arn=bucket.bucket_arn,
        database_secret_arn=database.app_secret_arn,
        database_security_group_id=security.db_sg_id,
        environment=app_environment.environment,
        config=s.worker,
        log_retention_days=s.log_retention_days,
    ),
    # The worker connects as the app role the migration creates.
    opts=after_migration,
)

app_url = edge.url
# The alias record of the stack's domain, when the stack names the hosted zone that holds it: the
# certificate's domain in front of the internet-facing ALB, or the API's custom domain (which is also the
# JWT issuer's host, so the authorizer can fetch the issuer's discovery document).
record_target: tuple[str, pulumi.Input[str], pulumi.Input[str]] | None = None
if s.release.hosted_zone_id is not None and not behind_api and s.edge.certificate_domain is not None:
    record_target = (s.edge.certificate_domain, edge.dns_name, edge.zone_id)
    app_url = pulumi.Output.from_input(f"https://{s.edge.certificate_domain}")
if behind_api:
    domain = s.ingress.domain_name
    api = ApiGateway(
        f"{env}-api",
        ApiGatewayArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.app_subnet_ids,
            listener_arn=edge.listener_arn,
            listener_port=edge.listener_port,
            alb_security_group_id=security.alb_sg_id,
            issuer=s.app.jwt_issuer,
            audiences=[s.app.jwt_audience],
            # The internal ALB's certificate is the stack's, which covers the API's own domain.
            tls_server_name=domain if s.edge.has_certificate else None,
            config=s.ingress,
            access_log_retention_days=s.log_retention_days,
            domain_name=domain,
            certificate_arn=certificate if domain else None,
        ),
    )
    app_url = pulumi.Output.from_input(f"https://{domain}") if domain else api.api_endpoint
    pulumi.export("apiEndpoint", api.api_endpoint)
    if domain:
        pulumi.export("apiDomainTarget", api.domain_target)
        if s.release.hosted_zone_id is not None:
            record_target = (domain, api.domain_target.apply(str), api.domain_zone_id.apply(str))
if record_target is not None and s.release.hosted_zone_id is not None:
    record_name, target_dns, target_zone = record_target
    AliasRecord(f"{env}-dns", AliasRecordArgs(
        zone_id=s.release.hosted_zone_id, name=record_name, target_dns_name=target_dns, target_zone_id=target_zone,
    ))

pulumi.export("ecrRepositoryUrl", registry.repository_url)
pulumi.export("appUrl", app_url)
pulumi.export("loadBalancerUrl", edge.url)
pulumi.export("bucketName", bucket.bucket_name)
pulumi.export("queueUrl", queue.queue_url)
pulumi.export("dlqUrl", queue.dlq_url)
pulumi.export("dbEndpoint", database.address)
pulumi.export("redisEndpoint", cache.primary_endpoint)
pulumi.export("appEnvironmentParameter", app_environment.parameter_name)
pulumi.export("jwtSigningKeyArn", jwt_key.key_arn)
pulumi.export("appImage", registry.image)
pulumi.export("appDatabaseSecretArn", database.app_secret_arn)
pulumi.export("migrationFunctionName", migration.function_name)
pulumi.export("workerFunctionName", worker.function_name)

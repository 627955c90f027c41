"""Cache: Redis on ElastiCache for sessions and carts.

Creates: a cache subnet group over the private-data subnets; a random AUTH token; a Secrets Manager
secret holding it (the app reads it by ARN); a replication group with TLS in transit, encryption
at rest, the AUTH token, automatic failover and Multi-AZ as asked, and automatic snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.config import CacheConfig

REDIS_PORT = 6379


@dataclass(frozen=True, kw_only=True)
class CacheArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    config: CacheConfig = field(default_factory=CacheConfig)
    """the stack's cache* keys: node type, engine, nodes, failover, Multi-AZ, snapshots"""

    def __post_init__(self) -> None:
        if len(self.subnet_ids) < 2:
            raise ValueError("the cache subnet group needs subnets in at least 2 AZs")
        if not self.security_group_ids:
            raise ValueError("the cache needs a security group")


class Cache(pulumi.ComponentResource):
    primary_endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    auth_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:cache:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description="private-data subnets",
            opts=child,
        )
        # AUTH tokens may not contain @, " or /; letters and digits avoid every quoting problem.
        token = random.RandomPassword(f"{name}-auth-token", length=48, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-auth-secret",
            description="Redis AUTH token for the app",
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-auth-secret-value",
            secret_id=secret.id,
            secret_string=token.result,
            opts=child,
        )
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            description="sessions and carts for the stateless app",
            engine="redis",
            engine_version=args.config.engine_version,
            node_type=args.config.node_type,
            port=REDIS_PORT,
            num_cache_clusters=args.config.num_nodes,
            automatic_failover_enabled=args.config.automatic_failover,
            multi_az_enabled=args.config.multi_az,
            subnet_group_name=subnet_group.name,
            security_group_ids=list(args.security_group_ids),
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            auth_token=token.result,
            auth_token_update_strategy="ROTATE",
            snapshot_retention_limit=args.config.snapshot_retention_days,
            auto_minor_version_upgrade=True,
            opts=child,
        )

        self.primary_endpoint = group.primary_endpoint_address
        self.port = group.port.apply(lambda p: p if p is not None else REDIS_PORT)
        self.auth_secret_arn = secret.arn
        self.register_outputs(
            {"primaryEndpoint": self.primary_endpoint, "port": self.port, "authSecretArn": secret.arn}
        )

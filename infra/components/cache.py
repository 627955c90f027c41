"""Cache: Redis on ElastiCache for sessions and carts.

Creates: a cache subnet group over the private-data subnets; a random AUTH token; a Secrets Manager
secret holding it (the app reads it by ARN); a replication group with TLS in transit, encryption
at rest, the AUTH token, automatic failover and Multi-AZ as asked, and automatic snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

REDIS_PORT = 6379


@dataclass(frozen=True, kw_only=True)
class CacheArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    node_type: str = "cache.t4g.small"
    engine_version: str = "7.1"
    num_nodes: int = 2
    automatic_failover: bool = True
    multi_az: bool = True
    snapshot_retention_days: int = 1

    def __post_init__(self) -> None:
        if len(self.subnet_ids) < 2:
            raise ValueError("the cache subnet group needs subnets in at least 2 AZs")
        if not self.security_group_ids:
            raise ValueError("the cache needs a security group")
        if not 1 <= self.num_nodes <= 6:
            raise ValueError("num_nodes must be between 1 and 6")
        if self.automatic_failover and self.num_nodes < 2:
            raise ValueError("automatic failover needs at least 2 nodes")
        if self.multi_az and not self.automatic_failover:
            raise ValueError("Multi-AZ needs automatic failover")
        if not 0 <= self.snapshot_retention_days <= 35:
            raise ValueError("snapshot_retention_days must be between 0 and 35")


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
            engine_version=args.engine_version,
            node_type=args.node_type,
            port=REDIS_PORT,
            num_cache_clusters=args.num_nodes,
            automatic_failover_enabled=args.automatic_failover,
            multi_az_enabled=args.multi_az,
            subnet_group_name=subnet_group.name,
            security_group_ids=list(args.security_group_ids),
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            auth_token=token.result,
            auth_token_update_strategy="ROTATE",
            snapshot_retention_limit=args.snapshot_retention_days,
            auto_minor_version_upgrade=True,
            opts=child,
        )

        self.primary_endpoint = group.primary_endpoint_address
        self.port = group.port.apply(lambda p: p if p is not None else REDIS_PORT)
        self.auth_secret_arn = secret.arn
        self.register_outputs(
            {"primaryEndpoint": self.primary_endpoint, "port": self.port, "authSecretArn": secret.arn}
        )

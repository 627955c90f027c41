"""Database: the app's PostgreSQL on RDS, private and encrypted.

Creates: a DB subnet group over the private-data subnets; a parameter group that forces TLS
(`rds.force_ssl`) and logs slow statements; a PostgreSQL instance with encrypted gp3 storage,
no public address, an AWS-managed master password (kept by RDS in Secrets Manager, never seen by
the program), automated backups, deletion protection, a final snapshot on deletion, optional
Multi-AZ and Performance Insights.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.lib import naming

POSTGRES_PORT = 5432


def parameter_group_family(engine_version: str) -> str:
    major = engine_version.split(".", 1)[0]
    return f"postgres{major}"


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    instance_class: str = "db.t4g.medium"
    engine_version: str = "16"
    db_name: str = "app"
    master_username: str = "app_admin"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    multi_az: bool = True
    backup_retention_days: int = 7
    deletion_protection: bool = True
    performance_insights: bool = False

    def __post_init__(self) -> None:
        if len(self.subnet_ids) < 2:
            raise ValueError("RDS needs a subnet group over at least 2 AZs")
        if not self.security_group_ids:
            raise ValueError("the database needs a security group")
        if not re.fullmatch(r"\d+(\.\d+)?", self.engine_version):
            raise ValueError(f"engine_version {self.engine_version!r} is not a PostgreSQL version")
        if not 1 <= self.backup_retention_days <= 35:
            raise ValueError("backup_retention_days must be between 1 and 35; 0 would disable backups")
        if self.allocated_storage_gb > self.max_allocated_storage_gb:
            raise ValueError("allocated_storage_gb must not exceed max_allocated_storage_gb")
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", self.db_name):
            raise ValueError(f"db_name {self.db_name!r} is not a PostgreSQL identifier")


def _first_secret_arn(secrets: Sequence[Any]) -> str:
    arn = secrets[0].secret_arn if secrets else None
    if not arn:
        # RDS always reports the secret once it manages the password; its absence means the
        # instance was changed outside the program.
        raise ValueError("RDS reported no managed master-user secret for the database")
    return str(arn)


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    db_name: str
    master_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:database:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description="private-data subnets",
            opts=child,
        )
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_group_family(args.engine_version),
            description="TLS-only connections",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_min_duration_statement", value="1000"),
            ],
            opts=child,
        )
        instance = aws.rds.Instance(
            f"{name}-postgres",
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            db_name=args.db_name,
            username=args.master_username,
            # RDS generates and rotates the password in Secrets Manager; no program or state
            # file ever holds it.
            manage_master_user_password=True,
            port=POSTGRES_PORT,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=list(args.security_group_ids),
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=naming.final_snapshot_identifier(name),
            delete_automated_backups=False,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=args.performance_insights,
            performance_insights_retention_period=7 if args.performance_insights else None,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            opts=child,
        )

        self.address = instance.address
        self.port = instance.port
        self.db_name = args.db_name
        self.master_secret_arn = instance.master_user_secrets.apply(_first_secret_arn)
        self.register_outputs(
            {"address": instance.address, "port": instance.port, "masterSecretArn": self.master_secret_arn}
        )

"""Database: the app's PostgreSQL on RDS, private and encrypted, and the app's own database role secret.

Creates: a DB subnet group over the private-data subnets; a parameter group that forces TLS
(`rds.force_ssl`) and logs slow statements; a random suffix for the instance identifier; the CloudWatch
log groups RDS exports to (`/aws/rds/instance/<identifier>/postgresql` and `/upgrade`) with retention,
created before the instance so that RDS never creates unmanaged, never-expiring ones; a PostgreSQL
instance with encrypted gp3 storage, no public address, an AWS-managed master password (kept and
rotated by RDS in Secrets Manager, never seen by the program; only the migration runner reads it),
automated backups, deletion protection, a final snapshot named after the instance, optional Multi-AZ
and Performance Insights; the password of the app's least-privilege role `app` (pulumi_random) and its
Secrets Manager secret (JSON in the layout of AWS's rotation templates: engine, host, port, dbname,
username, password). The migration runner creates or updates the role from that secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.config import DatabaseConfig, LoggingConfig
from infra.lib import limits, naming

POSTGRES_PORT = 5432
APP_ROLE = "app"
# What RDS exports for PostgreSQL; each goes to /aws/rds/instance/<identifier>/<type>:
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html
LOG_EXPORTS = ("postgresql", "upgrade")


def parameter_group_family(engine_version: str) -> str:
    major = engine_version.split(".", 1)[0]
    return f"postgres{major}"


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_ids: Sequence[pulumi.Input[str]]
    config: DatabaseConfig = field(default_factory=DatabaseConfig)
    """the stack's db* keys: size, engine, Multi-AZ, backups, deletion protection, app password version"""
    master_username: str = "app_admin"
    log_retention_days: int = LoggingConfig().retention_days
    app_username: str = APP_ROLE

    def __post_init__(self) -> None:
        limits.check_log_retention(self.log_retention_days)
        if self.app_username == self.master_username or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", self.app_username):
            raise ValueError(f"app_username {self.app_username!r} must be a PostgreSQL identifier other than "
                             "the master user")
        if len(self.subnet_ids) < 2:
            raise ValueError("RDS needs a subnet group over at least 2 AZs")
        if not self.security_group_ids:
            raise ValueError("the database needs a security group")


def _first_secret_arn(secrets: Sequence[Any]) -> str:
    arn = secrets[0].secret_arn if secrets else None
    if not arn:
        # RDS always reports the secret once it manages the password; its absence means the
        # instance was changed outside the program.
        raise ValueError("RDS reported no managed master-user secret for the database")
    return str(arn)


def app_secret_document(*, username: str, password: str, host: str, port: int, dbname: str) -> str:
    """The app role's secret in the JSON layout AWS's PostgreSQL rotation functions read and write."""
    return json.dumps({"engine": "postgres", "host": host, "port": int(port), "dbname": dbname,
                       "username": username, "password": password})


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    db_name: str
    identifier: pulumi.Output[str]
    master_secret_arn: pulumi.Output[str]
    app_secret_arn: pulumi.Output[str]
    app_secret_version: pulumi.Output[str]
    """changes whenever the app role's password does (the migration runner re-runs on it)"""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:database:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        config = args.config

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description="private-data subnets",
            opts=child,
        )
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_group_family(config.engine_version),
            description="TLS-only connections",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_min_duration_statement", value="1000"),
            ],
            opts=child,
        )
        # An explicit identifier (the log groups must be named before the instance exists) that is still
        # unique per instance: the suffix is new whenever an input that replaces the instance changes, so
        # Pulumi's create-before-replace never meets "already exists", and each instance's final
        # snapshot has a name of its own.
        suffix = random.RandomId(
            f"{name}-id",
            byte_length=4,
            keepers={"engine": "postgres", "dbName": config.name, "username": args.master_username,
                     "storageEncrypted": "true"},
            opts=child,
        )
        identifier = suffix.hex.apply(lambda h: naming.db_identifier(name, h))

        def log_group_name(kind: str) -> pulumi.Output[str]:
            return identifier.apply(lambda i: f"/aws/rds/instance/{i}/{kind}")

        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{kind}-logs",
                name=log_group_name(kind),
                retention_in_days=args.log_retention_days,
                opts=child,
            )
            for kind in LOG_EXPORTS
        ]
        instance = aws.rds.Instance(
            f"{name}-postgres",
            identifier=identifier,
            engine="postgres",
            engine_version=config.engine_version,
            instance_class=config.instance_class,
            db_name=config.name,
            username=args.master_username,
            # RDS generates and rotates the password in Secrets Manager; no program or state
            # file ever holds it.
            manage_master_user_password=True,
            port=POSTGRES_PORT,
            allocated_storage=config.allocated_storage_gb,
            max_allocated_storage=config.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=list(args.security_group_ids),
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=config.multi_az,
            backup_retention_period=config.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=config.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=identifier.apply(naming.final_snapshot_identifier),
            delete_automated_backups=False,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=config.performance_insights,
            performance_insights_retention_period=7 if config.performance_insights else None,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_groups),
        )

        # Letters and digits only: no quoting problem in a libpq connection string or in ALTER ROLE.
        password = random.RandomPassword(
            f"{name}-app-password", length=40, special=False,
            keepers={"version": str(config.app_password_version)}, opts=child,
        )
        app_secret = aws.secretsmanager.Secret(
            f"{name}-app-secret",
            description=f"PostgreSQL role {args.app_username} of the app (least privilege; not the master user)",
            recovery_window_in_days=7,
            opts=child,
        )
        app_secret_value = aws.secretsmanager.SecretVersion(
            f"{name}-app-secret-value",
            secret_id=app_secret.id,
            # The password output is already secret, and so is everything computed from it.
            secret_string=pulumi.Output.all(password.result, instance.address, instance.port).apply(
                lambda v: app_secret_document(
                    username=args.app_username, password=v[0], host=v[1], port=v[2], dbname=config.name,
                )
            ),
            opts=child,
        )

        self.address = instance.address
        self.port = instance.port
        self.db_name = config.name
        self.identifier = instance.identifier
        self.master_secret_arn = instance.master_user_secrets.apply(_first_secret_arn)
        self.app_secret_arn = app_secret.arn
        self.app_secret_version = app_secret_value.version_id
        self.register_outputs({
            "address": instance.address,
            "port": instance.port,
            "identifier": instance.identifier,
            "masterSecretArn": self.master_secret_arn,
            "appSecretArn": app_secret.arn,
        })

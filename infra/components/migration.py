"""The migration runner: the app image as a Lambda function, invoked by `pulumi up` before compute starts.

Creates, under one `stateless:migration:Migration` component:
- the function's security group (HTTPS out, PostgreSQL to the database group and its ingress rule), its
  log group and its role (see `worker.vpc_function_base`),
- an inline policy: read the RDS master secret and the app role's secret, write its own logs, attach to
  the VPC; nothing else,
- the function: the app image by digest with `app.migrate.handler`, in the private-app subnets, with the
  app's environment plus APP_DATABASE_MASTER_SECRET_ARN (the only function that receives it),
- an `aws.lambda_.Invocation` that runs it during `pulumi up`: again whenever the image (so the schema in
  it) or the app role's password changes. The invocation fails the update when the function reports an
  error, so compute, which depends on it, never starts against a database without its schema or role.

What the handler does (creates or updates the `app` role from the app secret, no superuser, DML on the
app's tables only; applies the schema) lives in the app (`python -m app migrate`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.context import checked_environment
from infra.components.worker import (
    check_image_reference,
    image_config,
    lambda_environment,
    vpc_function_base,
)
from infra.config import LoggingConfig
from infra.lib import app_env, iam, limits

MIGRATE_HANDLER = "app.migrate.handler"
INVOCATION_INPUT = {"action": "migrate"}


@dataclass(frozen=True, kw_only=True)
class MigrationArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    image: pulumi.Input[str]
    """the app image by digest; a new digest runs the migration again"""
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """the app's environment contract; the master secret's ARN is added here, for this function only"""
    master_secret_arn: pulumi.Input[str]
    app_secret_arn: pulumi.Input[str]
    app_secret_version: pulumi.Input[str]
    """the app secret's current version: a new password runs the migration again (ALTER ROLE)"""
    database_security_group_id: pulumi.Input[str] | None = None
    database_port: int = 5432
    timeout_seconds: int = 300
    memory_mb: int = 512
    log_retention_days: int = LoggingConfig().retention_days
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_image_reference(self.image, "the migration image")
        if not 30 <= self.timeout_seconds <= 900:
            raise ValueError(f"migration timeout must be 30..900 seconds, got {self.timeout_seconds}")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory must be 128..10240 MB, got {self.memory_mb}")
        limits.check_log_retention(self.log_retention_days)
        if isinstance(self.environment, Mapping):
            lambda_environment(self.environment)


def migration_environment(env: Mapping[str, Any], master_secret_arn: str) -> dict[str, Any]:
    return {**lambda_environment(env), app_env.MASTER_SECRET_KEY: master_secret_arn}


class Migration(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    invocation: aws.lambda_.Invocation
    """compute depends on this: it exists once the schema and the app role are in place"""

    def __init__(self, name: str, args: MigrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:migration:Migration", name, None, opts)
        waits_for = list(opts.depends_on) if opts is not None and isinstance(opts.depends_on, list) else []
        tags = {"Component": "migration", **args.tags}
        base = vpc_function_base(
            name, self, vpc_id=args.vpc_id, purpose="migration runner",
            database_security_group_id=args.database_security_group_id, database_port=args.database_port,
            log_retention_days=args.log_retention_days, tags=tags,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-policy",
            aws.iam.RolePolicyArgs(
                role=base.role.id,
                policy=pulumi.Output.all(args.master_secret_arn, args.app_secret_arn, base.log_group.arn).apply(
                    lambda v: json.dumps(iam.migration_policy_document(
                        master_secret_arn=v[0], app_secret_arn=v[1], log_group_arn=v[2],
                    ))
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        variables = pulumi.Output.all(
            checked_environment(args.environment, "migration environment"), args.master_secret_arn,
        ).apply(lambda v: migration_environment(v[0], v[1]))
        function = aws.lambda_.Function(
            f"{name}-function",
            aws.lambda_.FunctionArgs(
                role=base.role.arn,
                package_type="Image",
                image_uri=args.image,
                image_config=image_config(MIGRATE_HANDLER),
                architectures=["x86_64"],
                memory_size=args.memory_mb,
                timeout=args.timeout_seconds,
                vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=args.subnet_ids,
                                                             security_group_ids=[base.security_group.id]),
                environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON",
                                                                     log_group=base.log_group.name),
                description="Database migrations and the app role (app.migrate.handler)",
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[base.log_group, role_policy]),
        )
        # Invoked (RequestResponse) on create and whenever a trigger changes; a function error fails the
        # resource and so the update:
        # https://www.pulumi.com/registry/packages/aws/api-docs/lambda/invocation/
        self.invocation = aws.lambda_.Invocation(
            f"{name}-run",
            aws.lambda_.InvocationArgs(
                function_name=function.name,
                input=json.dumps(INVOCATION_INPUT),
                triggers={"image": args.image, "appSecretVersion": args.app_secret_version},
            ),
            # Pulumi does not hand a component's dependencies to its children: the run waits for them
            # (every route and security-group rule of the network it needs) and for the function's own
            # rules, so the first invocation never times out on a path that does not exist yet.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*waits_for, *base.rules]),
        )

        self.function_name = function.name
        self.role_arn = base.role.arn
        self.security_group_id = base.security_group.id
        self.register_outputs({
            "functionName": function.name,
            "roleArn": base.role.arn,
            "securityGroupId": base.security_group.id,
            "result": self.invocation.result,
        })

"""The order worker as a Lambda function fed by the work queue, and the pieces every VPC function shares.

Creates, under one `stateless:worker:Worker` component:
- a security group for the function's network interfaces (HTTPS egress for AWS APIs, PostgreSQL
  egress to the database security group, plus the matching ingress rule on that group when given),
- a CloudWatch log group with retention (`/aws/lambda/<component>-` plus a unique suffix), named in the
  function's logging config, so Lambda never creates an unmanaged one and no fixed name blocks a
  replacement,
- an execution role with one inline policy scoped to this function's queue (consume, and send for the
  orders outbox relay), the bucket's `receipts/` prefix, the database secret, the given KMS keys and
  its own log group (no managed policy: AWSLambdaVPCAccessExecutionRole would grant logs on every group),
- the function itself: a container-image function (package type Image) from the app image by digest,
  the same image the web tier runs, with the Lambda runtime interface client as entry point and
  `app.worker.handler` as command; auto-named, in the private-app subnets; no reserved concurrency
  unless asked,
- the SQS event source mapping with partial batch failures and a maximum concurrency.

Messages that keep failing go to the dead-letter queue through the queue's own redrive policy; the
function relies on nothing between invocations (no EFS, no /tmp state, default ephemeral storage).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.context import checked_environment
from infra.components.security import flow_in, flow_out
from infra.config import LoggingConfig, SettingError, WorkerConfig
from infra.lib import app_env, iam, image, limits

# The app image's default command is the web app; Lambda starts the runtime interface client instead and
# hands it the handler (image_config overrides ENTRYPOINT and CMD):
# https://docs.aws.amazon.com/lambda/latest/dg/images-parms.html
LAMBDA_ENTRY_POINT = ("python", "-m", "awslambdaric")
IMAGE_WORKDIR = "/srv"
WORKER_HANDLER = "app.worker.handler"
# The runtime sets these itself; AWS_REGION carries the function's own region, so a value for it in the
# shared app environment is simply dropped rather than rejected.
_DROPPED_ENV = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION"})
_RESERVED_ENV = re.compile(r"^(_HANDLER|_X_AMZN_TRACE_ID|AWS_EXECUTION_ENV|AWS_LAMBDA_.*|AWS_ACCESS_KEY_ID|"
                           r"AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR)$")
_HANDLER = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")


def check_image_reference(value: object, what: str) -> None:
    if isinstance(value, str) and not image.DIGEST_REF.match(value):
        raise ValueError(f"{what} must be an image by digest (<repository>@sha256:<64 hex>), got {value!r}: "
                         "a tag can move, a digest names exactly what was pushed")


@dataclass(frozen=True, kw_only=True)
class WorkerArgs:
    """Inputs of the Lambda worker.

    queue_visibility_timeout_seconds must be the work queue's actual visibility timeout: AWS asks for at
    least six times the function timeout plus the batching window, so that a message is not handed out
    again while a slow (or throttled and retried) invocation still holds it.
    """

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """private-app subnets, one per availability zone"""
    image: pulumi.Input[str]
    """the app image by digest (`<repository>@sha256:...`), the one the web tier runs"""
    queue_arn: pulumi.Input[str]
    queue_visibility_timeout_seconds: int
    bucket_arn: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    """the app role's secret (never the master secret)"""
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """the app's environment contract (non-secret values and secret ARNs only); an Output is checked
    once it resolves"""
    database_security_group_id: pulumi.Input[str] | None = None
    """when given, the worker may reach it on database_port and the group gets the matching ingress"""
    database_port: int = 5432
    kms_key_arns: Sequence[pulumi.Input[str]] = ()
    """customer-managed keys behind the queue, bucket or secret (decrypt / generate data key only)"""
    command: str = WORKER_HANDLER
    architecture: str = "x86_64"
    config: WorkerConfig = field(default_factory=WorkerConfig)
    """memory, timeout, concurrency and batching (the stack's worker* keys)"""
    log_retention_days: int = LoggingConfig().retention_days
    log_kms_key_arn: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_image_reference(self.image, "the worker image")
        if not _HANDLER.match(self.command):
            raise ValueError(f"command {self.command!r} must name a handler like module.path.function")
        if self.architecture not in ("x86_64", "arm64"):
            raise ValueError(f"architecture must be x86_64 or arm64, not {self.architecture!r}")
        problem = self.config.visibility_problem(self.queue_visibility_timeout_seconds)
        if problem:
            raise SettingError("queueVisibilityTimeoutSeconds", problem)
        problem = self.config.batching_problem()
        if problem:
            raise SettingError("workerBatchingWindowSeconds", problem)
        limits.check_log_retention(self.log_retention_days)
        if not 1 <= self.database_port <= 65535:
            raise ValueError(f"database port {self.database_port} is out of range")
        if isinstance(self.environment, Mapping):
            lambda_environment(self.environment)
            named = self.environment.get("APP_DATABASE_SECRET_ARN")
            granted = self.database_secret_arn
            if isinstance(named, str) and isinstance(granted, str) and named != granted:
                raise ValueError(
                    "APP_DATABASE_SECRET_ARN in the environment differs from database_secret_arn: the role "
                    "would grant a different secret than the one the worker reads"
                )
            if app_env.MASTER_SECRET_KEY in self.environment:
                raise ValueError(f"the worker environment carries {app_env.MASTER_SECRET_KEY}: the worker "
                                 "connects as the app's own role, only the migration runner reads the master secret")


def lambda_environment(environment: Mapping[str, Any]) -> dict[str, Any]:
    """The app environment as Lambda accepts it: no secret values, nothing the runtime reserves."""
    app_env.check_environment(environment, "worker environment")
    for key in environment:
        if _RESERVED_ENV.match(key):
            raise ValueError(f"worker environment: {key} is reserved by the Lambda runtime")
    return {k: v for k, v in environment.items() if k not in _DROPPED_ENV}


@dataclass(frozen=True)
class VpcFunctionBase:
    """What every function of the app in the VPC has: its security group, log group and role."""

    security_group: aws.ec2.SecurityGroup
    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    rules: tuple[pulumi.CustomResource, ...] = ()
    """the group's rules (and the database group's matching ingress): the network paths of the function"""


def vpc_function_base(
    name: str,
    parent: pulumi.Resource,
    *,
    vpc_id: pulumi.Input[str],
    purpose: str,
    database_security_group_id: pulumi.Input[str] | None,
    database_port: int,
    log_retention_days: int,
    log_kms_key_arn: pulumi.Input[str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> VpcFunctionBase:
    """The security group (HTTPS out, PostgreSQL to the database group and its matching ingress), the log
    group (auto-named under /aws/lambda/) and the Lambda-assumable role of one function, as children of
    `parent` named `<name>-<role>`."""
    child = pulumi.ResourceOptions(parent=parent)
    tags = dict(tags or {})
    sg = aws.ec2.SecurityGroup(
        f"{name}-sg",
        aws.ec2.SecurityGroupArgs(vpc_id=vpc_id, description=f"Lambda {purpose}", tags={**tags, "Name": name}),
        opts=child,
    )
    rules = [flow_out(f"{name}-egress-https", sg.id, 443, cidr="0.0.0.0/0",
                      description="AWS APIs (SQS, S3, Secrets Manager, KMS) through endpoints or NAT", opts=child)]
    if database_security_group_id is not None:
        rules.append(flow_out(f"{name}-egress-db", sg.id, database_port, target=database_security_group_id,
                              description="PostgreSQL", opts=child))
        # Added here rather than in the database component: the database exists before the function,
        # so the function's group can only be named once the function is built.
        rules.append(flow_in(f"{name}-db-ingress", database_security_group_id, database_port, source=sg.id,
                             description=f"PostgreSQL from the Lambda {purpose}", opts=child))
    # Lambda writes to the group named in the function's logging config, so the group needs no fixed
    # name; a prefix keeps it recognisable and a replacement never collides with the old group.
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        aws.cloudwatch.LogGroupArgs(name_prefix=f"/aws/lambda/{name}-", retention_in_days=log_retention_days,
                                    kms_key_id=log_kms_key_arn, tags=tags),
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-role",
        aws.iam.RoleArgs(assume_role_policy=json.dumps(iam.assume_role_policy("lambda.amazonaws.com")),
                         description=f"Execution role of the {purpose}", tags=tags),
        opts=child,
    )
    return VpcFunctionBase(sg, log_group, role, tuple(rules))


def image_config(command: str) -> aws.lambda_.FunctionImageConfigArgs:
    return aws.lambda_.FunctionImageConfigArgs(
        entry_points=list(LAMBDA_ENTRY_POINT), commands=[command], working_directory=IMAGE_WORKDIR,
    )


class Worker(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:worker:Worker", name, None, opts)
        # Pulumi does not hand a component's dependencies to its children: the function and the mapping,
        # which starts the processing, wait for them (the migration: schema and the role the worker
        # connects as).
        waits_for = list(opts.depends_on) if opts is not None and isinstance(opts.depends_on, list) else []
        tags = {"Component": "worker", **args.tags}
        base = vpc_function_base(
            name, self, vpc_id=args.vpc_id, purpose="order worker",
            database_security_group_id=args.database_security_group_id, database_port=args.database_port,
            log_retention_days=args.log_retention_days, log_kms_key_arn=args.log_kms_key_arn, tags=tags,
        )
        sg, log_group, role = base.security_group, base.log_group, base.role

        policy_json = pulumi.Output.all(
            args.queue_arn, args.bucket_arn, args.database_secret_arn, log_group.arn,
            pulumi.Output.all(*args.kms_key_arns),
        ).apply(lambda v: json.dumps(iam.worker_policy_document(
            queue_arn=v[0], bucket_arn=v[1], secret_arn=v[2], log_group_arn=v[3], kms_key_arns=v[4],
        )))
        role_policy = aws.iam.RolePolicy(
            f"{name}-policy",
            aws.iam.RolePolicyArgs(role=role.id, policy=policy_json),
            opts=pulumi.ResourceOptions(parent=self),
        )

        variables = checked_environment(args.environment, "worker environment").apply(lambda_environment)
        # No `name`: Pulumi auto-names the function (logical name plus a random suffix), so a replacement is
        # created next to the old function instead of colliding with it
        # (https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming).
        function = aws.lambda_.Function(
            f"{name}-function",
            aws.lambda_.FunctionArgs(
                role=role.arn,
                package_type="Image",
                image_uri=pulumi.Output.from_input(args.image).apply(_checked_image),
                image_config=image_config(args.command),
                architectures=[args.architecture],
                memory_size=args.config.memory_mb,
                timeout=args.config.timeout_seconds,
                reserved_concurrent_executions=args.config.reserved_concurrency,
                vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=args.subnet_ids,
                                                             security_group_ids=[sg.id]),
                environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
                logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON",
                                                                     log_group=log_group.name),
                description="Order worker (SQS): the app image with app.worker.handler",
                tags=tags,
            ),
            # New code never meets the old schema: the function takes a new image only once the migration
            # that image carries has run (and keeps the old one when it fails).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy, *waits_for]),
        )

        # Creating the mapping checks that the role may already read the queue, hence the dependency.
        aws.lambda_.EventSourceMapping(
            f"{name}-queue",
            aws.lambda_.EventSourceMappingArgs(
                event_source_arn=args.queue_arn,
                function_name=function.arn,
                batch_size=args.config.batch_size,
                maximum_batching_window_in_seconds=args.config.batching_window_seconds,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                    maximum_concurrency=args.config.max_concurrency,
                ),
                enabled=True,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy, *waits_for]),
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.security_group_id = sg.id
        self.log_group_name = log_group.name
        self.register_outputs({
            "functionName": self.function_name,
            "functionArn": self.function_arn,
            "roleArn": self.role_arn,
            "securityGroupId": self.security_group_id,
            "logGroupName": self.log_group_name,
        })


def _checked_image(ref: str) -> str:
    check_image_reference(ref, "the function image")
    return ref

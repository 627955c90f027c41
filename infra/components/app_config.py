"""App config: the reference app's runtime configuration, published once for every compute flavour.

Creates: the JWT signing key as an asymmetric KMS key (RSA_2048, SIGN_VERIFY; the private half never
leaves KMS, so no program, state file or secret holds it) with a key policy that leaves access to IAM
and refuses any signing algorithm but RS256; one SSM String parameter holding the app's environment
as JSON (non-secret values, secret ARNs and the key's ARN only).

`app_environment_output` turns the stack's endpoints into the environment map; instances read it
from the parameter at boot, and pods or functions can take the same map directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.context import aws_context
from infra.lib import app_env, iam, naming


@dataclass(frozen=True, kw_only=True)
class AppRuntimeInputs:
    """Where the app's dependencies are, as Pulumi inputs (resolved into `lib.app_env.AppEndpoints`)."""

    region: str
    database_host: pulumi.Input[str]
    database_port: pulumi.Input[int]
    database_name: str
    database_secret_arn: pulumi.Input[str]
    redis_host: pulumi.Input[str]
    redis_port: pulumi.Input[int]
    redis_auth_secret_arn: pulumi.Input[str]
    bucket: pulumi.Input[str]
    queue_url: pulumi.Input[str]
    jwt_kms_key_id: pulumi.Input[str]
    jwt_issuer: str
    jwt_audience: str
    app_port: int = 8000
    keepalive_timeout_seconds: int = app_env.keepalive_timeout(60)
    client_address_header: str = ""
    """apigateway ingress: the header API Gateway sets to the client's address (api.CLIENT_ADDRESS_HEADER)"""


def app_environment_output(inputs: AppRuntimeInputs) -> pulumi.Output[dict[str, str]]:
    """The app's environment variables (see `lib.app_env.APP_ENV_KEYS`) once every input is known."""
    names = [
        "database_host", "database_port", "database_secret_arn", "redis_host", "redis_port",
        "redis_auth_secret_arn", "bucket", "queue_url", "jwt_kms_key_id",
    ]

    def build(values: list[Any]) -> dict[str, str]:
        resolved = dict(zip(names, values, strict=True))
        return app_env.app_environment(
            app_env.AppEndpoints(
                region=inputs.region,
                database_name=inputs.database_name,
                jwt_issuer=inputs.jwt_issuer,
                jwt_audience=inputs.jwt_audience,
                app_port=inputs.app_port,
                keepalive_timeout_seconds=inputs.keepalive_timeout_seconds,
                client_address_header=inputs.client_address_header,
                **resolved,
            )
        )

    return pulumi.Output.all(*(getattr(inputs, n) for n in names)).apply(build)


KEY_SPEC = "RSA_2048"
KEY_USAGE = "SIGN_VERIFY"


@dataclass(frozen=True, kw_only=True)
class JwtSigningKeyArgs:
    project: str
    environment: str
    deletion_window_days: int = 30

    def __post_init__(self) -> None:
        naming.ssm_path(self.project, self.environment)
        if not 7 <= self.deletion_window_days <= 30:
            raise ValueError(f"KMS deletion window must be 7..30 days, got {self.deletion_window_days}")


class JwtSigningKey(pulumi.ComponentResource):
    """The asymmetric KMS key the app signs access tokens with (kms:Sign) and publishes (kms:GetPublicKey).

    Asymmetric keys cannot rotate automatically; a new key is a new resource whose public half the app
    publishes next to the old one (see infra/README.md).
    """

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: JwtSigningKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:app_config:JwtSigningKey", name, None, opts)
        where = aws_context(self)
        key = aws.kms.Key(
            f"{name}-key",
            aws.kms.KeyArgs(
                description=f"JWT signing key (RS256) of {args.project}/{args.environment}",
                customer_master_key_spec=KEY_SPEC,
                key_usage=KEY_USAGE,
                deletion_window_in_days=args.deletion_window_days,
                policy=pulumi.Output.all(where.account_id, where.partition).apply(
                    lambda v: json.dumps(iam.signing_key_policy(v[0], v[1]))
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"keyArn": key.arn, "keyId": key.key_id})


@dataclass(frozen=True, kw_only=True)
class AppEnvironmentArgs:
    project: str
    environment: str
    runtime: AppRuntimeInputs

    def __post_init__(self) -> None:
        naming.ssm_path(self.project, self.environment)


class AppEnvironment(pulumi.ComponentResource):
    """Publishes the app's environment map as one SSM parameter."""

    parameter_name: pulumi.Output[str]
    parameter_arn: pulumi.Output[str]
    environment: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: AppEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:app_config:AppEnvironment", name, None, opts)
        env = app_environment_output(args.runtime)
        parameter = aws.ssm.Parameter(
            f"{name}-parameter",
            name=naming.ssm_path(args.project, args.environment, "app", "environment"),
            description="Environment of the app (JSON); secrets appear only as Secrets Manager ARNs",
            type="String",
            tier="Standard",
            value=env.apply(lambda e: json.dumps(e, sort_keys=False)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.parameter_name = parameter.name
        self.parameter_arn = parameter.arn
        self.environment = env
        self.register_outputs({"parameterName": parameter.name, "parameterArn": parameter.arn})

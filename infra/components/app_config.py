"""App config: the reference app's runtime configuration, published once for every compute flavour.

Creates: a Secrets Manager secret for the JWT signing key (its value is put there out of band, see
infra/README.md, so the private key never passes through the program or its state); one SSM
String parameter holding the app's environment as JSON (non-secret values and secret ARNs only).

`app_environment_output` turns the stack's endpoints into the environment map; instances read it
from the parameter at boot, and pods or functions can take the same map directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.lib import app_env, naming


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
    jwt_private_key_secret_arn: pulumi.Input[str]
    jwt_issuer: str
    jwt_audience: str


def app_environment_output(inputs: AppRuntimeInputs) -> pulumi.Output[dict[str, str]]:
    """The app's environment variables (see `lib.app_env.APP_ENV_KEYS`) once every input is known."""
    names = [
        "database_host", "database_port", "database_secret_arn", "redis_host", "redis_port",
        "redis_auth_secret_arn", "bucket", "queue_url", "jwt_private_key_secret_arn",
    ]

    def build(values: list[Any]) -> dict[str, str]:
        resolved = dict(zip(names, values, strict=True))
        return app_env.app_environment(
            app_env.AppEndpoints(
                region=inputs.region,
                database_name=inputs.database_name,
                jwt_issuer=inputs.jwt_issuer,
                jwt_audience=inputs.jwt_audience,
                **resolved,
            )
        )

    return pulumi.Output.all(*(getattr(inputs, n) for n in names)).apply(build)


@dataclass(frozen=True, kw_only=True)
class JwtSigningKeyArgs:
    project: str
    environment: str

    def __post_init__(self) -> None:
        naming.ssm_path(self.project, self.environment)


class JwtSigningKey(pulumi.ComponentResource):
    """The secret that holds the app's JWT private key; created empty, filled out of band."""

    secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: JwtSigningKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:app_config:JwtSigningKey", name, None, opts)
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            description=(
                f"JWT signing key (PEM private key) for {args.project}/{args.environment}; "
                "set with `aws secretsmanager put-secret-value`, never through Pulumi"
            ),
            recovery_window_in_days=7,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_arn = secret.arn
        self.register_outputs({"secretArn": secret.arn})


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

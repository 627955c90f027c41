"""Where the program deploys (account, partition, region), looked up once per component that needs it.

Not a component: a helper for components whose documents name their own account (trust conditions, key
policies, resource policies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.lib import app_env


@dataclass(frozen=True)
class AwsContext:
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    caller_arn: pulumi.Output[str]


def aws_context(parent: pulumi.Resource) -> AwsContext:
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    caller = aws.get_caller_identity_output(opts=invoke)
    return AwsContext(
        account_id=caller.account_id,
        partition=aws.get_partition_output(opts=invoke).partition,
        region=aws.get_region_output(opts=invoke).region,
        caller_arn=caller.arn,
    )


def checked_environment(
    environment: pulumi.Input[Mapping[str, pulumi.Input[str]]], where: str
) -> pulumi.Output[dict[str, str]]:
    """The environment as an Output, refused (failing the deployment) if it carries a secret."""

    def check(env: Mapping[str, Any]) -> dict[str, str]:
        app_env.check_environment(env, where)
        return dict(env)

    return pulumi.Output.from_input(environment).apply(check)

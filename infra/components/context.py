"""Where the program deploys (account, partition, region), looked up once per component that needs it.

Not a component: a helper for components whose documents name their own account (trust conditions, key
policies, resource policies).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


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

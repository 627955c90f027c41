"""Queue: the SQS work queue between the app and the worker.

Creates: a dead-letter queue and a work queue, both with SQS-managed server-side encryption; the
work queue's redrive policy to the DLQ after `max_receive_count` receives; the DLQ's redrive-allow
policy admitting only the work queue; a CloudWatch alarm as soon as any message sits in the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.config import QueueConfig

FOURTEEN_DAYS = 14 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class QueueArgs:
    config: QueueConfig = field(default_factory=QueueConfig)
    """receives before the DLQ and the visibility timeout (the stack's queue* keys)"""
    message_retention_seconds: int = 4 * 24 * 3600
    alarm_actions: tuple[pulumi.Input[str], ...] = ()

    def __post_init__(self) -> None:
        if not 60 <= self.message_retention_seconds <= FOURTEEN_DAYS:
            raise ValueError("message_retention_seconds must be between 60 and 1209600")


class WorkQueue(pulumi.ComponentResource):
    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]

    def __init__(self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:queue:WorkQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The DLQ keeps messages as long as SQS allows, so a poison message outlives the
        # investigation of why it failed.
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=FOURTEEN_DAYS,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=args.config.visibility_timeout_seconds,
            message_retention_seconds=args.message_retention_seconds,
            receive_wait_time_seconds=20,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": args.config.max_receive_count})
            ),
            opts=child,
        )
        # A separate resource, because the DLQ naming the queue and the queue naming the DLQ would
        # otherwise form a cycle.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=dlq.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-dlq-alarm",
            alarm_description="Messages are failing processing and landing in the dead-letter queue",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": dlq.name},
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
            alarm_actions=list(args.alarm_actions),
            opts=child,
        )

        self.queue_url = queue.url
        self.queue_arn = queue.arn
        self.dlq_url = dlq.url
        self.dlq_arn = dlq.arn
        self.register_outputs(
            {"queueUrl": queue.url, "queueArn": queue.arn, "dlqUrl": dlq.url, "dlqArn": dlq.arn}
        )

"""Rules for Lambda functions: no EFS mounts, no large ephemeral storage to lean on between invocations;
and for functions fed by SQS, that a message is never handed out twice or sent to the dead-letter queue
only because the function was busy or throttled.

The SQS consumer rules are stack rules: they join `aws.lambda_.EventSourceMapping` (`eventSourceArn`,
`functionName`, `scalingConfig.maximumConcurrency`, `maximumBatchingWindowInSeconds` in pulumi-aws v7
pulumi_aws/lambda_/event_source_mapping.py) to its `aws.sqs.Queue` (`visibilityTimeoutSeconds`, default
30) and its `aws.lambda_.Function` (`timeout`, default 3; `reservedConcurrentExecutions`) by the
mapping's property dependencies, or else by ARN / name. A value not known yet never makes a finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, StackResource, as_int, get, items, known, linked, resource_keys, type_set

FUNCTION = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
# Provider defaults when the property is not set (pulumi_aws/sqs/queue.py, lambda_/function.py docs).
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_FUNCTION_TIMEOUT = 3
# AWS: "set the source queue's visibility timeout to at least six times the timeout that you configure on
# your function", plus the batching window
# (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-queueconfig).
VISIBILITY_TO_TIMEOUT_RATIO = 6


def check_efs(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    found = []
    for fs in items(props.get("fileSystemConfig")):
        if isinstance(fs, dict) and (known(fs.get("arn")) or known(fs.get("localMountPath"))):
            found.append(
                f"mounts an EFS file system at {get(fs, 'localMountPath', default='?')}: functions keep no "
                "files between invocations"
            )
    return found


def check_ephemeral_storage(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    size = as_int(get(props, "ephemeralStorage", "size"))
    limit = int(config.get("maxEphemeralStorageMb", 512))
    if size is not None and size > limit:
        return [f"ephemeralStorage.size is {size} MB (limit {limit} MB): /tmp is not storage between invocations"]
    return []


# The name inside an ARN, a qualified ARN (`...:function:x:alias`) or a partial ARN (`123456789012:function:x`).
_NAME_IN_ARN = re.compile(r":function:([^:]+)")


def _function_name(reference: str) -> str:
    """`functionName` may be a name, an ARN, a qualified ARN or a partial ARN."""
    match = _NAME_IN_ARN.search(reference)
    return match.group(1) if match else reference


@dataclass(frozen=True)
class SqsConsumer:
    """An event source mapping that reads an SQS queue, with its queue and function when they are in the stack."""

    mapping: StackResource
    queue: StackResource | None
    function: StackResource | None


def sqs_consumers(resources: list[StackResource]) -> list[SqsConsumer]:
    queues: dict[str, StackResource] = {}
    functions: dict[str, StackResource] = {}
    for r in resources:
        if r.resource_type == QUEUE:
            queues.update(dict.fromkeys(resource_keys(r, "arn", "url", "id"), r))
        elif r.resource_type == FUNCTION:
            functions.update(dict.fromkeys(resource_keys(r, "arn", "name", "id"), r))
    found = []
    for m in resources:
        if m.resource_type != EVENT_SOURCE_MAPPING:
            continue
        queue = linked(m, "eventSourceArn", queues)
        source = m.props.get("eventSourceArn")
        if queue is None and not (isinstance(source, str) and source.split(":")[2:3] == ["sqs"]):
            continue
        found.append(SqsConsumer(m, queue, linked(m, "functionName", functions, _function_name)))
    return found


def _setting(props: dict[str, Any], key: str, default: int | None) -> Any:
    """An integer property with the provider's default; UNKNOWN when not known yet."""
    value = props.get(key)
    if value is UNKNOWN:
        return UNKNOWN
    return default if value is None else as_int(value)


def check_event_source_concurrency(
    resources: list[StackResource], config: dict[str, Any]
) -> list[tuple[str | None, str]]:
    require = bool(config.get("requireMaximumConcurrency"))
    found: list[tuple[str | None, str]] = []
    totals: dict[str, tuple[StackResource, int]] = {}
    for c in sqs_consumers(resources):
        maximum = get(c.mapping.props, "scalingConfig", "maximumConcurrency")
        if maximum is UNKNOWN:
            continue
        maximum = as_int(maximum)
        # The provider reports -1 for "no reservation".
        reserved = _setting(c.function.props, "reservedConcurrentExecutions", None) if c.function else None
        reserved = reserved if isinstance(reserved, int) and reserved >= 0 else None
        what = f"event source mapping {c.mapping.name}"
        if c.function is not None and reserved == 0:
            found.append(
                (
                    c.function.urn,
                    f"function {c.function.name} has reservedConcurrentExecutions 0: every "
                    "batch from its SQS queue is throttled, counts as a receive and ends in the dead-letter "
                    "queue",
                )
            )
        elif maximum is None and (reserved is not None or require):
            limit = (
                f"function {c.function.name} reserves {reserved}"
                if c.function and reserved
                else "the account's unreserved concurrency runs out"
            )
            found.append(
                (
                    c.mapping.urn,
                    f"{what} has no scalingConfig.maximumConcurrency: when {limit}, batches "
                    "are throttled, count as receives and reach the dead-letter queue; set it (2..1000"
                    + (f", at most {reserved}" if reserved else "")
                    + ")",
                )
            )
        elif reserved and maximum is not None and c.function is not None:
            fn, total = totals.get(c.function.urn, (c.function, 0))
            totals[c.function.urn] = (fn, total + maximum)
    for fn, total in totals.values():
        reserved = as_int(fn.props.get("reservedConcurrentExecutions"))
        if reserved is not None and total > reserved:
            found.append(
                (
                    fn.urn,
                    f"the SQS event source mappings of function {fn.name} allow {total} concurrent "
                    f"invocations (scalingConfig.maximumConcurrency), above its reservedConcurrentExecutions "
                    f"{reserved}: the excess is throttled, counts as receives and reaches the dead-letter queue",
                )
            )
    return list(dict.fromkeys(found))


def check_visibility_timeout(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for c in sqs_consumers(resources):
        if c.queue is None or c.function is None:
            continue
        visibility = _setting(c.queue.props, "visibilityTimeoutSeconds", DEFAULT_VISIBILITY_TIMEOUT)
        timeout = _setting(c.function.props, "timeout", DEFAULT_FUNCTION_TIMEOUT)
        window = _setting(c.mapping.props, "maximumBatchingWindowInSeconds", 0)
        if not all(isinstance(v, int) for v in (visibility, timeout, window)):
            continue
        need = VISIBILITY_TO_TIMEOUT_RATIO * timeout + window
        key = (c.queue.urn, c.function.urn, str(window))
        if visibility < need and key not in seen:
            seen.add(key)
            found.append(
                (
                    c.queue.urn,
                    f"queue {c.queue.name} has visibilityTimeoutSeconds {visibility}, below 6 x "
                    f"the timeout of function {c.function.name} ({timeout}s) + the batching window "
                    f"({window}s) = {need}s: messages still being processed are handed out again, and "
                    "those receives count toward the dead-letter queue",
                )
            )
    return found


NO_LAMBDA_EFS = Rule(
    name="no-lambda-efs",
    description="Lambda functions may not mount EFS file systems.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.MANDATORY,
    why="A file system shared by function instances is state outside the managed stores, with its own "
    "consistency and cleanup problems; it also pins the function into the VPC's mount targets.",
    remediation="Drop fileSystemConfig; read and write objects in S3 or rows in the database.",
    resource_types=type_set(FUNCTION),
    check=check_efs,
    tags=("statelessness", "lambda"),
)

LAMBDA_EPHEMERAL_STORAGE = Rule(
    name="lambda-ephemeral-storage",
    description="Lambda functions keep /tmp at the default size.",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Large /tmp invites caching data across invocations, which only works while the same execution "
    "environment happens to be reused.",
    remediation="Keep ephemeralStorage at 512 MB or raise maxEphemeralStorageMb for a function that "
    "genuinely needs scratch space within one invocation.",
    resource_types=type_set(FUNCTION),
    check=check_ephemeral_storage,
    config={
        "maxEphemeralStorageMb": {
            "type": "integer",
            "minimum": 512,
            "maximum": 10240,
            "default": 512,
            "description": "Largest /tmp size (MB) accepted without a finding.",
        }
    },
    tags=("statelessness", "lambda"),
)

SQS_EVENT_SOURCE_MAX_CONCURRENCY = Rule(
    name="sqs-event-source-max-concurrency",
    description="SQS event source mappings cap their concurrency below what the function can run.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="Lambda polls SQS regardless of the function's concurrency; a throttled batch goes back to the queue "
    "and its receive counts toward maxReceiveCount, so healthy messages reach the dead-letter queue. "
    "scalingConfig.maximumConcurrency makes Lambda stop polling instead "
    "(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).",
    remediation="Set scalingConfig.maximumConcurrency on the mapping (at most the function's reserved "
    "concurrency, summed over its SQS mappings); never reserve 0 for a consumer.",
    stack_check=check_event_source_concurrency,
    config={
        "requireMaximumConcurrency": {
            "type": "boolean",
            "default": False,
            "description": "Also report a mapping without maximumConcurrency when the function has no "
            "reservation (it then shares the account's unreserved pool, 10 in a new account).",
        }
    },
    tags=("durability", "lambda", "sqs"),
)

SQS_VISIBILITY_TIMEOUT = Rule(
    name="sqs-visibility-timeout",
    description="Queues feeding a Lambda function keep messages invisible for 6 x the function timeout plus "
    "the batching window.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="A message whose visibility timeout ends while an invocation (or its retry after a throttle) still "
    "holds it is delivered again: duplicate work, and each receive counts toward the dead-letter queue.",
    remediation="Raise the queue's visibilityTimeoutSeconds to at least 6 x the function timeout + "
    "maximumBatchingWindowInSeconds, or lower the function timeout.",
    stack_check=check_visibility_timeout,
    tags=("durability", "lambda", "sqs"),
)

RULES = (NO_LAMBDA_EFS, LAMBDA_EPHEMERAL_STORAGE, SQS_EVENT_SOURCE_MAX_CONCURRENCY, SQS_VISIBILITY_TIMEOUT)

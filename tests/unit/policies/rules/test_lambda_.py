"""The Lambda rules (policies/rules/lambda_.py): no-lambda-efs, lambda-ephemeral-storage, and the
stack rules over an SQS queue, the function it feeds and the event source mapping between them
(sqs-event-source-max-concurrency, sqs-visibility-timeout)."""

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from policies.rules.lambda_ import (
    LAMBDA_EPHEMERAL_STORAGE,
    NO_LAMBDA_EFS,
    SQS_EVENT_SOURCE_MAX_CONCURRENCY,
    SQS_VISIBILITY_TIMEOUT,
)
from policies.rules.secrets import NO_PLAINTEXT_SECRETS

FN = "aws:lambda/function:Function"
FUNCTION = {
    "runtime": "python3.12",
    "handler": "app.handler",
    "environment": {
        "variables": {
            "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
            "JWT_SIGNING_KEY_PARAM": "/app/jwt",
            "TOKEN_TTL_SECONDS": "900",
            "LOG_LEVEL": "INFO",
            "API_KEY": "{{resolve:secretsmanager:api}}",
            "SECRETS_MANAGER_PREFIX": "app/",
            "PASSWORD_POLICY": "strict",
        }
    },
}


def test_compliant_function_passes(via_policy):
    for rule in (NO_LAMBDA_EFS, LAMBDA_EPHEMERAL_STORAGE, NO_PLAINTEXT_SECRETS):
        assert via_policy(rule, FN, FUNCTION) == []


def test_efs_mount(via_policy):
    props = {
        **FUNCTION,
        "fileSystemConfig": {"arn": "arn:aws:elasticfilesystem:...:access-point/fsap-1", "localMountPath": "/mnt/data"},
    }
    assert via_policy(NO_LAMBDA_EFS, FN, props) == [
        "mounts an EFS file system at /mnt/data: functions keep no files between invocations"
    ]


def test_ephemeral_storage(via_policy):
    assert via_policy(LAMBDA_EPHEMERAL_STORAGE, FN, {**FUNCTION, "ephemeralStorage": {"size": 512}}) == []
    big = {**FUNCTION, "ephemeralStorage": {"size": 4096}}
    assert via_policy(LAMBDA_EPHEMERAL_STORAGE, FN, big) == [
        "ephemeralStorage.size is 4096 MB (limit 512 MB): /tmp is not storage between invocations"
    ]
    assert via_policy(LAMBDA_EPHEMERAL_STORAGE, FN, big, {"maxEphemeralStorageMb": 4096}) == []
    assert LAMBDA_EPHEMERAL_STORAGE.enforcement.value == "advisory"


# ----------------------------------------------------------------------------- SQS consumers


QUEUE_T = "aws:sqs/queue:Queue"
FUNCTION_T = "aws:lambda/function:Function"
MAPPING_T = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:worker-1a2b"
QUEUE = {"arn": QUEUE_ARN, "visibilityTimeoutSeconds": 180}
CONSUMER_FUNCTION = {"arn": FUNCTION_ARN, "name": "worker-1a2b", "timeout": 30}
MAPPING = {
    "eventSourceArn": QUEUE_ARN,
    "functionName": FUNCTION_ARN,
    "maximumBatchingWindowInSeconds": 0,
    "scalingConfig": {"maximumConcurrency": 5},
}
DEPS = {"eventSourceArn": ["orders"], "functionName": ["worker"]}


def _stack(queue=None, function=None, mapping=None, deps=None):
    return [
        (QUEUE_T, "orders", {**QUEUE, **(queue or {})}, {}),
        (FUNCTION_T, "worker", {**CONSUMER_FUNCTION, **(function or {})}, {}),
        (MAPPING_T, "worker-queue", {**MAPPING, **(mapping or {})}, DEPS if deps is None else deps),
    ]


def urn(type_, name):
    return f"urn:pulumi:t::p::{type_}::{name}"


def test_compliant_consumer_passes(via_stack_policy):
    for rule in (SQS_EVENT_SOURCE_MAX_CONCURRENCY, SQS_VISIBILITY_TIMEOUT):
        assert via_stack_policy(rule, _stack()) == []
        assert via_stack_policy(rule, _stack(), {"requireMaximumConcurrency": True}) == []
        assert rule.enforcement.value == "advisory"


def test_visibility_below_six_times_the_function_timeout(via_stack_policy):
    assert via_stack_policy(SQS_VISIBILITY_TIMEOUT, _stack(queue={"visibilityTimeoutSeconds": 179})) == [
        (
            urn(QUEUE_T, "orders"),
            "queue orders has visibilityTimeoutSeconds 179, below 6 x the timeout of function worker (30s) + the "
            "batching window (0s) = 180s: messages still being processed are handed out again, and those "
            "receives count toward the dead-letter queue",
        )
    ]


def test_batching_window_counts(via_stack_policy):
    found = via_stack_policy(SQS_VISIBILITY_TIMEOUT, _stack(mapping={"maximumBatchingWindowInSeconds": 20}))
    assert [m for _, m in found] == [
        "queue orders has visibilityTimeoutSeconds 180, below 6 x the timeout of function worker (30s) + the "
        "batching window (20s) = 200s: messages still being processed are handed out again, and those "
        "receives count toward the dead-letter queue"
    ]


def test_provider_defaults_apply_when_unset(via_stack_policy):
    # Queue default 30 s; function default 3 s: 18 s needed, so the defaults pass together...
    unset = [
        (QUEUE_T, "orders", {"arn": QUEUE_ARN}, {}),
        (FUNCTION_T, "worker", {"arn": FUNCTION_ARN, "name": "worker-1a2b"}, {}),
        (MAPPING_T, "worker-queue", {k: v for k, v in MAPPING.items() if k != "maximumBatchingWindowInSeconds"}, DEPS),
    ]
    assert via_stack_policy(SQS_VISIBILITY_TIMEOUT, unset) == []
    # ...but the queue's default does not cover a 30 s function.
    found = via_stack_policy(SQS_VISIBILITY_TIMEOUT, _stack(queue={"visibilityTimeoutSeconds": None}))
    assert [m.split(":")[0] for _, m in found] == [
        "queue orders has visibilityTimeoutSeconds 30, below 6 x the timeout of function worker (30s) + the "
        "batching window (0s) = 180s"
    ]


def test_joined_by_arn_and_name_without_dependencies(via_stack_policy):
    by_value = _stack(queue={"visibilityTimeoutSeconds": 60}, deps={})
    assert len(via_stack_policy(SQS_VISIBILITY_TIMEOUT, by_value)) == 1
    for reference in ("worker-1a2b", f"{FUNCTION_ARN}:live", "123456789012:function:worker-1a2b"):
        named = _stack(queue={"visibilityTimeoutSeconds": 60}, mapping={"functionName": reference}, deps={})
        assert len(via_stack_policy(SQS_VISIBILITY_TIMEOUT, named)) == 1, reference


def test_unknown_values_never_violate(via_stack_policy):
    for stack in (
        _stack(queue={"visibilityTimeoutSeconds": UNKNOWN_NUMBER_VALUE}),
        _stack(queue={"visibilityTimeoutSeconds": 60}, function={"timeout": UNKNOWN_NUMBER_VALUE}),
        _stack(queue={"visibilityTimeoutSeconds": 60}, mapping={"eventSourceArn": UNKNOWN_STRING_VALUE}, deps={}),
    ):
        assert via_stack_policy(SQS_VISIBILITY_TIMEOUT, stack) == []
    unknown_cap = _stack(mapping={"scalingConfig": {"maximumConcurrency": UNKNOWN_NUMBER_VALUE}})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, unknown_cap, {"requireMaximumConcurrency": True}) == []


def test_other_event_sources_are_not_judged(via_stack_policy):
    stream = [
        (FUNCTION_T, "worker", {**CONSUMER_FUNCTION, "reservedConcurrentExecutions": 2}, {}),
        (
            MAPPING_T,
            "stream",
            {"eventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s", "functionName": FUNCTION_ARN},
            {"functionName": ["worker"]},
        ),
    ]
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, stream, {"requireMaximumConcurrency": True}) == []


def test_no_maximum_concurrency(via_stack_policy):
    no_cap = _stack(mapping={"scalingConfig": None})
    # Without a reservation the function shares the account's pool: reported when the stack asks for it.
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, no_cap) == []
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, no_cap, {"requireMaximumConcurrency": True}) == [
        (
            urn(MAPPING_T, "worker-queue"),
            "event source mapping worker-queue has no scalingConfig.maximumConcurrency: when the account's "
            "unreserved concurrency runs out, batches are throttled, count as receives and reach the dead-letter "
            "queue; set it (2..1000)",
        )
    ]
    # The provider's -1 means no reservation.
    unreserved = _stack(function={"reservedConcurrentExecutions": -1}, mapping={"scalingConfig": None})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, unreserved) == []


def test_reservation_without_maximum_concurrency(via_stack_policy):
    stack = _stack(function={"reservedConcurrentExecutions": 4}, mapping={"scalingConfig": None})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, stack) == [
        (
            urn(MAPPING_T, "worker-queue"),
            "event source mapping worker-queue has no scalingConfig.maximumConcurrency: when function worker "
            "reserves 4, batches are throttled, count as receives and reach the dead-letter queue; set it "
            "(2..1000, at most 4)",
        )
    ]


def test_maximum_concurrency_above_the_reservation(via_stack_policy):
    stack = _stack(function={"reservedConcurrentExecutions": 4})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, stack) == [
        (
            urn(FUNCTION_T, "worker"),
            "the SQS event source mappings of function worker allow 5 concurrent invocations "
            "(scalingConfig.maximumConcurrency), above its reservedConcurrentExecutions 4: the excess is "
            "throttled, counts as receives and reaches the dead-letter queue",
        )
    ]
    enough = _stack(function={"reservedConcurrentExecutions": 5})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, enough) == []


def test_two_queues_add_up_against_one_reservation(via_stack_policy):
    stack = [
        *_stack(function={"reservedConcurrentExecutions": 8}),
        (QUEUE_T, "refunds", {"arn": QUEUE_ARN + "-refunds", "visibilityTimeoutSeconds": 180}, {}),
        (
            MAPPING_T,
            "worker-refunds",
            {**MAPPING, "eventSourceArn": QUEUE_ARN + "-refunds"},
            {"eventSourceArn": ["refunds"], "functionName": ["worker"]},
        ),
    ]
    assert [m for _, m in via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, stack)] == [
        "the SQS event source mappings of function worker allow 10 concurrent invocations "
        "(scalingConfig.maximumConcurrency), above its reservedConcurrentExecutions 8: the excess is "
        "throttled, counts as receives and reaches the dead-letter queue"
    ]


def test_zero_reservation_stops_the_consumer(via_stack_policy):
    stack = _stack(function={"reservedConcurrentExecutions": 0})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, stack) == [
        (
            urn(FUNCTION_T, "worker"),
            "function worker has reservedConcurrentExecutions 0: every batch from its SQS queue is throttled, "
            "counts as a receive and ends in the dead-letter queue",
        )
    ]


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert NO_LAMBDA_EFS.enforcement.value == "mandatory"


def test_efs_mount_by_either_property(via_policy):
    by_arn = {**FUNCTION, "fileSystemConfig": [{"arn": "arn:aws:elasticfilesystem:...:access-point/fsap-1"}]}
    assert via_policy(NO_LAMBDA_EFS, FN, by_arn) == [
        "mounts an EFS file system at ?: functions keep no files between invocations"
    ]
    by_path = {**FUNCTION, "fileSystemConfig": [{"localMountPath": "/mnt/data"}]}
    assert via_policy(NO_LAMBDA_EFS, FN, by_path) == [
        "mounts an EFS file system at /mnt/data: functions keep no files between invocations"
    ]


def test_efs_config_without_a_known_mount_is_not_a_finding(via_policy):
    for config in ([], ["not an object"], [{}], [{"arn": UNKNOWN_STRING_VALUE}], UNKNOWN_STRING_VALUE):
        assert via_policy(NO_LAMBDA_EFS, FN, {**FUNCTION, "fileSystemConfig": config}) == [], config


def test_ephemeral_storage_limit_defaults_to_512_mb_in_the_check_itself():
    from policies.rules.lambda_ import check_ephemeral_storage

    assert check_ephemeral_storage(FN, {"ephemeralStorage": {"size": 512}}, {}) == []
    assert check_ephemeral_storage(FN, {"ephemeralStorage": {"size": 513}}, {}) == [
        "ephemeralStorage.size is 513 MB (limit 512 MB): /tmp is not storage between invocations"
    ]


def test_function_name_from_each_reference_shape():
    from policies.rules.lambda_ import _function_name

    assert _function_name("worker-1a2b") == "worker-1a2b"
    assert _function_name(FUNCTION_ARN) == "worker-1a2b"
    assert _function_name(f"{FUNCTION_ARN}:live") == "worker-1a2b"
    assert _function_name("123456789012:function:worker-1a2b") == "worker-1a2b"


def _sr(type_, name, props):
    from policies.rules._core import StackResource

    return StackResource(type_, urn(type_, name), name, props)


@pytest.mark.parametrize("key", ["arn", "url", "id"])
@pytest.mark.parametrize("fn_key", ["arn", "name", "id"])
def test_a_mapping_finds_its_queue_and_function_by_any_of_their_identifiers(key, fn_key):
    from policies.rules.lambda_ import sqs_consumers

    queue = _sr(QUEUE_T, "orders", {"arn": "qa", "url": "qu", "id": "qi"})
    function = _sr(FUNCTION_T, "worker", {"arn": "fa", "name": "fn", "id": "fi"})
    # Identifiers are compared as given (the queue's ARN-shaped source is not needed when the queue is known).
    mapping = _sr(MAPPING_T, "m", {"eventSourceArn": queue.props[key], "functionName": function.props[fn_key]})
    [consumer] = sqs_consumers([queue, function, mapping])
    assert (consumer.mapping, consumer.queue, consumer.function) == (mapping, queue, function)


def test_mappings_of_sqs_queues_outside_the_stack_count_and_other_sources_do_not():
    from policies.rules.lambda_ import sqs_consumers

    kinesis = _sr(MAPPING_T, "k", {"eventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s"})
    nothing = _sr(MAPPING_T, "n", {"functionName": "worker"})
    outside = _sr(MAPPING_T, "o", {"eventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:elsewhere"})
    found = sqs_consumers([kinesis, nothing, outside])
    assert [(c.mapping.name, c.queue, c.function) for c in found] == [("o", None, None)]


SQS_OUTSIDE = "arn:aws:sqs:eu-west-1:123456789012:elsewhere"


def test_concurrency_is_required_only_when_configured():
    from policies.rules.lambda_ import check_event_source_concurrency

    bare = [_sr(MAPPING_T, "m", {"eventSourceArn": SQS_OUTSIDE})]
    assert check_event_source_concurrency(bare, {}) == []
    [(where, message)] = check_event_source_concurrency(bare, {"requireMaximumConcurrency": True})
    assert where == urn(MAPPING_T, "m")
    assert "when the account's unreserved concurrency runs out" in message


def test_every_mapping_is_judged_after_one_not_known_yet_and_a_function_outside_the_stack_is_no_crash():
    from policies.rules.lambda_ import check_event_source_concurrency

    function = _sr(FUNCTION_T, "worker", {"name": "worker", "reservedConcurrentExecutions": 5})
    from policies.rules._core import plain

    unknown = {"maximumConcurrency": UNKNOWN_NUMBER_VALUE}
    later_props = {"eventSourceArn": SQS_OUTSIDE, "scalingConfig": unknown, "functionName": "worker"}
    later = _sr(MAPPING_T, "later", plain(later_props))
    bare = _sr(MAPPING_T, "bare", {"eventSourceArn": SQS_OUTSIDE, "functionName": "worker"})
    capped_props = {"eventSourceArn": SQS_OUTSIDE, "scalingConfig": {"maximumConcurrency": 4}, "functionName": "gone"}
    capped = _sr(MAPPING_T, "capped", capped_props)
    stack = [function, later, bare, capped]
    found = check_event_source_concurrency(stack, {})
    assert [w for w, _ in found] == [urn(MAPPING_T, "bare")]


def test_visibility_uses_the_provider_defaults_and_skips_a_queue_outside_the_stack():
    from policies.rules.lambda_ import check_visibility_timeout

    function = _sr(FUNCTION_T, "worker", {"name": "worker"})  # timeout unset: the provider's 3 s
    outside = _sr(MAPPING_T, "outside", {"eventSourceArn": SQS_OUTSIDE, "functionName": "worker"})
    queue = _sr(QUEUE_T, "orders", {"arn": QUEUE_ARN, "visibilityTimeoutSeconds": 17})
    mapping = _sr(MAPPING_T, "m", {"eventSourceArn": QUEUE_ARN, "functionName": "worker"})
    found = check_visibility_timeout([function, outside, queue, mapping], {})
    assert [w for w, _ in found] == [urn(QUEUE_T, "orders")]
    assert "(3s)" in found[0][1]
    enough = _sr(QUEUE_T, "orders", {"arn": QUEUE_ARN, "visibilityTimeoutSeconds": 18})
    assert check_visibility_timeout([function, outside, enough, mapping], {}) == []


def test_a_function_without_a_reservation_caps_nothing(via_stack_policy):
    # The provider reports -1 for "no reservation": maximumConcurrency is then above nothing.
    unreserved = _stack(function={"reservedConcurrentExecutions": -1})
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, unreserved) == []
    assert via_stack_policy(SQS_EVENT_SOURCE_MAX_CONCURRENCY, _stack(mapping={"scalingConfig": None})) == []


def _visibility_findings(*mappings, queues=(("orders", 60),)):
    from policies.rules import UNKNOWN
    from policies.rules.lambda_ import check_visibility_timeout

    resources = [
        _sr(QUEUE_T, name, {"arn": f"arn:aws:sqs:eu-west-1:1:{name}", "visibilityTimeoutSeconds": v})
        for name, v in queues
    ]
    resources += [
        _sr(FUNCTION_T, "worker", {"name": "worker", "timeout": 30}),
        _sr(FUNCTION_T, "pending", {"name": "pending", "timeout": UNKNOWN}),
    ]
    for i, (queue, function, window) in enumerate(mappings):
        props = {
            "eventSourceArn": f"arn:aws:sqs:eu-west-1:1:{queue}",
            "functionName": function,
            "maximumBatchingWindowInSeconds": window,
        }
        resources.append(_sr(MAPPING_T, f"m{i}", props))
    return [
        (where.rpartition("::")[2], message.partition(": ")[0])
        for where, message in check_visibility_timeout(resources, {})
    ]


def test_visibility_is_judged_after_a_consumer_not_known_yet():
    assert _visibility_findings(("orders", "pending", 0), ("orders", "worker", 0)) == [
        (
            "orders",
            "queue orders has visibilityTimeoutSeconds 60, below 6 x the timeout of function worker (30s) "
            "+ the batching window (0s) = 180s",
        )
    ]


def test_visibility_is_reported_once_per_queue_function_and_window():
    assert len(_visibility_findings(("orders", "worker", 0), ("orders", "worker", 0))) == 1
    assert [m[-6:] for _, m in _visibility_findings(("orders", "worker", 0), ("orders", "worker", 10))] == [
        "= 180s",
        "= 190s",
    ]
    both = _visibility_findings(
        ("orders", "worker", 0), ("refunds", "worker", 0), queues=(("orders", 60), ("refunds", 60))
    )
    assert [where for where, _ in both] == ["orders", "refunds"]

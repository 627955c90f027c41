"""The Lambda worker under mocks: handler and packaging, VPC placement, the SQS mapping, role scope."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pulumi
import pytest

from infra.components.worker import Worker, WorkerArgs
from infra.config import WorkerConfig
from tests.unit.infra.conftest import (
    ACCOUNT,
    APP_ENV,
    DB_SECRET_ARN,
    REGION,
    Run,
    as_list,
    document,
    plain,
    policy_findings,
    resolve,
    run_component,
    statements,
)

QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:prod-work-queue"
BUCKET_ARN = "arn:aws:s3:::prod-data-7f3a"

KMS_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111-2222"
ENV = APP_ENV
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/stateless-app@sha256:{'ab' * 32}"


def make_args(**overrides: Any) -> WorkerArgs:
    base: dict[str, Any] = dict(
        vpc_id="vpc-0abc",
        subnet_ids=["subnet-app-a", "subnet-app-b"],
        queue_arn=QUEUE_ARN,
        queue_visibility_timeout_seconds=362,
        bucket_arn=BUCKET_ARN,
        database_secret_arn=DB_SECRET_ARN,
        database_security_group_id="sg-db",
        kms_key_arns=[KMS_ARN],
        environment=ENV,
        image=IMAGE,
        log_retention_days=90,
    )
    config: dict[str, Any] = dict(
        timeout_seconds=60, reserved_concurrency=5, batch_size=5, batching_window_seconds=2, max_concurrency=5,
    )
    for name, value in overrides.items():
        (config if name in WorkerConfig.__dataclass_fields__ else base)[name] = value
    return WorkerArgs(**base, config=WorkerConfig(**config))


@pytest.fixture(scope="module")
def worker() -> Run:
    return run_component(lambda: Worker("prod-worker", make_args()))


def function(run: Run) -> dict[str, Any]:
    return plain(run.one("aws:lambda/function:Function").inputs)


def test_function_is_the_app_image_by_digest_with_the_worker_handler(worker: Run) -> None:
    fn = function(worker)
    assert fn["packageType"] == "Image"
    assert fn["imageUri"] == IMAGE
    assert fn["imageConfig"] == {"entryPoints": ["python", "-m", "awslambdaric"], "commands": ["app.worker.handler"],
                                 "workingDirectory": "/srv"}
    for zip_only in ("runtime", "handler", "code", "layers"):
        assert zip_only not in fn
    assert worker.of_type("aws:lambda/layerVersion:LayerVersion") == []
    assert "name" not in fn  # auto-named


def test_function_sits_in_the_private_subnets_with_its_own_group(worker: Run) -> None:
    fn = function(worker)
    sg = worker.one("aws:ec2/securityGroup:SecurityGroup")
    assert fn["vpcConfig"]["subnetIds"] == ["subnet-app-a", "subnet-app-b"]
    assert fn["vpcConfig"]["securityGroupIds"] == [resolve(worker.component.security_group_id)]
    assert plain(sg.inputs)["vpcId"] == "vpc-0abc"


def test_security_group_allows_only_https_out_and_postgres_to_the_database(worker: Run) -> None:
    sg_id = resolve(worker.component.security_group_id)
    egress = [plain(r.inputs) for r in worker.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    assert {(e["fromPort"], e["toPort"], e.get("cidrIpv4"), e.get("referencedSecurityGroupId")) for e in egress} == {
        (443, 443, "0.0.0.0/0", None),
        (5432, 5432, None, "sg-db"),
    }
    assert all(e["securityGroupId"] == sg_id for e in egress)
    ingress = [plain(r.inputs) for r in worker.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    assert ingress == [{**ingress[0], "securityGroupId": "sg-db", "referencedSecurityGroupId": sg_id,
                        "fromPort": 5432, "toPort": 5432, "ipProtocol": "tcp"}]


def test_concurrency_timeout_and_default_ephemeral_storage(worker: Run) -> None:
    fn = function(worker)
    assert fn["reservedConcurrentExecutions"] == 5  # make_args opts in
    assert fn["timeout"] == 60
    assert "fileSystemConfig" not in fn or not fn["fileSystemConfig"]
    assert "ephemeralStorage" not in fn or fn["ephemeralStorage"]["size"] == 512


def test_event_source_mapping_reports_partial_batch_failures(worker: Run) -> None:
    esm = plain(worker.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs)
    assert esm["eventSourceArn"] == QUEUE_ARN
    assert esm["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["batchSize"] == 5
    assert esm["maximumBatchingWindowInSeconds"] == 2
    assert esm["scalingConfig"] == {"maximumConcurrency": 5}
    assert esm["functionName"] == resolve(worker.component.function_arn)


def test_log_group_is_created_with_retention_and_used_by_the_function(worker: Run) -> None:
    group = worker.one("aws:cloudwatch/logGroup:LogGroup")
    assert "name" not in group.inputs and group.inputs["namePrefix"] == "/aws/lambda/prod-worker-"
    assert group.inputs["retentionInDays"] == 90
    name = resolve(worker.component.log_group_name)
    assert name.startswith("/aws/lambda/prod-worker-")
    assert function(worker)["loggingConfig"] == {"logFormat": "JSON", "logGroup": name}


def test_no_reserved_concurrency_by_default() -> None:
    run = run_component(lambda: Worker("w", make_args(reserved_concurrency=None)))
    assert function(run).get("reservedConcurrentExecutions", -1) == -1
    esm = plain(run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs)
    assert esm["scalingConfig"] == {"maximumConcurrency": 5}
    assert WorkerConfig().reserved_concurrency is None


def test_role_is_assumable_by_lambda_only(worker: Run) -> None:
    trust = document(worker.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in statements(trust)] == [{"Service": "lambda.amazonaws.com"}]
    assert worker.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_role_policy_is_scoped_to_its_queue_receipts_prefix_secret_and_log_group(worker: Run) -> None:
    doc = document(worker.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    grants: dict[str, set[str]] = {}
    for st in statements(doc):
        assert st["Effect"] == "Allow"
        for action in as_list(st["Action"]):
            assert action != "*" and not action.endswith(":*"), action
            grants.setdefault(action, set()).update(as_list(st["Resource"]))
    for action, resources in grants.items():
        if action.split(":")[0] in ("sqs", "s3", "secretsmanager", "logs", "kms"):
            assert "*" not in resources, f"{action} granted on *"
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
                   "sqs:SendMessage"):  # send: the handler relays the orders outbox
        assert grants[action] == {QUEUE_ARN}
    assert grants["s3:PutObject"] == grants["s3:GetObject"] == {f"{BUCKET_ARN}/receipts/*"}
    assert grants["secretsmanager:GetSecretValue"] == {DB_SECRET_ARN}
    log_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{resolve(worker.component.log_group_name)}"
    assert grants["logs:PutLogEvents"] == {log_arn, f"{log_arn}:*"}
    assert grants["kms:Decrypt"] == {KMS_ARN}
    star_actions = {a for a, r in grants.items() if "*" in r}
    assert star_actions and all(a.startswith("ec2:") for a in star_actions)
    assert not any(a.startswith(("sqs:DeleteQueue", "sqs:Purge", "s3:Delete", "secretsmanager:Put")) for a in grants)


def test_environment_carries_the_contract_without_secrets_or_reserved_keys(worker: Run) -> None:
    variables = function(worker)["environment"]["variables"]
    assert "AWS_REGION" not in variables  # the runtime sets it
    assert variables == {k: v for k, v in ENV.items() if k != "AWS_REGION"}


def test_stateless_guard_rules_find_nothing(worker: Run) -> None:
    assert policy_findings(worker.resources) == []


def test_output_environment_is_accepted_without_a_database_group() -> None:
    run = run_component(lambda: Worker("w", make_args(
        environment=pulumi.Output.from_input(ENV), database_security_group_id=None, kms_key_arns=(),
    )))
    fn = function(run)
    assert fn["environment"]["variables"]["APP_MODE"] == "cloud"
    assert run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []
    doc = document(run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    assert not any("kms:Decrypt" in as_list(s["Action"]) for s in statements(doc))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reserved_concurrency": -1}, "workerReservedConcurrency must be ≥ 1 when set (got -1)"),
        ({"reserved_concurrency": 0}, "0 would stop the worker"),
        ({"queue_visibility_timeout_seconds": 300, "timeout_seconds": 60},
         "queueVisibilityTimeoutSeconds must be ≥ 6 x workerTimeoutSeconds + workerBatchingWindowSeconds"),
        ({"queue_visibility_timeout_seconds": 361, "timeout_seconds": 60, "batching_window_seconds": 2},
         "(got 361 < 6 x 60 + 2 = 362)"),
        ({"timeout_seconds": 0}, "workerTimeoutSeconds must be ≥ 1 (got 0)"),
        ({"image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/stateless-app:latest"}, "must be an image by digest"),
        ({"environment": {**ENV, "APP_DATABASE_MASTER_SECRET_ARN": DB_SECRET_ARN}}, "only the migration runner"),
        ({"database_secret_arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:other-AbCdEf"},
         "differs from database_secret_arn"),
        ({"batch_size": 50, "batching_window_seconds": 0},
         "workerBatchingWindowSeconds must be ≥ 1 when workerBatchSize is above 10"),
        ({"max_concurrency": 8}, "workerMaxConcurrency must be ≤ workerReservedConcurrency (got 8 > 5)"),
        ({"max_concurrency": 1, "reserved_concurrency": None}, "workerMaxConcurrency must be ≥ 2 (got 1)"),
        ({"command": "not a handler"}, "command 'not a handler'"),
        ({"log_retention_days": 10}, "not a CloudWatch value"),
        ({"environment": {**ENV, "APP_DATABASE_PASSWORD": "hunter2"}}, "APP_DATABASE_PASSWORD looks like a secret"),
        ({"environment": {**ENV, "AWS_LAMBDA_FUNCTION_NAME": "x"}}, "reserved by the Lambda runtime"),
    ],
)
def test_bad_args_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_args(**overrides)


def test_args_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_args().config.timeout_seconds = 900  # type: ignore[misc]

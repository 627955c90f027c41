"""The Lambda worker runs in every mode: fed by the work queue, scoped to its queue, bucket prefix and secret."""

from __future__ import annotations

from policies.mockengine import CapturedResource, ProgramRun, run_program

from .conftest import ROOT, as_list, config_of, name_of, owned_by, policy, refs, subnet_tier

WORKER = "stateless:worker:Worker"
FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"


def work_queue(run: ProgramRun) -> CapturedResource:
    [queue] = [q for q in run.of_type("aws:sqs/queue:Queue") if q.inputs.get("redrivePolicy")]
    return queue


def test_one_worker_function_in_the_private_app_subnets(any_run: ProgramRun) -> None:
    cfg = config_of(name_of(any_run))
    fn = any_run.one(FUNCTION)
    assert owned_by(any_run, WORKER, FUNCTION) == [fn]
    assert fn.inputs["handler"] == "app.worker.handler"
    assert fn.inputs["timeout"] == cfg.get("workerTimeoutSeconds", 30)
    assert fn.inputs["reservedConcurrentExecutions"] == cfg.get("workerReservedConcurrency", 10) >= 1
    assert fn.inputs["memorySize"] == cfg.get("workerMemoryMb", 512)
    assert {subnet_tier(any_run)[s] for s in refs(fn, "vpcConfig") if s in subnet_tier(any_run)} == {"app"}
    assert not fn.inputs.get("fileSystemConfigs") and not fn.inputs.get("ephemeralStorage")
    assert any_run.outputs["workerFunctionName"] == fn.inputs["name"] == f"stateless-stack-{cfg['environment']}-worker"


def test_event_source_is_the_work_queue_with_partial_batch_failures(any_run: ProgramRun) -> None:
    cfg = config_of(name_of(any_run))
    mapping = any_run.one(MAPPING)
    queue = work_queue(any_run)
    assert refs(mapping, "eventSourceArn") == {queue.urn}
    assert mapping.inputs["eventSourceArn"] == queue.outputs["arn"]
    assert refs(mapping, "functionName") == {any_run.one(FUNCTION).urn}
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["batchSize"] == cfg.get("workerBatchSize", 10)
    assert mapping.inputs["enabled"] is True


def test_queue_hides_a_message_for_six_function_timeouts(any_run: ProgramRun) -> None:
    timeout = any_run.one(FUNCTION).inputs["timeout"]
    assert work_queue(any_run).inputs["visibilityTimeoutSeconds"] >= 6 * timeout


def test_role_reaches_only_its_queue_the_receipts_prefix_and_the_database_secret(any_run: ProgramRun) -> None:
    fn = any_run.one(FUNCTION)
    [role] = [r for r in any_run.of_type("aws:iam/role:Role") if r.urn in refs(fn, "role")]
    [inline] = [p for p in any_run.of_type("aws:iam/rolePolicy:RolePolicy") if refs(p, "role") == {role.urn}]
    assert [a for a in any_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if refs(a, "role") == {role.urn}] == []
    statements = {st["Sid"]: st for st in policy(inline)}
    queue_arn = work_queue(any_run).outputs["arn"]
    assert as_list(statements["ConsumeWorkQueue"]["Resource"]) == [queue_arn]
    assert "sqs:ReceiveMessage" in statements["ConsumeWorkQueue"]["Action"]
    bucket = any_run.outputs["bucketName"]
    assert as_list(statements["WriteReceipts"]["Resource"]) == [f"arn:aws:s3:::{bucket}/receipts/*"]
    db_secret = fn.inputs["environment"]["variables"]["APP_DATABASE_SECRET_ARN"]
    assert as_list(statements["ReadDatabaseSecret"]["Resource"]) == [db_secret]
    # Only the network-interface actions, which take no resource scoping, may name "*".
    wildcard = [sid for sid, st in statements.items() if "*" in as_list(st["Resource"])]
    assert wildcard == ["AttachToVpc"]
    assert set(statements["AttachToVpc"]["Action"]) == {
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    }


def test_worker_reaches_the_database_and_https_only(any_run: ProgramRun) -> None:
    env = config_of(name_of(any_run))["environment"]
    [sg] = owned_by(any_run, WORKER, "aws:ec2/securityGroup:SecurityGroup")
    db_sg = any_run.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-sg-db")
    out = [(r.inputs["fromPort"], r.inputs.get("cidrIpv4") or refs(r, "referencedSecurityGroupId").pop())
           for r in any_run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
           if refs(r, "securityGroupId") == {sg.urn}]
    assert sorted(out, key=str) == sorted([(443, "0.0.0.0/0"), (5432, db_sg.urn)], key=str)
    into_db = [r for r in any_run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
               if refs(r, "securityGroupId") == {db_sg.urn} and refs(r, "referencedSecurityGroupId") == {sg.urn}]
    assert [r.inputs["fromPort"] for r in into_db] == [5432]


def test_worker_environment_names_secrets_by_arn_only(any_run: ProgramRun) -> None:
    variables = any_run.one(FUNCTION).inputs["environment"]["variables"]
    assert "AWS_REGION" not in variables  # the runtime sets it
    for key, value in variables.items():
        if "SECRET" in key:
            assert key.endswith("_SECRET_ARN") and value.startswith("arn:aws:secretsmanager:"), key
    assert variables["APP_SQS_QUEUE_URL"] == any_run.outputs["queueUrl"]


def test_dependencies_come_from_the_layer_built_with_the_stack(any_run: ProgramRun) -> None:
    [built] = any_run.of_type("aws:lambda/layerVersion:LayerVersion")
    assert refs(any_run.one(FUNCTION), "layers") == {built.urn}
    assert built.inputs["compatibleRuntimes"] == [any_run.one(FUNCTION).inputs["runtime"]]


def test_a_published_layer_replaces_the_one_built_with_the_stack() -> None:
    layer = "arn:aws:lambda:us-east-1:111122223333:layer:stateless-app-deps:7"
    run = run_program(ROOT, "dev", config_overrides={"workerLayerArn": layer})
    assert run.of_type("aws:lambda/layerVersion:LayerVersion") == []
    assert run.one(FUNCTION).inputs["layers"] == [layer]

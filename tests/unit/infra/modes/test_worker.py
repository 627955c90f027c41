"""The Lambda worker runs in every mode: the app image as a container function fed by the work queue, scoped
to its queue, bucket prefix and the app role's secret; the migration runner is the same image."""

from __future__ import annotations

from policies.gate.mockengine import ProgramRun, Resource
from tests.unit.infra.conftest import as_list, config_of, name_of, owned_by, policy, refs, subnet_tier

WORKER = "stateless:worker:Worker"
MIGRATION = "stateless:migration:Migration"
FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
IMAGE = "docker-build:index:Image"


def worker_function(run: ProgramRun) -> Resource:
    [fn] = owned_by(run, WORKER, FUNCTION)
    return fn


def migration_function(run: ProgramRun) -> Resource:
    [fn] = owned_by(run, MIGRATION, FUNCTION)
    return fn


def work_queue(run: ProgramRun) -> Resource:
    [queue] = [q for q in run.of_type("aws:sqs/queue:Queue") if q.inputs.get("redrivePolicy")]
    return queue


def test_one_worker_function_in_the_private_app_subnets(any_run: ProgramRun) -> None:
    cfg = config_of(name_of(any_run))
    fn = worker_function(any_run)
    assert fn.inputs["timeout"] == cfg.get("workerTimeoutSeconds", 30)
    assert fn.inputs["memorySize"] == cfg.get("workerMemoryMb", 512)
    assert {subnet_tier(any_run)[s] for s in refs(fn, "vpcConfig") if s in subnet_tier(any_run)} == {"app"}
    assert not fn.inputs.get("fileSystemConfigs") and not fn.inputs.get("ephemeralStorage")
    # Auto-named: a replacement never collides with the function it replaces.
    assert "name" not in fn.inputs
    assert any_run.outputs["workerFunctionName"] == fn.outputs["name"]


def test_worker_is_the_app_image_by_digest_with_the_worker_handler(any_run: ProgramRun) -> None:
    fn = worker_function(any_run)
    image = any_run.one(IMAGE)
    assert fn.inputs["packageType"] == "Image"
    assert "code" not in fn.inputs and "layers" not in fn.inputs and "runtime" not in fn.inputs
    assert any_run.of_type("aws:lambda/layerVersion:LayerVersion") == []
    assert image.urn in refs(fn, "imageUri")
    assert fn.inputs["imageUri"] == any_run.outputs["appImage"]
    assert "@sha256:" in fn.inputs["imageUri"] and fn.inputs["imageUri"].endswith(image.outputs["digest"])
    assert fn.inputs["imageConfig"] == {"entryPoints": ["python", "-m", "awslambdaric"],
                                        "commands": ["app.worker.handler"], "workingDirectory": "/srv"}


def test_no_reserved_concurrency_unless_the_stack_opts_in(any_run: ProgramRun) -> None:
    cfg = config_of(name_of(any_run))
    fn = worker_function(any_run)
    reserved = cfg.get("workerReservedConcurrency", 0)
    if reserved:
        assert fn.inputs["reservedConcurrentExecutions"] == reserved
    else:
        assert fn.inputs.get("reservedConcurrentExecutions", -1) == -1


def test_event_source_is_the_work_queue_with_partial_batch_failures(any_run: ProgramRun) -> None:
    cfg = config_of(name_of(any_run))
    mapping = any_run.one(MAPPING)
    queue = work_queue(any_run)
    assert refs(mapping, "eventSourceArn") == {queue.urn}
    assert mapping.inputs["eventSourceArn"] == queue.outputs["arn"]
    assert refs(mapping, "functionName") == {worker_function(any_run).urn}
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["batchSize"] == cfg.get("workerBatchSize", 10)
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": cfg.get("workerMaxConcurrency", 5)}
    assert mapping.inputs["enabled"] is True


def test_queue_hides_a_message_for_six_function_timeouts_plus_the_window(any_run: ProgramRun) -> None:
    timeout = worker_function(any_run).inputs["timeout"]
    window = any_run.one(MAPPING).inputs["maximumBatchingWindowInSeconds"]
    assert work_queue(any_run).inputs["visibilityTimeoutSeconds"] >= 6 * timeout + window


def test_role_reaches_only_its_queue_the_receipts_prefix_and_the_database_secret(any_run: ProgramRun) -> None:
    fn = worker_function(any_run)
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
    # The app role's secret, never the RDS master secret.
    assert db_secret == any_run.outputs["appDatabaseSecretArn"]
    master = any_run.one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0]["secretArn"]
    assert master != db_secret
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
    variables = worker_function(any_run).inputs["environment"]["variables"]
    assert "AWS_REGION" not in variables  # the runtime sets it
    assert "APP_DATABASE_MASTER_SECRET_ARN" not in variables
    for key, value in variables.items():
        if "SECRET" in key:
            assert key.endswith("_SECRET_ARN") and value.startswith("arn:aws:secretsmanager:"), key
    assert variables["APP_SQS_QUEUE_URL"] == any_run.outputs["queueUrl"]


def test_migration_runner_is_the_same_image_with_the_master_secret_alone(any_run: ProgramRun) -> None:
    fn, worker = migration_function(any_run), worker_function(any_run)
    assert fn.inputs["packageType"] == "Image" and fn.inputs["imageUri"] == worker.inputs["imageUri"]
    assert fn.inputs["imageConfig"]["commands"] == ["app.migrate.handler"]
    assert {subnet_tier(any_run)[s] for s in refs(fn, "vpcConfig") if s in subnet_tier(any_run)} == {"app"}
    variables = fn.inputs["environment"]["variables"]
    master = any_run.one("aws:rds/instance:Instance").outputs["masterUserSecrets"][0]["secretArn"]
    assert variables["APP_DATABASE_MASTER_SECRET_ARN"] == master
    assert variables["APP_DATABASE_SECRET_ARN"] == any_run.outputs["appDatabaseSecretArn"]
    [role] = [r for r in any_run.of_type("aws:iam/role:Role") if r.urn in refs(fn, "role")]
    [inline] = [p for p in any_run.of_type("aws:iam/rolePolicy:RolePolicy") if refs(p, "role") == {role.urn}]
    statements = {st["Sid"]: st for st in policy(inline)}
    readable = set(as_list(statements["ReadDatabaseSecrets"]["Resource"]))
    assert readable == {master, any_run.outputs["appDatabaseSecretArn"]}
    # Nobody else may read the master secret.
    for other in any_run.of_type("aws:iam/rolePolicy:RolePolicy"):
        if other is not inline:
            assert master not in other.inputs["policy"], other.name


def test_migration_runs_during_up_on_new_images_and_passwords(any_run: ProgramRun) -> None:
    [run] = owned_by(any_run, MIGRATION, "aws:lambda/invocation:Invocation")
    fn = migration_function(any_run)
    assert refs(run, "functionName") == {fn.urn}
    assert set(run.inputs["triggers"]) == {"image", "appSecretVersion"}
    assert run.inputs["triggers"]["image"] == fn.inputs["imageUri"]
    assert any_run.one(IMAGE).urn in refs(run, "triggers")
    [version] = [v for v in any_run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
                 if v.name.endswith("-app-secret-value")]
    assert version.urn in refs(run, "triggers")


def test_the_worker_starts_consuming_only_after_the_migration(any_run: ProgramRun) -> None:
    [run] = owned_by(any_run, MIGRATION, "aws:lambda/invocation:Invocation")
    assert run.urn in any_run.one(MAPPING).dependencies

"""The whole program, per stack, under the mock engine: security properties of what it registers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from infra.lib import app_env, iam
from policies.gate.mockengine import ProgramRun, Resource, mock_invoke
from policies.rules.secrets import secret_literal
from tests.unit.infra.conftest import name_of

ROOT = Path(__file__).resolve().parents[4]

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SUBNET = "aws:ec2/subnet:Subnet"
BUCKET = "aws:s3/bucket:Bucket"


def stack_config(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("stateless-stack:")}


def component_of(run: ProgramRun, resource: Resource) -> Resource | None:
    by_urn = run.by_urn()
    parent = by_urn.get(resource.parent) if resource.parent else None
    while parent is not None and not parent.type.startswith("stateless:"):
        parent = by_urn.get(parent.parent) if parent.parent else None
    return parent


def refs(resource: Resource, prop: str) -> set[str]:
    """URNs of the resources whose outputs feed `prop` (how references are followed, not by id)."""
    return set(resource.property_dependencies.get(prop, ()))


def ref(resource: Resource, prop: str) -> str:
    [urn] = refs(resource, prop)
    return urn


def sg_roles(run: ProgramRun) -> dict[str, str]:
    """Security group URN → role (alb, app, cache, db; the Lambda worker's own group is `worker`)."""
    roles = {}
    for r in run.of_type(SG):
        owner = component_of(run, r)
        lambda_owner = {"stateless:worker:Worker": "worker", "stateless:migration:Migration": "migrate"}
        roles[r.urn] = lambda_owner[owner.type] if owner is not None and owner.type in lambda_owner \
            else r.name.rsplit("-", 1)[1]
    return roles


def subnets_by_tier(run: ProgramRun) -> dict[str, set[str]]:
    tiers: dict[str, set[str]] = {}
    for s in run.of_type(SUBNET):
        tiers.setdefault(s.inputs["tags"]["tier"], set()).add(s.urn)
    return tiers


def children(run: ProgramRun, component: Resource, type_: str) -> list[Resource]:
    return [r for r in run.of_type(type_) if component_of(run, r) == component]


# ----------------------------------------------------------------------------- instances


def test_launch_template_requires_imdsv2_with_hop_limit_1(run: ProgramRun) -> None:
    lt = run.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert lt.inputs["metadataOptions"]["httpEndpoint"] == "enabled"


def test_instances_have_only_an_encrypted_root_volume_and_no_public_ip(run: ProgramRun) -> None:
    lt = run.one("aws:ec2/launchTemplate:LaunchTemplate")
    [mapping] = lt.inputs["blockDeviceMappings"]
    assert mapping["deviceName"] == "/dev/xvda"
    assert "virtualName" not in mapping and "noDevice" not in mapping
    assert mapping["ebs"]["encrypted"] == "true"
    assert mapping["ebs"]["volumeType"] == "gp3"
    assert mapping["ebs"]["deleteOnTermination"] == "true"
    assert [ni["associatePublicIpAddress"] for ni in lt.inputs["networkInterfaces"]] == ["false"]
    assert "keyName" not in lt.inputs


def test_user_data_reads_config_at_boot_and_holds_no_secret(run: ProgramRun) -> None:
    lt = run.one("aws:ec2/launchTemplate:LaunchTemplate")
    script = base64.b64decode(lt.inputs["userData"]).decode()
    parameter = run.one("aws:ssm/parameter:Parameter")
    assert f"--name {parameter.inputs['name']}" in script
    for password in run.of_type("random:index/randomPassword:RandomPassword"):
        assert password.outputs["result"] not in script
    assert "--network host" in script


def test_autoscaling_group_spans_private_app_subnets_with_elb_health_and_rolling_refresh(run: ProgramRun) -> None:
    asg = run.one("aws:autoscaling/group:Group")
    tiers = subnets_by_tier(run)
    assert refs(asg, "vpcZoneIdentifiers") == tiers["app"]
    assert len(tiers["app"]) >= 2
    assert asg.inputs["healthCheckType"] == "ELB"
    assert asg.inputs["instanceRefresh"]["strategy"] == "Rolling"
    expected = stack_config(run.stack)
    assert (asg.inputs["minSize"], asg.inputs["maxSize"]) == (expected["asgMinSize"], expected["asgMaxSize"])
    attachment = run.one("aws:autoscaling/attachment:Attachment")
    tg = run.one("aws:lb/targetGroup:TargetGroup")
    assert attachment.inputs["lbTargetGroupArn"] == tg.outputs["arn"]
    policy = run.one("aws:autoscaling/policy:Policy")
    assert policy.inputs["policyType"] == "TargetTrackingScaling"
    assert (
        policy.inputs["targetTrackingConfiguration"]["predefinedMetricSpecification"]["predefinedMetricType"]
        == "ASGAverageCPUUtilization"
    )


def test_no_role_policy_grants_any_action_on_everything(run: ProgramRun) -> None:
    policies = run.of_type("aws:iam/rolePolicy:RolePolicy")
    assert policies
    for policy in policies:
        assert iam.wildcard_grants(json.loads(policy.inputs["policy"])) == [], policy.name
    attached = {a.inputs["policyArn"] for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}


def test_instance_role_reads_exactly_the_secrets_named_in_the_app_environment(run: ProgramRun) -> None:
    env = json.loads(run.one("aws:ssm/parameter:Parameter").inputs["value"])
    runtime = next(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-app-app"))
    statements = {s["Sid"]: s for s in json.loads(runtime.inputs["policy"])["Statement"]}
    assert set(statements["ReadAppSecrets"]["Resource"]) == {env[k] for k in app_env.SECRET_ARN_KEYS}
    assert statements["EnqueueOrders"]["Resource"] == [run.one("aws:sqs/queue:Queue", next(
        q.name for q in run.of_type("aws:sqs/queue:Queue") if q.name.endswith("-queue"))).outputs["arn"]]
    assert statements["SignTokens"]["Resource"] == [env["APP_JWT_KMS_KEY_ID"]]


# ----------------------------------------------------------------------------- app configuration


def test_app_environment_is_the_contract_with_secrets_only_as_arns(run: ProgramRun) -> None:
    parameter = run.one("aws:ssm/parameter:Parameter")
    assert parameter.inputs["type"] == "String"
    env = json.loads(parameter.inputs["value"])
    assert tuple(env) == app_env.APP_ENV_KEYS
    assert env["APP_MODE"] == "cloud"
    assert env["APP_REDIS_URL"].startswith("rediss://")
    assert env["APP_DATABASE_HOST"] == run.one("aws:rds/instance:Instance").outputs["address"]
    assert env["APP_S3_BUCKET"] == run.outputs["bucketName"]
    assert env["APP_SQS_QUEUE_URL"] == run.outputs["queueUrl"]
    for key in app_env.SECRET_ARN_KEYS:
        assert env[key].startswith("arn:aws:secretsmanager:"), key


def test_generated_secrets_only_travel_in_secret_fields(run: ProgramRun) -> None:
    for password in run.of_type("random:index/randomPassword:RandomPassword"):
        token = password.outputs["result"]
        for resource in run.resources:
            if resource.type.startswith("random:"):
                continue
            plain = json.dumps({k: v for k, v in resource.inputs.items() if k not in resource.secret_paths})
            assert token not in plain, resource.name
    group = run.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert "authToken" in group.secret_paths
    for version in run.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert "secretString" in version.secret_paths


def test_jwt_signing_key_is_an_asymmetric_kms_key_signing_rs256_only(run: ProgramRun) -> None:
    env = json.loads(run.one("aws:ssm/parameter:Parameter").inputs["value"])
    [key] = [k for k in run.of_type("aws:kms/key:Key") if k.outputs["arn"] == env["APP_JWT_KMS_KEY_ID"]]
    assert (key.inputs["customerMasterKeySpec"], key.inputs["keyUsage"]) == ("RSA_2048", "SIGN_VERIFY")
    deny = [st for st in json.loads(key.inputs["policy"])["Statement"] if st["Effect"] == "Deny"]
    assert deny == [{"Sid": "OnlyRs256Signatures", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Sign",
                     "Resource": "*", "Condition": {"StringNotEquals": {
                         "kms:SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256"}}}]
    assert run.outputs["jwtSigningKeyArn"] == key.outputs["arn"]
    assert "APP_JWT_PRIVATE_KEY_SECRET_ARN" not in env


def test_bootstrap_order_image_then_migration_then_compute(run: ProgramRun) -> None:
    image = run.one("docker-build:index:Image")
    [invocation] = run.of_type("aws:lambda/invocation:Invocation")
    asg = run.one("aws:autoscaling/group:Group")
    lt = run.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert invocation.urn in asg.dependencies
    assert image.urn in refs(lt, "userData")
    script = base64.b64decode(lt.inputs["userData"]).decode()
    assert f"docker pull {run.outputs['appImage']}" in script and "@sha256:" in run.outputs["appImage"]
    repo = run.one("aws:ecr/repository:Repository")
    assert image.inputs["push"] is True
    assert all(t.startswith(repo.outputs["repositoryUrl"] + ":") for t in image.inputs["tags"])
    assert image.inputs["platforms"] == ["linux/amd64"]
    # Relative to the program's directory (infra/), the same in every clone.
    assert image.inputs["context"] == {"location": ".."}
    assert image.inputs["dockerfile"] == {"location": "../app/Dockerfile"}


def test_instance_refresh_launches_before_it_terminates_and_health_is_the_instances_own(run: ProgramRun) -> None:
    asg = run.one("aws:autoscaling/group:Group")
    prefs = asg.inputs["instanceRefresh"]["preferences"]
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 200)
    assert asg.inputs["healthCheckType"] == "ELB" and asg.inputs["healthCheckGracePeriod"] >= 60
    assert run.one("aws:lb/targetGroup:TargetGroup").inputs["healthCheck"]["path"] == "/readyz"


def test_keepalive_outlasts_the_alb_idle_timeout_and_the_app_listens_on_app_port(run: ProgramRun) -> None:
    env = json.loads(run.one("aws:ssm/parameter:Parameter").inputs["value"])
    alb = run.one("aws:lb/loadBalancer:LoadBalancer")
    assert int(env["APP_KEEPALIVE_TIMEOUT_SECONDS"]) == alb.inputs["idleTimeout"] + 5
    assert env["APP_PORT"] == str(stack_config(run.stack).get("appPort", 8000))
    assert (env["APP_DATABASE_SSLMODE"], env["APP_DATABASE_SSLROOTCERT"]) == (
        "verify-full", "/etc/ssl/certs/rds-global-bundle.pem")


def test_rds_logs_go_to_retained_groups_and_the_snapshot_is_named_after_the_instance(run: ProgramRun) -> None:
    db = run.one("aws:rds/instance:Instance")
    ident = db.inputs["identifier"]
    groups = {g.inputs["name"]: g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")
              if str(g.inputs.get("name", "")).startswith("/aws/rds/")}
    assert set(groups) == {f"/aws/rds/instance/{ident}/{kind}" for kind in db.inputs["enabledCloudwatchLogsExports"]}
    assert all(g.urn in db.dependencies for g in groups.values())
    assert all(g.inputs["retentionInDays"] == stack_config(run.stack)["logRetentionDays"] for g in groups.values())
    assert db.inputs["finalSnapshotIdentifier"] == f"{ident}-final"


def test_flow_log_role_trusts_the_service_for_this_account_only(run: ProgramRun) -> None:
    flow = run.one("aws:ec2/flowLog:FlowLog")
    role = run.by_urn()[ref(flow, "iamRoleArn")]
    [st] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert st["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert st["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":123456789012:vpc-flow-log/*")


# ----------------------------------------------------------------------------- network and security groups


def test_no_subnet_hands_out_public_ips_and_only_public_subnets_route_to_the_internet(run: ProgramRun) -> None:
    for subnet in run.of_type(SUBNET):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    tiers = subnets_by_tier(run)
    by_urn = run.by_urn()
    seen = set()
    for assoc in run.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        table = by_urn[ref(assoc, "routeTableId")]
        routes = table.inputs.get("routes", [])
        targets = {by_urn[d].type for d in table.dependencies} - {"aws:ec2/vpc:Vpc"}
        subnet = ref(assoc, "subnetId")
        seen.add(subnet)
        if subnet in tiers["public"]:
            assert [r["cidrBlock"] for r in routes] == ["0.0.0.0/0"] and "gatewayId" in routes[0]
            assert targets == {"aws:ec2/internetGateway:InternetGateway"}
        elif subnet in tiers["app"]:
            assert all("gatewayId" not in r and "natGatewayId" in r for r in routes)
            assert targets == {"aws:ec2/natGateway:NatGateway"}
        else:
            assert subnet in tiers["data"]
            assert routes == [] and targets == set()
    assert seen == set().union(*tiers.values())


def test_default_security_group_is_emptied(run: ProgramRun) -> None:
    default = run.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress") and not default.inputs.get("egress")
    assert ref(default, "vpcId") == run.one("aws:ec2/vpc:Vpc").urn


def test_flow_logs_capture_all_traffic_with_retention(run: ProgramRun) -> None:
    flow = run.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    assert ref(flow, "vpcId") == run.one("aws:ec2/vpc:Vpc").urn
    group = run.by_urn()[ref(flow, "logDestination")]
    assert group.inputs["retentionInDays"] == stack_config(run.stack)["logRetentionDays"]


def test_security_groups_chain_internet_alb_app_data(run: ProgramRun) -> None:
    roles = sg_roles(run)
    assert sorted(roles.values()) == ["alb", "app", "cache", "db", "migrate", "worker"]
    allowed_ingress = {
        ("alb", "0.0.0.0/0", 443),
        ("alb", "0.0.0.0/0", 80),
        ("app", "alb", stack_config(run.stack).get("appPort", 8000)),
        ("cache", "app", 6379),
        ("db", "app", 5432),
        ("db", "worker", 5432),
        ("db", "migrate", 5432),
    }
    seen = set()
    for rule in run.of_type(INGRESS):
        sources = refs(rule, "referencedSecurityGroupId")
        source = roles[sources.pop()] if sources else rule.inputs["cidrIpv4"]
        assert rule.inputs["fromPort"] == rule.inputs["toPort"]
        assert rule.inputs["ipProtocol"] == "tcp"
        seen.add((roles[ref(rule, "securityGroupId")], source, rule.inputs["fromPort"]))
    assert seen == allowed_ingress


def test_only_the_alb_and_app_groups_have_egress_and_it_is_narrow(run: ProgramRun) -> None:
    roles = sg_roles(run)
    by_group: dict[str, set[tuple[str, int]]] = {}
    for rule in run.of_type(EGRESS):
        targets = refs(rule, "referencedSecurityGroupId")
        target = roles[targets.pop()] if targets else rule.inputs["cidrIpv4"]
        assert rule.inputs["ipProtocol"] == "tcp"
        by_group.setdefault(roles[ref(rule, "securityGroupId")], set()).add((target, rule.inputs["fromPort"]))
    port = stack_config(run.stack).get("appPort", 8000)
    assert by_group == {
        "alb": {("app", port)},
        "app": {("cache", 6379), ("db", 5432), ("0.0.0.0/0", 443)},
        "worker": {("db", 5432), ("0.0.0.0/0", 443)},
        "migrate": {("db", 5432), ("0.0.0.0/0", 443)},
    }
    for group in run.of_type(SG):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress")


# ----------------------------------------------------------------------------- edge


def test_load_balancer_is_public_in_public_subnets_and_drops_invalid_headers(run: ProgramRun) -> None:
    alb = run.one("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["internal"] is False
    assert refs(alb, "subnets") == subnets_by_tier(run)["public"]
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["accessLogs"]["enabled"] is True
    assert alb.inputs["enableDeletionProtection"] is stack_config(run.stack)["albDeletionProtection"]
    assert [sg_roles(run)[g] for g in refs(alb, "securityGroups")] == ["alb"]


def test_access_log_bucket_admits_elb_log_delivery(run: ProgramRun) -> None:
    alb = run.one("aws:lb/loadBalancer:LoadBalancer")
    bucket = alb.inputs["accessLogs"]["bucket"]
    policy = next(p for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == bucket)
    statements = json.loads(policy.inputs["policy"])["Statement"]
    delivery = [s for s in statements if s["Effect"] == "Allow"]
    assert delivery and all(s["Action"] == "s3:PutObject" for s in delivery)
    assert all(s["Resource"].startswith(f"arn:aws:s3:::{bucket}/alb/AWSLogs/") for s in delivery)
    sse = next(
        c for c in run.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if c.inputs["bucket"] == bucket
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_target_group_checks_readiness_and_is_not_sticky(run: ProgramRun) -> None:
    tg = run.one("aws:lb/targetGroup:TargetGroup")
    assert tg.inputs["healthCheck"]["path"] == "/readyz"
    assert tg.inputs["healthCheck"]["enabled"] is True
    assert tg.inputs["stickiness"]["enabled"] is False


def test_listeners_follow_the_certificate(run: ProgramRun) -> None:
    listeners = {(lst.inputs["protocol"], lst.inputs["port"]): lst for lst in run.of_type("aws:lb/listener:Listener")}
    cfg = stack_config(run.stack)
    looked_up = mock_invoke("aws:acm/getCertificate:getCertificate", {}, "us-east-1")["arn"]
    cert = cfg.get("certificateArn") or (looked_up if cfg.get("certificateDomain") else None)
    if cert is None:
        assert set(listeners) == {("HTTP", 80)}
        assert listeners["HTTP", 80].inputs["defaultActions"][0]["type"] == "forward"
        assert run.outputs["appUrl"].startswith("http://")
        return
    assert set(listeners) == {("HTTPS", 443), ("HTTP", 80)}
    https = listeners["HTTPS", 443].inputs
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificateArn"] == cert
    [redirect] = listeners["HTTP", 80].inputs["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert run.outputs["appUrl"].startswith("https://")


# ----------------------------------------------------------------------------- state services


def test_every_bucket_is_private_encrypted_versioned_owner_enforced_and_tls_only(run: ProgramRun) -> None:
    buckets = {b.outputs["bucket"]: b for b in run.of_type(BUCKET)}
    assert len(buckets) >= 2

    def for_bucket(type_: str) -> dict[str, Resource]:
        found = {r.inputs["bucket"]: r for r in run.of_type(type_)}
        assert set(found) == set(buckets), type_
        return found

    blocks = for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    ownership = for_bucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    sse = for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    versioning = for_bucket("aws:s3/bucketVersioning:BucketVersioning")
    policies = for_bucket("aws:s3/bucketPolicy:BucketPolicy")
    lifecycles = for_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    # Emptied on destroy only where the stack file says nothing in it is kept (dev): test_release.py.
    disposable = bool(stack_config(name_of(run)).get("disposable", False))
    for name, bucket in buckets.items():
        assert bool(bucket.inputs.get("forceDestroy")) is disposable, name
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(blocks[name].inputs[f] is True for f in flags)
        assert ownership[name].inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        assert sse[name].inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        assert versioning[name].inputs["versioningConfiguration"]["status"] == "Enabled"
        statements = json.loads(policies[name].inputs["policy"])["Statement"]
        assert iam.tls_only_statement(bucket.outputs["arn"]) in statements
        rules = lifecycles[name].inputs["rules"]
        assert any(r["noncurrentVersionExpiration"]["noncurrentDays"] >= 1 for r in rules)


def test_app_bucket_expires_old_versions_per_stack(run: ProgramRun) -> None:
    name = run.outputs["bucketName"]
    lifecycle = next(
        r for r in run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.inputs["bucket"] == name
    )
    [rule] = lifecycle.inputs["rules"]
    days = stack_config(run.stack)["bucketNoncurrentVersionDays"]
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == days
    assert "expiration" not in rule


def test_queues_are_encrypted_and_the_work_queue_redrives_to_the_dlq(run: ProgramRun) -> None:
    queues = {q.name.rsplit("-", 1)[1]: q for q in run.of_type("aws:sqs/queue:Queue")}
    assert set(queues) == {"queue", "dlq"}
    assert all(q.inputs["sqsManagedSseEnabled"] is True for q in queues.values())
    redrive = json.loads(queues["queue"].inputs["redrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": queues["dlq"].outputs["arn"],
        "maxReceiveCount": stack_config(run.stack)["queueMaxReceiveCount"],
    }
    allow = json.loads(run.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [queues["queue"].outputs["arn"]]}
    alarm = run.one("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm.inputs["dimensions"] == {"QueueName": queues["dlq"].outputs["name"]}
    assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == ("GreaterThanThreshold", 0)
    assert run.outputs["dlqUrl"] == queues["dlq"].outputs["url"]


def test_database_is_private_encrypted_backed_up_and_keeps_a_final_snapshot(run: ProgramRun) -> None:
    db = run.one("aws:rds/instance:Instance").inputs
    expected = stack_config(run.stack)
    assert db["engine"] == "postgres"
    assert db["storageEncrypted"] is True
    assert db["publiclyAccessible"] is False
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]
    assert db["backupRetentionPeriod"] == expected["dbBackupRetentionDays"] >= 1
    assert db["multiAz"] is expected["dbMultiAz"]
    assert db["deletionProtection"] is expected["dbDeletionProtection"]
    group = run.one("aws:rds/subnetGroup:SubnetGroup")
    assert refs(group, "subnetIds") == subnets_by_tier(run)["data"]
    params = run.one("aws:rds/parameterGroup:ParameterGroup").inputs
    assert {"name": "rds.force_ssl", "value": "1"} in [
        {k: p[k] for k in ("name", "value")} for p in params["parameters"]
    ]
    instance = run.one("aws:rds/instance:Instance")
    assert ref(instance, "parameterGroupName") == run.one("aws:rds/parameterGroup:ParameterGroup").urn
    assert [sg_roles(run)[g] for g in refs(instance, "vpcSecurityGroupIds")] == ["db"]


def test_cache_encrypts_in_transit_and_at_rest_behind_auth(run: ProgramRun) -> None:
    resource = run.one("aws:elasticache/replicationGroup:ReplicationGroup")
    group = resource.inputs
    expected = stack_config(run.stack)
    assert group["transitEncryptionEnabled"] is True
    assert group["atRestEncryptionEnabled"] is True
    assert group["authToken"]
    assert group["numCacheClusters"] == expected["cacheNumNodes"]
    assert group["automaticFailoverEnabled"] is expected["cacheAutomaticFailover"]
    assert group["multiAzEnabled"] is expected["cacheMultiAz"]
    subnets = run.one("aws:elasticache/subnetGroup:SubnetGroup")
    assert refs(subnets, "subnetIds") == subnets_by_tier(run)["data"]
    assert [sg_roles(run)[g] for g in refs(resource, "securityGroupIds")] == ["cache"]


def test_ecr_repository_scans_on_push_with_immutable_tags(run: ProgramRun) -> None:
    repo = run.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"]["scanOnPush"] is True
    assert bool(repo.inputs.get("forceDelete")) is bool(stack_config(name_of(run)).get("disposable", False))
    assert run.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["repository"] == repo.outputs["name"]
    assert run.outputs["ecrRepositoryUrl"] == repo.outputs["repositoryUrl"]


# ----------------------------------------------------------------------------- per-environment bars


def test_prod_survives_the_loss_of_an_az(prod: ProgramRun) -> None:
    assert prod.one("aws:rds/instance:Instance").inputs["multiAz"] is True
    assert prod.one("aws:rds/instance:Instance").inputs["deletionProtection"] is True
    cache = prod.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs
    assert cache["multiAzEnabled"] is True and cache["automaticFailoverEnabled"] is True
    assert cache["numCacheClusters"] >= 2
    assert prod.one("aws:autoscaling/group:Group").inputs["minSize"] >= 2
    assert prod.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True
    nats = prod.of_type("aws:ec2/natGateway:NatGateway")
    public = subnets_by_tier(prod)["public"]
    assert {ref(n, "subnetId") for n in nats} == public
    by_urn = prod.by_urn()
    app_subnets = subnets_by_tier(prod)["app"]
    nat_per_app_subnet = {
        ref(a, "subnetId"): next(d for d in by_urn[ref(a, "routeTableId")].dependencies if "natGateway" in d)
        for a in prod.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if ref(a, "subnetId") in app_subnets
    }
    assert len(set(nat_per_app_subnet.values())) == len(app_subnets)
    zones = {s.inputs["availabilityZone"] for s in prod.of_type(SUBNET)}
    assert len(zones) >= 3


def test_dev_is_cheap_and_http_only(dev: ProgramRun) -> None:
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    assert dev.one("aws:rds/instance:Instance").inputs["multiAz"] is False
    assert [lst.inputs["protocol"] for lst in dev.of_type("aws:lb/listener:Listener")] == ["HTTP"]


def test_staging_and_prod_differ_from_dev_only_through_their_stack_files(
    dev: ProgramRun, staging: ProgramRun, prod: ProgramRun
) -> None:
    types = [{r.type for r in run.resources} for run in (dev, staging, prod)]
    # Same kinds of resources everywhere; sizes and switches come from the stack files.
    assert types[0] == types[1] == types[2]
    sizes = [run.one("aws:ec2/launchTemplate:LaunchTemplate").inputs["instanceType"] for run in (dev, staging, prod)]
    assert sizes == [stack_config(s)["instanceType"] for s in ("dev", "staging", "prod")]


# ----------------------------------------------------------------------------- structure and outputs


def test_every_resource_belongs_to_a_component_with_a_matching_type_token(run: ProgramRun) -> None:
    components = [r for r in run.resources if r.type.startswith("stateless:")]
    assert components
    for component in components:
        _, module, kind = component.type.split(":")
        assert (ROOT / "infra" / "components" / f"{module}.py").is_file()
        assert kind[0].isupper()
    for resource in run.resources:
        if resource.custom:
            owner = component_of(run, resource)
            assert owner is not None, f"{resource.type} {resource.name} is not inside a component"
            assert resource.name.startswith(owner.name + "-"), resource.name


def test_outputs_name_every_endpoint(run: ProgramRun) -> None:
    assert {"appUrl", "bucketName", "queueUrl", "dlqUrl", "dbEndpoint", "redisEndpoint", "ecrRepositoryUrl"} <= set(
        run.outputs
    )
    assert all(run.outputs[k] for k in run.outputs)
    assert run.outputs["dbEndpoint"] == run.one("aws:rds/instance:Instance").outputs["address"]


def plaintext_secrets(doc: Any, declared_secret: set[str], project: str = "stateless-stack") -> list[str]:
    """Keys of a stack file that hold a secret in clear: a key declared `secret: true` in Pulumi.yaml
    without `secure:`, or a value the pack's own classifier calls a secret literal (by its name, or an
    access key id / a password in a URL whatever the name), at any depth of structured config."""
    found: list[str] = []

    def walk(name: str, value: Any, path: str) -> None:
        if isinstance(value, dict) and set(value) == {"secure"}:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(str(k), v, f"{path}.{k}")
            return
        if isinstance(value, list):
            for i, v in enumerate(value):
                walk(name, v, f"{path}[{i}]")
            return
        if secret_literal(name, value):
            found.append(path)

    for key, value in (doc.get("config") or {}).items():
        qualified = key if ":" in key else f"{project}:{key}"
        if qualified in declared_secret and not (isinstance(value, dict) and set(value) == {"secure"}):
            found.append(key)
            continue
        walk(key.split(":", 1)[-1], value, key)
    return found


def _declared_secret_keys() -> set[str]:
    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    return {k for k, spec in (doc.get("config") or {}).items() if isinstance(spec, dict) and spec.get("secret")}


def test_stack_files_hold_no_plaintext_secret() -> None:
    files = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert files
    for path in files:
        assert plaintext_secrets(yaml.safe_load(path.read_text()), _declared_secret_keys()) == [], path.name


def test_the_plaintext_secret_check_finds_what_it_claims() -> None:
    doc = {
        "config": {
            "stateless-stack:dbAppPasswordVersion": 2,  # a setting about a secret, not a secret
            "stateless-stack:jwtIssuer": "https://auth.example.com",
            "stateless-stack:redisAuthToken": "s3cr3t-value-in-clear",
            "stateless-stack:deploy": {"apiKey": "abc123def456"},
            "stateless-stack:webhook": "https://bot:hunter2@hooks.example.com/x",
            "stateless-stack:declared": "in clear although declared secret",
            "stateless-stack:sealed": {"secure": "v1:AAAA"},
            "stateless-stack:accessKeys": ["AKIAABCDEFGHIJKLMNOP"],
        }
    }
    found = plaintext_secrets(doc, {"stateless-stack:declared", "stateless-stack:sealed"})
    assert found == [
        "stateless-stack:redisAuthToken",
        "stateless-stack:deploy.apiKey",
        "stateless-stack:webhook",
        "stateless-stack:declared",
        "stateless-stack:accessKeys[0]",
    ]


def test_no_deprecated_resource_names(run: ProgramRun) -> None:
    # pulumi-aws v7 keeps the old `*V2` S3 names and `aws:alb/*` aliases alive; the program uses neither.
    for resource in run.resources:
        assert not resource.type.split(":")[-1].endswith("V2"), resource.type
        assert not resource.type.startswith("aws:alb/"), resource.type


def test_dlq_alarm_notifies_the_configured_topic(run: ProgramRun) -> None:
    topic = stack_config(run.stack).get("alarmTopicArn") or None
    alarm = run.one("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs.get("alarmActions", []) == ([topic] if topic else [])


def test_the_app_role_secret_is_generated_json_for_the_app_user_only(run: ProgramRun) -> None:
    [version] = [v for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
                 if v.name.endswith("-app-secret-value")]
    assert "secretString" in version.secret_paths
    value = json.loads(version.inputs["secretString"])
    db = run.one("aws:rds/instance:Instance")
    assert value["username"] == "app" != db.inputs["username"]
    assert (value["engine"], value["host"], value["port"], value["dbname"]) == (
        "postgres", db.outputs["address"], 5432, db.inputs["dbName"])
    [password] = [p for p in run.of_type("random:index/randomPassword:RandomPassword")
                  if p.urn in refs(version, "secretString")]
    assert value["password"] == password.outputs["result"]
    assert password.inputs["keepers"] == {"version": str(stack_config(run.stack).get("dbAppPasswordVersion", 1))}


def test_the_signing_key_exists_before_compute_and_only_the_web_grant_uses_it(run: ProgramRun) -> None:
    key = next(k for k in run.of_type("aws:kms/key:Key") if k.inputs.get("keyUsage") == "SIGN_VERIFY")
    web = next(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-app-app"))
    assert key.urn in refs(web, "policy")
    users = [p.name for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if key.outputs["arn"] in p.inputs["policy"]]
    assert users == [web.name]


def test_the_program_needs_no_prebuilt_local_artifact(run: ProgramRun) -> None:
    # No FileArchive/AssetArchive anywhere: the image is the only package, built by `pulumi up`.
    archive_sigs = ("0def7320c3a5731c473e5ecbe6d01bc7", "c44067f5952c0a294b673a41bacd8c17")
    for resource in run.resources:
        dumped = json.dumps(resource.inputs)
        assert not any(sig in dumped for sig in archive_sigs), resource.name
    assert run.of_type("aws:lambda/layerVersion:LayerVersion") == []


def test_lambda_may_pull_the_image_for_this_accounts_functions_only(run: ProgramRun) -> None:
    policy = run.one("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert ref(policy, "repository") == run.one("aws:ecr/repository:Repository").urn
    [st] = json.loads(policy.inputs["policy"])["Statement"]
    assert st["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(st["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert st["Condition"]["StringLike"]["aws:sourceArn"] == "arn:aws:lambda:us-east-1:123456789012:function:*"

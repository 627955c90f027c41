"""The mock engine's answers for the resource types and invokes the program added (image build, session
context, name prefixes) are as strict as the providers they stand in for."""

from __future__ import annotations

import collections.abc
import re

from policies.gate.mockengine import mock_invoke, mock_outputs


def test_a_built_image_reports_a_sha256_digest_and_a_tag_at_digest_reference() -> None:
    tags = ["123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:0.1.0-abc"]
    _, state = mock_outputs("docker-build:index:Image", "img", {"tags": tags, "push": True}, "us-east-1")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", state["digest"])
    assert state["ref"] == f"{tags[0]}@{state['digest']}"
    # Other tags, other digest: compute that refers to the digest rolls when the image changes.
    _, other = mock_outputs("docker-build:index:Image", "img", {"tags": [tags[0] + "x"]}, "us-east-1")
    assert other["digest"] != state["digest"]


def test_session_context_maps_an_assumed_role_session_to_its_role() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/deploy-prod/ci-run-42"
    answer = mock_invoke("aws:iam/getSessionContext:getSessionContext", {"arn": session}, "us-east-1")
    assert answer["issuerArn"] == "arn:aws:iam::123456789012:role/deploy-prod"
    assert (answer["issuerName"], answer["sessionName"]) == ("deploy-prod", "ci-run-42")
    user = "arn:aws:iam::123456789012:user/ci"
    assert mock_invoke("aws:iam/getSessionContext:getSessionContext", {"arn": user}, "us-east-1")["issuerArn"] == user


def test_a_name_prefix_gets_a_unique_suffix_and_never_stays_bare() -> None:
    _, state = mock_outputs("aws:cloudwatch/logGroup:LogGroup", "w-logs", {"namePrefix": "/aws/lambda/w-"}, "us-east-1")
    assert state["name"].startswith("/aws/lambda/w-") and state["name"] != "/aws/lambda/w-"
    assert state["arn"].endswith(f"log-group:{state['name']}")
    # The suffix is 12 characters drawn from the type and the resource's name.
    import hashlib

    token = "aws:cloudwatch/logGroup:LogGroup"
    assert state["name"] == "/aws/lambda/w-" + hashlib.sha256((token + "w-logs").encode()).hexdigest()[:12]
    # Both given: the provider's schema refuses the pair (name ConflictsWith name_prefix); the stand-in
    # judges nothing there and takes the name, the value the program spelled out.
    _, named = mock_outputs(token, "w-logs", {"name": "/aws/lambda/exact", "namePrefix": "/aws/lambda/w-"}, "us-east-1")
    assert named["name"] == "/aws/lambda/exact" and named["arn"].endswith("log-group:/aws/lambda/exact")


def test_an_aws_resources_state_echoes_a_name_input_that_is_not_text() -> None:
    # A name the program set, whatever its shape, is the provider's to judge: the state echoes it.
    _, state = mock_outputs("aws:sqs/queue:Queue", "jobs", {"name": 42}, "us-east-1")
    assert state["name"] == 42 and state["arn"].endswith(":jobs")
    _, generated = mock_outputs("aws:sqs/queue:Queue", "jobs", {}, "us-east-1")
    assert generated["name"].startswith("jobs-")


def test_a_secret_version_has_a_version_id_that_follows_its_value() -> None:
    _, first = mock_outputs("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretString": "a"}, "us-east-1")
    _, second = mock_outputs("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretString": "b"}, "us-east-1")
    assert first["versionId"] and first["versionId"] != second["versionId"]


def _result_type(token: str) -> type:
    """The pulumi_aws result class of an invoke token: aws:ec2/getAmi:getAmi -> pulumi_aws.ec2.GetAmiResult."""
    import importlib

    _, module, function = token.split(":")
    package = module.split("/")[0]
    package = {"index": "", "lambda": "lambda_"}.get(package, package)
    mod = importlib.import_module("pulumi_aws" + (f".{package}" if package else ""))
    return getattr(mod, function[0].upper() + function[1:] + "Result")


_PLAIN = {str: str, bool: bool, int: int, float: (int, float)}


def test_every_aws_answer_has_the_shape_of_the_sdk_result_type() -> None:
    import typing

    from pulumi import _types

    from policies.gate.mockengine.answers import _AWS_INVOKES

    assert len(_AWS_INVOKES) >= 20
    for token in _AWS_INVOKES:
        fields = _types.output_type_types(_result_type(token))
        args = {
            "name": "/aws/service/ami-amazon-linux-latest/al2023",
            "domain": "example.com",
            "arn": "arn:aws:iam::123456789012:user/ci",
        }
        answer = mock_invoke(token, args, "eu-west-1")
        assert answer is not None and answer.get("id"), token
        for key, value in answer.items():
            assert key in fields, f"{token}: {key} is not a property of the result"
            if value is None:
                continue
            expected = fields[key]
            origin = typing.get_origin(expected)
            if expected in _PLAIN:
                assert isinstance(value, _PLAIN[expected]), f"{token}: {key}={value!r} is not {expected}"
            elif origin is not None and issubclass(origin, collections.abc.Sequence):
                assert isinstance(value, list), f"{token}: {key} is not a list"
            elif origin is not None and issubclass(origin, collections.abc.Mapping):
                assert isinstance(value, dict), f"{token}: {key} is not an object"


def test_an_invoke_without_an_answer_is_none_so_that_the_run_names_it() -> None:
    assert mock_invoke("aws:rds/getEngineVersion:getEngineVersion", {"engine": "postgres"}, "us-east-1") is None
    assert mock_invoke("digitalocean:index/getKubernetesVersions:getKubernetesVersions", {}, "nyc3") is None


def test_public_ssm_image_parameters_answer_an_ami_and_others_a_stand_in() -> None:
    ami = mock_invoke("aws:ssm/getParameter:getParameter", {"name": "/aws/service/ecs/optimized-ami/image_id"}, "x")
    assert ami is not None and ami["value"].startswith("ami-")
    other = mock_invoke("aws:ssm/getParameter:getParameter", {"name": "/team/db/host"}, "x")
    assert other is not None and other["value"] == "mock-parameter-team-db-host"


# ----------------------------------------------------------------------------- every answer, exactly
# The shapes below are the providers' (ARN formats from the AWS service authorization reference, the
# endpoints AWS documents); the hash-derived parts are the stand-in's own, recomputed here.

import base64  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402

from policies.gate.mockengine.answers import MOCK_ACCOUNT_ID, _decode_manifests  # noqa: E402

R = "eu-west-1"
ACCT = MOCK_ACCOUNT_ID


def _h(text: str, n: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _auto(type_: str, name: str) -> str:
    return f"{name}-{_h(type_ + name, 7)}"


def _out(type_: str, name: str, inputs: dict | None = None) -> tuple[str, dict]:
    return mock_outputs(type_, name, dict(inputs or {}), R)


def test_the_account_is_the_documentation_account() -> None:
    assert ACCT == "123456789012"


def test_a_resource_without_an_answer_gets_its_inputs_an_arn_a_name_and_name_id() -> None:
    t = "aws:sns/topic:Topic"
    rid, state = _out(t, "alerts", {"fifo": False})
    phys = _auto(t, "alerts")
    assert rid == "alerts-id"
    assert state == {"fifo": False, "arn": f"arn:aws:sns:{R}:{ACCT}:topic/{phys}", "name": phys, "id": "alerts-id"}
    rid, state = _out("gcp:storage/bucket:Bucket", "b", {"location": "EU"})
    assert state == {
        "location": "EU",
        "arn": f"arn:aws:storage:{R}:{ACCT}:bucket/{_auto('gcp:storage/bucket:Bucket', 'b')}",
        "id": "b-id",
    }
    rid, state = _out("custom", "c")
    assert state == {"arn": f"arn:aws:custom:{R}:{ACCT}:/{_auto('custom', 'c')}", "id": "c-id"}


def test_the_physical_name_is_the_given_name_the_bucket_or_a_prefix() -> None:
    t = "aws:sns/topic:Topic"
    assert _out(t, "a", {"name": "given", "bucket": "b"})[1]["arn"].endswith(":topic/given")
    assert _out(t, "a", {"name": "given"})[1]["name"] == "given"
    assert _out(t, "a", {"bucket": "b"})[1]["name"] == "b"
    assert _out(t, "a", {"namePrefix": "p-"})[1]["name"] == "p-" + _h(t + "a")
    assert _out(t, "a", {"name": "given", "namePrefix": "p-"})[1]["name"] == "given"
    assert _out(t, "a", {"namePrefix": 3})[1]["name"] == _auto(t, "a")
    assert _out(t, "a", {"name": 5})[1]["arn"].endswith(":topic/a")  # not a string: the logical name
    assert _out(t, "a", {"arn": "given-arn"})[1]["arn"] == "given-arn"


def test_buckets() -> None:
    for t in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        rid, state = _out(t, "site", {"bucket": "my-site"})
        assert rid == "my-site" and state["id"] == "my-site"
        assert state["arn"] == "arn:aws:s3:::my-site"
        assert state["bucketDomainName"] == "my-site.s3.amazonaws.com"
        assert state["bucketRegionalDomainName"] == f"my-site.s3.{R}.amazonaws.com"
        assert state["bucket"] == "my-site" and state["name"] == "my-site"
        rid, state = _out(t, "site")
        assert state["bucket"] == _auto(t, "site") == rid


def test_queues_load_balancers_and_target_groups() -> None:
    rid, state = _out("aws:sqs/queue:Queue", "jobs", {"name": "jobs"})
    assert rid == state["url"] == f"https://sqs.{R}.amazonaws.com/{ACCT}/jobs"
    assert state["arn"] == f"arn:aws:sqs:{R}:{ACCT}:jobs"
    for t in (
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:alb/loadBalancer:LoadBalancer",
        "aws:elb/loadBalancer:LoadBalancer",
    ):
        rid, state = _out(t, "web", {"name": "web"})
        assert rid == "web-id"
        assert state["dnsName"] == f"web-{_h('web', 8)}.{R}.elb.amazonaws.com"
        assert state["zoneId"] == "Z35SXDOTRQ7X7K"
        assert state["arnSuffix"] == f"app/web/{_h('web')}"
    for t in ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"):
        _, state = _out(t, "tg", {"name": "tg"})
        assert state["arnSuffix"] == f"targetgroup/tg/{_h('tg')}"
        assert state["arn"] == f"arn:aws:elasticloadbalancing:{R}:{ACCT}:targetgroup/tg/{_h('tg')}"


@pytest.mark.parametrize("t", ["aws:rds/instance:Instance", "aws:rds/cluster:Cluster"])
def test_databases(t: str) -> None:
    _, state = _out(t, "db", {"name": "db"})
    host = f"db.{_h('db')}.{R}.rds.amazonaws.com"
    assert (state["address"], state["endpoint"], state["port"]) == (host, f"{host}:5432", 5432)
    assert state["masterUserSecrets"] == [
        {"secretArn": f"arn:aws:secretsmanager:{R}:{ACCT}:secret:rds!db", "secretStatus": "active"}
    ]
    assert _out(t, "db", {"name": "db", "port": 3306})[1]["port"] == 3306


def test_caches_registries_and_clusters() -> None:
    _, state = _out("aws:elasticache/replicationGroup:ReplicationGroup", "c", {"name": "c"})
    assert state["primaryEndpointAddress"] == f"master.c.{_h('c', 6)}.cache.amazonaws.com"
    assert state["readerEndpointAddress"] == f"replica.c.{_h('c', 6)}.cache.amazonaws.com"
    assert state["port"] == 6379
    assert _out("aws:elasticache/replicationGroup:ReplicationGroup", "c", {"port": 6380})[1]["port"] == 6380
    _, state = _out("aws:ecr/repository:Repository", "r", {"name": "r"})
    assert (state["repositoryUrl"], state["registryId"]) == (f"{ACCT}.dkr.ecr.{R}.amazonaws.com/r", ACCT)
    _, state = _out("aws:eks/cluster:Cluster", "k", {"name": "k", "vpcConfig": {"subnetIds": ["s"]}})
    tag = _h("k").upper()
    assert state["endpoint"] == f"https://{tag}.gr7.{R}.eks.amazonaws.com"
    assert state["certificateAuthority"] == {"data": base64.b64encode(b"mock-ca").decode()}
    assert state["identities"] == [{"oidcs": [{"issuer": f"https://oidc.eks.{R}.amazonaws.com/id/{tag}"}]}]
    assert state["version"] == "1.31"
    assert state["vpcConfig"] == {
        "subnetIds": ["s"],
        "clusterSecurityGroupId": f"sg-{_h('kcluster')}",
        "vpcId": "vpc-0mock",
    }
    _, state = _out("aws:eks/cluster:Cluster", "k", {"version": "1.30", "vpcConfig": {"vpcId": "vpc-1"}})
    assert (state["version"], state["vpcConfig"]["vpcId"]) == ("1.30", "vpc-1")
    assert _out("aws:eks/cluster:Cluster", "k")[1]["vpcConfig"]["vpcId"] == "vpc-0mock"
    _, state = _out("aws:eks/nodeGroup:NodeGroup", "ng", {"name": "ng"})
    assert state["resources"] == [
        {"autoscalingGroups": [{"name": f"eks-ng-{_h('ng')}"}], "remoteAccessSecurityGroupId": None}
    ]
    assert state["status"] == "ACTIVE"


def test_network_ids() -> None:
    rid, state = _out("aws:ec2/launchTemplate:LaunchTemplate", "lt")
    assert (rid, state["latestVersion"], state["defaultVersion"]) == (f"lt-{_h('lt')}", 1, 1)
    rid, state = _out("aws:ec2/vpc:Vpc", "v")
    assert rid == f"vpc-{_h('v')}"
    assert state["defaultSecurityGroupId"] == f"sg-{_h('vdefault')}"
    assert state["mainRouteTableId"] == f"rtb-{_h('vmain')}"
    assert _out("aws:ec2/vpc:Vpc", "v", {"mainRouteTableId": "rtb-1"})[1]["mainRouteTableId"] == "rtb-1"
    assert _out("aws:ec2/vpc:Vpc", "v", {"defaultSecurityGroupId": "sg-1"})[1]["defaultSecurityGroupId"] == "sg-1"
    rid, state = _out("aws:ec2/eip:Eip", "ip")
    assert rid == state["allocationId"] == f"eipalloc-{_h('ip')}"
    assert state["publicIp"] == "203.0.113." + str(int(_h("ip", 2), 16) % 250 + 1)
    assert _out("aws:ec2/subnet:Subnet", "s")[0] == f"subnet-{_h('s')}"
    assert _out("aws:ec2/securityGroup:SecurityGroup", "g")[0] == f"sg-{_h('g')}"
    assert _out("aws:apigatewayv2/vpcLink:VpcLink", "l")[0] == f"vpclink-{_h('l', 6)}"
    assert _out("aws:apigatewayv2/authorizer:Authorizer", "a")[0] == f"auth-{_h('a', 6)}"
    assert _out("aws:apigatewayv2/integration:Integration", "i")[0] == f"integ-{_h('i', 6)}"


def test_the_public_address_host_stays_in_the_documentation_range() -> None:
    # Names enough for their 2-hex-digit tags to take all 256 values: every host 1-250 of TEST-NET-3
    # (RFC 5737) comes up, and nothing else.
    tags: set[str] = set()
    octets: set[int] = set()
    for i in range(20_000):
        tags.add(_h(f"ip{i}", 2))
        address = _out("aws:ec2/eip:Eip", f"ip{i}")[1]["publicIp"]
        assert address.startswith("203.0.113.")
        octets.add(int(address.rsplit(".", 1)[1]))
        if len(tags) == 256:
            break
    assert len(tags) == 256
    assert octets == set(range(1, 251))


def test_keys_roles_and_iam() -> None:
    rid, state = _out("aws:kms/key:Key", "k")
    assert rid == state["keyId"] == _h("k")
    assert state["arn"] == f"arn:aws:kms:{R}:{ACCT}:key/{_h('k')}"
    rid, state = _out("aws:iam/role:Role", "r", {"name": "deploy"})
    assert rid == "deploy"
    assert state["uniqueId"] == f"AROA{_h('r').upper()}"
    assert state["arn"] == f"arn:aws:iam::{ACCT}:role/deploy"
    assert _out("aws:iam/instanceProfile:InstanceProfile", "p", {"name": "p"})[1]["arn"] == (
        f"arn:aws:iam::{ACCT}:instance-profile/p"
    )
    assert _out("aws:iam/policy:Policy", "p", {"name": "p"})[1]["arn"] == f"arn:aws:iam::{ACCT}:policy/p"
    _, state = _out(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "o", {"url": "https://oidc.example.com/id/X"}
    )
    assert state["arn"] == f"arn:aws:iam::{ACCT}:oidc-provider/oidc.example.com/id/X"
    assert (
        _out("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "o")[1]["arn"]
        == f"arn:aws:iam::{ACCT}:oidc-provider/"
    )


def test_functions_apis_secrets_and_logs() -> None:
    _, state = _out("aws:lambda/layerVersion:LayerVersion", "l", {"layerName": "deps"})
    assert (state["arn"], state["version"]) == (f"arn:aws:lambda:{R}:{ACCT}:layer:deps:1", "1")
    assert _out("aws:lambda/layerVersion:LayerVersion", "l")[1]["arn"] == (
        f"arn:aws:lambda:{R}:{ACCT}:layer:{_auto('aws:lambda/layerVersion:LayerVersion', 'l')}:1"
    )
    _, state = _out("aws:lambda/function:Function", "f", {"name": "f"})
    arn = f"arn:aws:lambda:{R}:{ACCT}:function:f"
    assert state["arn"] == arn
    assert state["invokeArn"] == f"arn:aws:apigateway:{R}:lambda:path/2015-03-31/functions/{arn}/invocations"
    assert state["version"] == "$LATEST"
    assert _out("aws:lambda/function:Function", "f", {"version": "3"})[1]["version"] == "3"
    assert _out("aws:lambda/invocation:Invocation", "i")[1]["result"] == json.dumps({"status": "ok"})
    rid, state = _out("aws:apigatewayv2/api:Api", "api")
    assert rid == _h("api", 10)
    assert state["apiEndpoint"] == f"https://{rid}.execute-api.{R}.amazonaws.com"
    assert state["executionArn"] == f"arn:aws:execute-api:{R}:{ACCT}:{rid}"
    assert (
        _out("aws:apigatewayv2/stage:Stage", "s")[1]["invokeUrl"]
        == f"https://{_h('s', 10)}.execute-api.{R}.amazonaws.com/"
    )
    # Keys in any order, values of any kind: the version id follows the value alone.
    inputs = {"secretString": "x", "secretId": "arn:s", "when": datetime.date(2030, 1, 2)}
    rid, state = _out("aws:secretsmanager/secretVersion:SecretVersion", "v", inputs)
    version = _h('{"secretId": "arn:s", "secretString": "x", "when": "2030-01-02"}')
    assert (rid, state["versionId"]) == (f"arn:s|{version}", version)
    rid, state = _out("aws:secretsmanager/secret:Secret", "s", {"name": "db"})
    assert rid == state["arn"] == f"arn:aws:secretsmanager:{R}:{ACCT}:secret:db-AbCdEf"
    assert (
        _out("aws:cloudwatch/logGroup:LogGroup", "g", {"name": "/app"})[1]["arn"]
        == f"arn:aws:logs:{R}:{ACCT}:log-group:/app"
    )


def test_images_and_random_values() -> None:
    rid, state = _out("docker-build:index:Image", "img", {"context": {"location": "."}})
    digest = "sha256:" + hashlib.sha256(json.dumps(["img"]).encode()).hexdigest()
    assert rid == state["ref"] == state["digest"] == digest
    assert state["contextHash"] == _h(json.dumps({"location": "."}))
    assert _out("docker-build:index:Image", "img")[1]["contextHash"] == _h(json.dumps({}))
    assert "name" not in _out("docker-build:index:Image", "img")[1]
    rid, state = _out("random:index/randomId:RandomId", "rid", {"byteLength": 4})
    raw = hashlib.sha256(b"rid").digest()[:4]
    assert state["hex"] == raw.hex()
    assert rid == state["b64Url"] == base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert state["dec"] == str(int.from_bytes(raw, "big"))
    # Only the padding is cut: an id whose encoding ends in a letter that could be taken for it keeps it
    # (6 bytes: 8 characters, no padding; the last one of 64).
    name = next(f"rid{i}" for i in range(10_000) if base64.urlsafe_b64encode(
        hashlib.sha256(f"rid{i}".encode()).digest()[:6]).decode().endswith("X"))
    rid, state = _out("random:index/randomId:RandomId", name, {"byteLength": 6})
    assert len(rid) == 8 and rid.endswith("X") and base64.urlsafe_b64decode(rid) == bytes.fromhex(state["hex"])
    assert _out("random:index/randomId:RandomId", "rid")[1]["hex"] == hashlib.sha256(b"rid").digest()[:8].hex()
    assert _out("random:index/randomPassword:RandomPassword", "p", {"length": 12})[1]["result"] == "Mock0Mock0Mo"
    assert _out("random:index/randomString:RandomString", "p")[1]["result"] == ("Mock0" * 7)[:32]
    assert _out("random:index/randomString:RandomString", "p", {"length": 5})[1]["result"] == "Mock0"


def test_kubernetes_objects_are_auto_named() -> None:
    _, state = _out("kubernetes:apps/v1:Deployment", "web", {"metadata": {"namespace": "ns"}})
    assert state["metadata"] == {"namespace": "ns", "name": f"web-{_h('web', 8)}"}
    assert "name" not in state
    _, state = _out("kubernetes:core/v1:Service", "svc", {"metadata": {"name": "given"}})
    assert state["metadata"] == {"name": "given"}
    assert _out("kubernetes:core/v1:Service", "svc")[1]["metadata"] == {"name": f"svc-{_h('svc', 8)}"}


def _invoke(token: str, args: dict | None = None) -> dict:
    answer = mock_invoke(token, args or {}, R)
    assert answer is not None
    return answer


def test_account_answers() -> None:
    assert _invoke("aws:index/getAvailabilityZones:getAvailabilityZones") == {
        "names": [f"{R}a", f"{R}b", f"{R}c"],
        "zoneIds": ["use1-az1", "use1-az2", "use1-az4"],
        "id": R,
        "groupNames": [R],
    }
    assert _invoke("aws:index/getCallerIdentity:getCallerIdentity") == {
        "accountId": ACCT,
        "arn": f"arn:aws:iam::{ACCT}:user/ci",
        "userId": "AIDAMOCKUSER",
        "id": ACCT,
    }
    assert _invoke("aws:index/getRegion:getRegion") == {
        "name": R,
        "region": R,
        "id": R,
        "endpoint": f"ec2.{R}.amazonaws.com",
        "description": "mock region",
    }
    assert _invoke("aws:index/getPartition:getPartition") == {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
        "reverseDnsPrefix": "com.amazonaws",
    }
    assert _invoke("aws:elb/getServiceAccount:getServiceAccount") == {
        "arn": "arn:aws:iam::127311923021:root",
        "id": "127311923021",
    }
    assert _invoke("aws:eks/getClusterAuth:getClusterAuth", {"name": "k"}) == {
        "token": "k8s-aws-v1.mock",
        "name": "k",
        "id": "k",
    }
    assert _invoke("aws:index/getDefaultTags:getDefaultTags") == {"tags": {}, "id": "default"}


AMI = "ami-0abcdef1234567890"


def test_image_and_parameter_answers() -> None:
    assert _invoke("aws:ec2/getAmi:getAmi", {"nameRegex": "al2023-*", "owners": ["amazon"]}) == {
        "id": AMI,
        "imageId": AMI,
        "architecture": "x86_64",
        "name": "al2023-*",
        "arn": f"arn:aws:ec2:{R}:{ACCT}:image/{AMI}",
        "ownerId": ACCT,
        "rootDeviceName": "/dev/xvda",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "state": "available",
        "blockDeviceMappings": [],
        "owners": ["amazon"],
    }
    assert (_invoke("aws:ec2/getAmi:getAmi")["name"], _invoke("aws:ec2/getAmi:getAmi")["owners"]) == ("mock", [])
    assert _invoke("aws:ec2/getAmiIds:getAmiIds", {"owners": ["self"]}) == {"ids": [AMI], "id": R, "owners": ["self"]}
    assert _invoke("aws:ec2/getAmiIds:getAmiIds")["owners"] == []
    assert _invoke("aws:ssm/getParameter:getParameter", {"name": "/team/x"}) == {
        "id": "/team/x",
        "name": "/team/x",
        "value": "mock-parameter-team-x",
        "insecureValue": "mock-parameter-team-x",
        "type": "String",
        "version": 1,
        "arn": f"arn:aws:ssm:{R}:{ACCT}:parameter/team/x",
    }
    assert _invoke("aws:ssm/getParameter:getParameter", {"name": "/my/ami"})["value"] == AMI
    assert _invoke("aws:ssm/getParameter:getParameter")["name"] == "mock"


def test_registry_answers() -> None:
    token = base64.b64encode(b"AWS:mock-ecr-password").decode()
    assert _invoke("aws:ecr/getAuthorizationToken:getAuthorizationToken") == {
        "userName": "AWS",
        "password": "mock-ecr-password",
        "authorizationToken": token,
        "proxyEndpoint": f"https://{ACCT}.dkr.ecr.{R}.amazonaws.com",
        "expiresAt": "2030-01-01T00:00:00Z",
        "id": R,
        "registryId": ACCT,
    }
    assert _invoke("aws:ecr/getAuthorizationToken:getAuthorizationToken", {"registryId": "9"})["proxyEndpoint"] == (
        f"https://9.dkr.ecr.{R}.amazonaws.com"
    )
    assert _invoke("aws:ecr/getCredentials:getCredentials", {"registryId": "9"}) == {
        "authorizationToken": token,
        "expiresAt": "2030-01-01T00:00:00Z",
        "id": "9",
        "registryId": "9",
        "proxyEndpoint": f"https://9.dkr.ecr.{R}.amazonaws.com",
    }
    assert _invoke("aws:ecr/getCredentials:getCredentials")["registryId"] == ACCT


def test_session_context_answers_exactly() -> None:
    token = "aws:iam/getSessionContext:getSessionContext"
    arn = "arn:aws-cn:sts::210987654321:assumed-role/path-role/session"
    answer = _invoke(token, {"arn": arn})
    assert re.fullmatch(r"AROA[0-9A-F]{17}", answer.pop("issuerId"))
    assert answer == {
        "arn": arn,
        "issuerArn": "arn:aws-cn:iam::210987654321:role/path-role",
        "issuerName": "path-role",
        "sessionName": "session",
        "id": arn,
    }
    # The role is the part before the last "/", the session the last part (RoleNameSessionFromARN).
    deep = _invoke(token, {"arn": "arn:aws:sts::1:assumed-role/a/deploy/run-7"})
    assert (deep["issuerArn"], deep["issuerName"], deep["sessionName"]) == (
        "arn:aws:iam::1:role/deploy", "deploy", "run-7"
    )
    # The ARN has six sections; the resource keeps any further ":" (aws-sdk-go arn.Parse).
    colon = _invoke(token, {"arn": "arn:aws:sts::1:assumed-role/deploy/run:7"})
    assert (colon["issuerName"], colon["sessionName"]) == ("deploy", "run:7")
    other = _invoke(token, {"arn": arn.replace("path-role", "other")})
    assert other["issuerId"] != _invoke(token, {"arn": arn})["issuerId"]
    not_a_session = {"issuerId": "", "issuerName": "", "sessionName": ""}
    user = f"arn:aws:iam::{ACCT}:user/team/ci"
    for own_issuer in (
        user,
        "arn:aws:sts::1:assumed-role/deploy",  # no session
        "arn:aws:sts::1:assumed-role/deploy/x",  # a session name of one character does not match
        "arn:aws:iam::1:assumed-role/deploy/run",  # not sts
        "assumed-role/deploy/run",  # not an ARN
    ):
        assert _invoke(token, {"arn": own_issuer}) == {"arn": own_issuer, "issuerArn": own_issuer, "id": own_issuer,
                                                        **not_a_session}, own_issuer
    assert _invoke(token) == {"arn": "", "issuerArn": "", "id": "", **not_a_session}


def test_network_lookups() -> None:
    assert _invoke("aws:ec2/getVpc:getVpc") == {
        "id": "vpc-0mock",
        "cidrBlock": "10.0.0.0/16",
        "arn": f"arn:aws:ec2:{R}:{ACCT}:vpc/vpc-0mock",
        "default": False,
        "mainRouteTableId": "rtb-0mock",
        "ownerId": ACCT,
        "state": "available",
        "tags": {},
    }
    assert _invoke("aws:ec2/getVpc:getVpc", {"id": "vpc-9"})["arn"] == f"arn:aws:ec2:{R}:{ACCT}:vpc/vpc-9"
    assert _invoke("aws:ec2/getVpcs:getVpcs") == {"ids": ["vpc-0mocka", "vpc-0mockb"], "id": R}
    assert _invoke("aws:ec2/getSubnets:getSubnets") == {"ids": ["subnet-0mocka", "subnet-0mockb"], "id": R}
    assert _invoke("aws:ec2/getSubnet:getSubnet") == {
        "id": "subnet-0mocka",
        "arn": f"arn:aws:ec2:{R}:{ACCT}:subnet/subnet-0mocka",
        "vpcId": "vpc-0mock",
        "cidrBlock": "10.0.0.0/24",
        "availabilityZone": f"{R}a",
        "availabilityZoneId": "use1-az1",
        "mapPublicIpOnLaunch": False,
        "ownerId": ACCT,
        "state": "available",
        "tags": {},
    }
    assert _invoke("aws:ec2/getSubnet:getSubnet", {"id": "subnet-9"})["id"] == "subnet-9"
    assert _invoke("aws:ec2/getSecurityGroup:getSecurityGroup") == {
        "id": "sg-0mock",
        "arn": f"arn:aws:ec2:{R}:{ACCT}:security-group/sg-0mock",
        "vpcId": "vpc-0mock",
        "name": "default",
        "description": "mock security group",
        "tags": {},
    }
    assert _invoke("aws:ec2/getSecurityGroup:getSecurityGroup", {"id": "sg-9", "name": "web"})["name"] == "web"
    assert _invoke("aws:ec2/getSecurityGroup:getSecurityGroup", {"id": "sg-9"})["arn"].endswith("security-group/sg-9")
    assert _invoke("aws:ec2/getSecurityGroups:getSecurityGroups") == {
        "ids": ["sg-0mock"],
        "arns": [f"arn:aws:ec2:{R}:{ACCT}:security-group/sg-0mock"],
        "vpcIds": ["vpc-0mock"],
        "id": R,
    }
    assert _invoke("aws:acm/getCertificate:getCertificate", {"domain": "example.org"}) == {
        "arn": f"arn:aws:acm:{R}:{ACCT}:certificate/mock",
        "id": "mock",
        "domain": "example.org",
        "status": "ISSUED",
        "keyTypes": ["RSA_2048"],
        "types": ["AMAZON_ISSUED"],
    }
    assert _invoke("aws:route53/getZone:getZone") == {
        "zoneId": "Z0MOCKZONE",
        "id": "Z0MOCKZONE",
        "name": "example.com.",
        "arn": "arn:aws:route53:::hostedzone/Z0MOCKZONE",
        "privateZone": False,
        "resourceRecordSetCount": 2,
        "nameServers": ["ns-1.awsdns-mock.net", "ns-2.awsdns-mock.net"],
        "primaryNameServer": "ns-1.awsdns-mock.net",
        "callerReference": "mock",
        "comment": "",
        "tags": {},
    }
    zone = _invoke("aws:route53/getZone:getZone", {"name": "corp.example.", "zoneId": "Z9", "privateZone": True})
    assert (zone["name"], zone["zoneId"], zone["privateZone"]) == ("corp.example.", "Z9", True)


def test_a_policy_document_is_written_as_iam_reads_it() -> None:
    args = {
        "version": "2008-10-17",
        "statements": [
            {
                "sid": "Read",
                "actions": ["s3:GetObject"],
                "resources": ["arn:aws:s3:::b/*"],
                "principals": [
                    {"type": "Service", "identifiers": ["logs.amazonaws.com"]},
                    {"type": "AWS", "identifiers": ["*"]},
                ],
                "conditions": [
                    {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [ACCT]},
                    {"test": "StringEquals", "variable": "aws:SourceArn", "values": ["arn:x"]},
                    {"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]},
                ],
            },
            {"effect": "Deny", "notActions": ["iam:*"], "notResources": ["arn:y"], "sid": ""},
        ],
    }
    answer = _invoke("aws:iam/getPolicyDocument:getPolicyDocument", args)
    doc = {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Sid": "Read",
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::b/*"],
                "Principal": {"Service": ["logs.amazonaws.com"], "AWS": ["*"]},
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": [ACCT], "aws:SourceArn": ["arn:x"]},
                    "Bool": {"aws:SecureTransport": ["true"]},
                },
            },
            {"Effect": "Deny", "NotAction": ["iam:*"], "NotResource": ["arn:y"]},
        ],
    }
    assert answer == {"json": json.dumps(doc), "minifiedJson": json.dumps(doc, separators=(",", ":")), "id": "mock"}
    assert json.loads(_invoke("aws:iam/getPolicyDocument:getPolicyDocument")["json"]) == {
        "Version": "2012-10-17",
        "Statement": [],
    }


def test_kubernetes_manifests_are_decoded_as_the_provider_decodes_them() -> None:
    text = "kind: A\napiVersion: v1\n---\nkind: B\n---\napiVersion: v1\n---\n- x\n---\n{kind: C, apiVersion: v2}\n"
    assert _invoke("kubernetes:yaml:decode", {"text": text}) == {
        "result": [{"kind": "A", "apiVersion": "v1"}, {"kind": "C", "apiVersion": "v2"}]
    }
    assert _invoke("kubernetes:yaml:decode") == {"result": []}
    with pytest.raises(ValueError) as err:
        _decode_manifests("a: [")
    assert str(err.value).startswith("kubernetes:yaml:decode: the manifest is not valid YAML: ")
    assert mock_invoke("kubernetes:yaml:other", {}, R) is None


def test_ssm_parameters_that_name_an_image_answer_an_ami_and_others_their_own_name() -> None:
    token = "aws:ssm/getParameter:getParameter"
    bottlerocket = "/aws/service/bottlerocket/aws-k8s-1.29/x86_64/latest/image_id"
    assert _invoke(token, {"name": bottlerocket})["value"] == "ami-0abcdef1234567890"
    own = _invoke(token, {"name": "/Xapp/LAX/"})
    assert (own["value"], own["insecureValue"]) == ("mock-parameter-Xapp-LAX", "mock-parameter-Xapp-LAX")
    assert own["arn"].endswith(":parameter/Xapp/LAX/")


def test_a_zone_name_ends_in_one_dot() -> None:
    token = "aws:route53/getZone:getZone"
    assert _invoke(token, {"name": "LAX"})["name"] == "LAX."
    assert _invoke(token, {"name": "LAX."})["name"] == "LAX."

"""Plausible provider answers: the state a provider would return for a registered resource and the
answers to the common invokes (availability zones, AMIs, caller identity, region, partition, policy
documents, Kubernetes manifests). One small function per resource kind, looked up by type token,
then by module, then by package."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import yaml

from .project import _YAML_LOADER

MOCK_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{MOCK_ACCOUNT_ID}:{resource}"


def _short_hash(text: str, length: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass
class _Registration:
    """One resource being answered: what the program registered and the state being built."""

    name: str
    inputs: Mapping[str, Any]
    region: str
    physical: str  # the provider's name for it: the given name, or the auto-name
    state: dict[str, Any]

    def arn(self, service: str, resource: str) -> str:
        return _arn(service, self.region, resource)

    def tag(self, length: int = 12) -> str:
        return _short_hash(self.name, length)


# Each answer fills in the computed attributes programs commonly read and returns the resource's id
# when the provider's id is not the default `<name>-id`.
_Answer = Callable[[_Registration], "str | None"]


def _s3_bucket(r: _Registration) -> str:
    r.state.setdefault("bucket", r.physical)
    r.state["arn"] = f"arn:aws:s3:::{r.physical}"
    r.state["bucketDomainName"] = f"{r.physical}.s3.amazonaws.com"
    r.state["bucketRegionalDomainName"] = f"{r.physical}.s3.{r.region}.amazonaws.com"
    return r.physical


def _sqs_queue(r: _Registration) -> str:
    r.state["url"] = f"https://sqs.{r.region}.amazonaws.com/{MOCK_ACCOUNT_ID}/{r.physical}"
    r.state["arn"] = r.arn("sqs", r.physical)
    return str(r.state["url"])


def _load_balancer(r: _Registration) -> None:
    r.state["dnsName"] = f"{r.physical}-{r.tag(8)}.{r.region}.elb.amazonaws.com"
    r.state["zoneId"] = "Z35SXDOTRQ7X7K"
    r.state["arnSuffix"] = f"app/{r.physical}/{r.tag()}"


def _target_group(r: _Registration) -> None:
    r.state["arnSuffix"] = f"targetgroup/{r.physical}/{r.tag()}"
    r.state["arn"] = r.arn("elasticloadbalancing", r.state["arnSuffix"])


def _rds(r: _Registration) -> None:
    host = f"{r.physical}.{r.tag()}.{r.region}.rds.amazonaws.com"
    r.state["address"] = host
    r.state["endpoint"] = f"{host}:5432"
    r.state.setdefault("port", 5432)
    r.state["masterUserSecrets"] = [
        {"secretArn": r.arn("secretsmanager", f"secret:rds!{r.physical}"), "secretStatus": "active"}
    ]


def _replication_group(r: _Registration) -> None:
    r.state["primaryEndpointAddress"] = f"master.{r.physical}.{r.tag(6)}.cache.amazonaws.com"
    r.state["readerEndpointAddress"] = f"replica.{r.physical}.{r.tag(6)}.cache.amazonaws.com"
    r.state.setdefault("port", 6379)


def _ecr_repository(r: _Registration) -> None:
    r.state["repositoryUrl"] = f"{MOCK_ACCOUNT_ID}.dkr.ecr.{r.region}.amazonaws.com/{r.physical}"
    r.state["registryId"] = MOCK_ACCOUNT_ID


def _eks_cluster(r: _Registration) -> None:
    r.state["endpoint"] = f"https://{r.tag().upper()}.gr7.{r.region}.eks.amazonaws.com"
    r.state["certificateAuthority"] = {"data": base64.b64encode(b"mock-ca").decode()}
    r.state["identities"] = [{"oidcs": [{"issuer": f"https://oidc.eks.{r.region}.amazonaws.com/id/{r.tag().upper()}"}]}]
    r.state.setdefault("version", "1.31")
    vpc_config = dict(r.inputs.get("vpcConfig") or {})
    vpc_config["clusterSecurityGroupId"] = f"sg-{_short_hash(r.name + 'cluster')}"
    vpc_config.setdefault("vpcId", "vpc-0mock")
    r.state["vpcConfig"] = vpc_config


def _eks_node_group(r: _Registration) -> None:
    r.state["resources"] = [
        {"autoscalingGroups": [{"name": f"eks-{r.physical}-{r.tag()}"}], "remoteAccessSecurityGroupId": None}
    ]
    r.state["status"] = "ACTIVE"


def _launch_template(r: _Registration) -> str:
    r.state["latestVersion"] = 1
    r.state["defaultVersion"] = 1
    return f"lt-{r.tag()}"


def _vpc(r: _Registration) -> str:
    r.state.setdefault("defaultSecurityGroupId", f"sg-{_short_hash(r.name + 'default')}")
    r.state.setdefault("mainRouteTableId", f"rtb-{_short_hash(r.name + 'main')}")
    return f"vpc-{r.tag()}"


def _eip(r: _Registration) -> str:
    rid = f"eipalloc-{r.tag()}"
    r.state["allocationId"] = rid
    r.state["publicIp"] = "203.0.113." + str(int(r.tag(2), 16) % 250 + 1)
    return rid


def _prefixed_id(r: _Registration, prefix: str, length: int = 12) -> str:
    return f"{prefix}{r.tag(length)}"


def _kms_key(r: _Registration) -> str:
    rid = r.tag()
    r.state["keyId"] = rid
    r.state["arn"] = r.arn("kms", f"key/{rid}")
    return rid


def _iam_role(r: _Registration) -> str:
    r.state["uniqueId"] = f"AROA{r.tag().upper()}"
    r.state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{r.physical}"
    return r.physical


def _iam_arn(r: _Registration, kind: str) -> None:
    r.state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:{kind}/{r.physical}"


def _oidc_provider(r: _Registration) -> None:
    url = str(r.inputs.get("url", "")).removeprefix("https://")
    r.state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:oidc-provider/{url}"


def _layer_version(r: _Registration) -> None:
    r.state["arn"] = r.arn("lambda", f"layer:{r.inputs.get('layerName', r.physical)}:1")
    r.state["version"] = "1"


def _lambda_function(r: _Registration) -> None:
    arn = r.arn("lambda", f"function:{r.physical}")
    r.state["arn"] = arn
    r.state["invokeArn"] = f"arn:aws:apigateway:{r.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    r.state.setdefault("version", "$LATEST")


def _http_api(r: _Registration) -> str:
    rid = r.tag(10)
    r.state["apiEndpoint"] = f"https://{rid}.execute-api.{r.region}.amazonaws.com"
    r.state["executionArn"] = r.arn("execute-api", rid)
    return rid


def _api_stage(r: _Registration) -> None:
    r.state["invokeUrl"] = f"https://{r.tag(10)}.execute-api.{r.region}.amazonaws.com/"


def _secret_version(r: _Registration) -> str:
    r.state["versionId"] = _short_hash(json.dumps(r.inputs, sort_keys=True, default=str))
    return f"{r.inputs.get('secretId')}|{r.state['versionId']}"


def _secret(r: _Registration) -> str:
    r.state["arn"] = r.arn("secretsmanager", f"secret:{r.physical}-AbCdEf")
    return str(r.state["arn"])


def _log_group(r: _Registration) -> None:
    r.state["arn"] = r.arn("logs", f"log-group:{r.physical}")


def _docker_image(r: _Registration) -> str:
    # The provider reports the pushed manifest's digest and a tag@digest reference.
    digest = "sha256:" + hashlib.sha256(json.dumps(r.inputs.get("tags") or [r.name]).encode()).hexdigest()
    r.state["digest"] = digest
    tags = r.inputs.get("tags") or []
    r.state["ref"] = f"{tags[0]}@{digest}" if tags else digest
    r.state["contextHash"] = _short_hash(json.dumps(r.inputs.get("context") or {}))
    return str(r.state["ref"])


def _random_id(r: _Registration) -> str:
    raw = hashlib.sha256(r.name.encode()).digest()[: int(r.inputs.get("byteLength") or 8)]
    r.state["hex"] = raw.hex()
    r.state["b64Url"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    r.state["dec"] = str(int.from_bytes(raw, "big"))
    return str(r.state["b64Url"])


def _lambda_invocation(r: _Registration) -> None:
    r.state["result"] = json.dumps({"status": "ok"})


def _random(r: _Registration) -> None:
    length = int(r.inputs.get("length") or 32)
    r.state["result"] = ("Mock0" * (length // 5 + 1))[:length]


def _kubernetes(r: _Registration) -> None:
    # Pulumi auto-names Kubernetes objects that have no explicit name.
    meta = dict(r.inputs.get("metadata") or {})
    meta.setdefault("name", f"{r.name}-{r.tag(8)}")
    r.state["metadata"] = meta


_BY_TYPE: Mapping[str, _Answer] = {
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:elb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:alb/targetGroup:TargetGroup": _target_group,
    "docker-build:index:Image": _docker_image,
    "random:index/randomId:RandomId": _random_id,
}
_BY_MODULE: Mapping[str, _Answer] = {
    "sqs/queue": _sqs_queue,
    "rds/instance": _rds,
    "rds/cluster": _rds,
    "elasticache/replicationGroup": _replication_group,
    "ecr/repository": _ecr_repository,
    "eks/cluster": _eks_cluster,
    "eks/nodeGroup": _eks_node_group,
    "ec2/launchTemplate": _launch_template,
    "ec2/vpc": _vpc,
    "ec2/eip": _eip,
    "ec2/subnet": partial(_prefixed_id, prefix="subnet-"),
    "ec2/securityGroup": partial(_prefixed_id, prefix="sg-"),
    "kms/key": _kms_key,
    "iam/role": _iam_role,
    "iam/instanceProfile": partial(_iam_arn, kind="instance-profile"),
    "iam/policy": partial(_iam_arn, kind="policy"),
    "iam/openIdConnectProvider": _oidc_provider,
    "lambda/layerVersion": _layer_version,
    "lambda/function": _lambda_function,
    "lambda/invocation": _lambda_invocation,
    "apigatewayv2/api": _http_api,
    "apigatewayv2/vpcLink": partial(_prefixed_id, prefix="vpclink-", length=6),
    "apigatewayv2/authorizer": partial(_prefixed_id, prefix="auth-", length=6),
    "apigatewayv2/integration": partial(_prefixed_id, prefix="integ-", length=6),
    "apigatewayv2/stage": _api_stage,
    "secretsmanager/secretVersion": _secret_version,
    "secretsmanager/secret": _secret,
    "cloudwatch/logGroup": _log_group,
}
_BY_PACKAGE: Mapping[str, _Answer] = {"random": _random, "kubernetes": _kubernetes}


def mock_outputs(type_: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
    """An id and the state a provider would plausibly return: inputs plus the computed attributes
    programs commonly read (ARNs, endpoints, URLs, generated names)."""
    state = dict(inputs)
    package, module, kind = [*type_.split(":"), "", ""][:3]
    service = module.split("/")[0] if module else package
    physical = inputs.get("name") or inputs.get("bucket") or f"{name}-{_short_hash(type_ + name, 7)}"
    if not inputs.get("name") and isinstance(inputs.get("namePrefix"), str):
        # The provider appends a unique suffix to name_prefix (terraform-provider-aws create.Name).
        physical = inputs["namePrefix"] + _short_hash(type_ + name)
    if not isinstance(physical, str):
        physical = name
    state.setdefault("arn", _arn(service, region, f"{kind.lower()}/{physical}"))
    if "name" not in inputs and package == "aws":
        state["name"] = physical
    answer = _BY_TYPE.get(type_) or _BY_MODULE.get(module) or _BY_PACKAGE.get(package)
    rid = answer(_Registration(name, inputs, region, physical, state)) if answer is not None else None
    if rid is None:
        rid = f"{name}-id"
    # The id the engine hands to dependents is the one returned here; the state agrees with it.
    state["id"] = rid
    return rid, state


def _policy_document(args: Mapping[str, Any]) -> dict[str, Any]:
    statements = []
    for st in args.get("statements") or []:
        out: dict[str, Any] = {"Effect": st.get("effect", "Allow")}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        for src, dst in (("actions", "Action"), ("notActions", "NotAction"),
                         ("resources", "Resource"), ("notResources", "NotResource")):
            if st.get(src):
                out[dst] = st[src]
        for p in st.get("principals") or []:
            out.setdefault("Principal", {})[p["type"]] = p["identifiers"]
        for c in st.get("conditions") or []:
            out.setdefault("Condition", {}).setdefault(c["test"], {})[c["variable"]] = c["values"]
        statements.append(out)
    doc = {"Version": args.get("version") or "2012-10-17", "Statement": statements}
    return {"json": json.dumps(doc), "minifiedJson": json.dumps(doc, separators=(",", ":")), "id": "mock"}


_Invoke = Callable[[Mapping[str, Any], str], dict[str, Any]]
_FAKE_AMI = "ami-0abcdef1234567890"


def _zones(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    zones = [f"{region}{s}" for s in "abc"]
    return {"names": zones, "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)], "id": region, "groupNames": [region]}


def _ami(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"id": _FAKE_AMI, "imageId": _FAKE_AMI, "architecture": "x86_64", "name": args.get("nameRegex") or "mock",
            "arn": _arn("ec2", region, f"image/{_FAKE_AMI}"), "ownerId": MOCK_ACCOUNT_ID,
            "rootDeviceName": "/dev/xvda", "rootDeviceType": "ebs", "virtualizationType": "hvm",
            "state": "available", "blockDeviceMappings": [], "owners": list(args.get("owners") or [])}


def _ami_ids(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"ids": [_FAKE_AMI], "id": region, "owners": list(args.get("owners") or [])}


def _ssm_parameter(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    # Public SSM parameters are mostly AMI aliases (/aws/service/.../image_id); anything else gets a
    # value that says it is a stand-in.
    name = str(args.get("name") or "mock")
    value = _FAKE_AMI if "ami" in name or "image" in name else f"mock-parameter-{name.strip('/').replace('/', '-')}"
    return {"id": name, "name": name, "value": value, "insecureValue": value, "type": "String", "version": 1,
            "arn": _arn("ssm", region, f"parameter/{name.lstrip('/')}")}


def _caller_identity(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"accountId": MOCK_ACCOUNT_ID, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/ci",
            "userId": "AIDAMOCKUSER", "id": MOCK_ACCOUNT_ID}


def _region(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
            "description": "mock region"}


def _partition(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}


def _ecr_token(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    registry = str(args.get("registryId") or MOCK_ACCOUNT_ID)
    return {"userName": "AWS", "password": "mock-ecr-password",
            "authorizationToken": base64.b64encode(b"AWS:mock-ecr-password").decode(),
            "proxyEndpoint": f"https://{registry}.dkr.ecr.{region}.amazonaws.com",
            "expiresAt": "2030-01-01T00:00:00Z", "id": region, "registryId": registry}


def _ecr_credentials(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    # A docker login for the registry: the token is base64 of "AWS:<password>" as ECR issues it.
    registry = str(args.get("registryId") or MOCK_ACCOUNT_ID)
    return {"authorizationToken": base64.b64encode(b"AWS:mock-ecr-password").decode(),
            "expiresAt": "2030-01-01T00:00:00Z", "id": registry, "registryId": registry,
            "proxyEndpoint": f"https://{registry}.dkr.ecr.{region}.amazonaws.com"}


def _session_context(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    # As aws_iam_session_context reads it (terraform-provider-aws internal/service/iam/
    # session_context_data_source.go, RoleNameSessionFromARN): an sts ARN whose resource matches
    # ^assumed-role/.{1,}/.{2,} names a role (the part before the last "/") and a session (the last
    # part), and the issuer is that role, found by name; any other ARN is its own issuer, with empty
    # issuer id, issuer name and session name. The role's path cannot be known offline: none is given.
    arn = str(args.get("arn") or "")
    fields = arn.split(":", 5)  # arn.Parse: six sections, the resource keeps any further ":"
    if len(fields) == 6 and fields[2] == "sts" and re.match(r"assumed-role/.+/.{2,}", fields[5]):
        *_, role, session = fields[5].split("/")
        issuer = f"arn:{fields[1]}:iam::{fields[4]}:role/{role}"
        role_id = "AROA" + hashlib.sha256(role.encode()).hexdigest()[:17].upper()
        return {"arn": arn, "issuerArn": issuer, "issuerId": role_id, "issuerName": role, "sessionName": session,
                "id": arn}
    return {"arn": arn, "issuerArn": arn, "issuerId": "", "issuerName": "", "sessionName": "", "id": arn}


def _vpc_lookup(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    vpc = str(args.get("id") or "vpc-0mock")
    return {"id": vpc, "cidrBlock": "10.0.0.0/16", "arn": _arn("ec2", region, f"vpc/{vpc}"), "default": False,
            "mainRouteTableId": "rtb-0mock", "ownerId": MOCK_ACCOUNT_ID, "state": "available", "tags": {}}


def _ids(args: Mapping[str, Any], region: str, prefix: str) -> dict[str, Any]:
    return {"ids": [f"{prefix}-0mocka", f"{prefix}-0mockb"], "id": region}


def _subnet(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    subnet = str(args.get("id") or "subnet-0mocka")
    return {"id": subnet, "arn": _arn("ec2", region, f"subnet/{subnet}"), "vpcId": "vpc-0mock",
            "cidrBlock": "10.0.0.0/24", "availabilityZone": f"{region}a", "availabilityZoneId": "use1-az1",
            "mapPublicIpOnLaunch": False, "ownerId": MOCK_ACCOUNT_ID, "state": "available", "tags": {}}


def _security_group(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    group = str(args.get("id") or "sg-0mock")
    return {"id": group, "arn": _arn("ec2", region, f"security-group/{group}"), "vpcId": "vpc-0mock",
            "name": str(args.get("name") or "default"), "description": "mock security group", "tags": {}}


def _security_groups(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"ids": ["sg-0mock"], "arns": [_arn("ec2", region, "security-group/sg-0mock")], "vpcIds": ["vpc-0mock"],
            "id": region}


def _certificate(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"arn": _arn("acm", region, "certificate/mock"), "id": "mock", "domain": args.get("domain"),
            "status": "ISSUED", "keyTypes": ["RSA_2048"], "types": ["AMAZON_ISSUED"]}


def _zone(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    name = str(args.get("name") or "example.com").rstrip(".") + "."
    zone = str(args.get("zoneId") or "Z0MOCKZONE")
    return {"zoneId": zone, "id": zone, "name": name, "arn": f"arn:aws:route53:::hostedzone/{zone}",
            "privateZone": bool(args.get("privateZone")), "resourceRecordSetCount": 2,
            "nameServers": [f"ns-{i}.awsdns-mock.net" for i in (1, 2)], "primaryNameServer": "ns-1.awsdns-mock.net",
            "callerReference": "mock", "comment": "", "tags": {}}


# Data sources a preview answers from the account: clearly fake, shaped as the pulumi_aws result types
# (tests/unit/policies/gate/mockengine/test_answers.py checks every key and value type against them).
_AWS_INVOKES: Mapping[str, _Invoke] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _zones,
    "aws:ec2/getAmi:getAmi": _ami,
    "aws:ec2/getAmiIds:getAmiIds": _ami_ids,
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getPartition:getPartition": _partition,
    "aws:iam/getPolicyDocument:getPolicyDocument": lambda args, region: _policy_document(args),
    "aws:elb/getServiceAccount:getServiceAccount": lambda args, region: {
        "arn": "arn:aws:iam::127311923021:root", "id": "127311923021"},
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _ecr_token,
    "aws:ecr/getCredentials:getCredentials": _ecr_credentials,
    "aws:iam/getSessionContext:getSessionContext": _session_context,
    "aws:eks/getClusterAuth:getClusterAuth": lambda args, region: {
        "token": "k8s-aws-v1.mock", "name": args.get("name"), "id": args.get("name")},
    "aws:index/getDefaultTags:getDefaultTags": lambda args, region: {"tags": {}, "id": "default"},
    "aws:ec2/getVpc:getVpc": _vpc_lookup,
    "aws:ec2/getVpcs:getVpcs": partial(_ids, prefix="vpc"),
    "aws:ec2/getSubnets:getSubnets": partial(_ids, prefix="subnet"),
    "aws:ec2/getSubnet:getSubnet": _subnet,
    "aws:ec2/getSecurityGroup:getSecurityGroup": _security_group,
    "aws:ec2/getSecurityGroups:getSecurityGroups": _security_groups,
    "aws:acm/getCertificate:getCertificate": _certificate,
    "aws:route53/getZone:getZone": _zone,
}


def mock_invoke(token: str, args: Mapping[str, Any], region: str) -> dict[str, Any] | None:
    """The answer to an invoke, or None when the gate has none (the run reports it as unanswered)."""
    answer = _AWS_INVOKES.get(token)
    if answer is not None:
        return answer(args, region)
    if token == "kubernetes:yaml:decode":
        return {"result": _decode_manifests(str(args.get("text") or ""))}
    return None


def _decode_manifests(text: str) -> list[Any]:
    """What the Kubernetes provider answers `kubernetes:yaml:decode` with, so that the children of a
    v1 `yaml.ConfigFile`/`ConfigGroup` are registered and judged: every YAML (or JSON) document of
    the text, skipping those without `kind` or `apiVersion`; a document that does not parse fails the
    invoke (pulumi-kubernetes provider/pkg/provider/invoke_decode_yaml.go, `decodeYaml`)."""
    try:
        documents = list(yaml.load_all(text, Loader=_YAML_LOADER))
    except yaml.YAMLError as exc:
        raise ValueError(f"kubernetes:yaml:decode: the manifest is not valid YAML: {exc}") from None
    return [d for d in documents if isinstance(d, dict) and d.get("kind") and d.get("apiVersion")]

"""Runs a Pulumi Python program under the SDK's mock engine and captures every resource it registers.

No Pulumi CLI, no provider plugin and no cloud credentials are involved: the program's resource
registrations go to an in-process monitor that records them (type, name, URN, parent, dependencies,
inputs with camelCase engine keys, the declaring file and line, whether the registration was remote:
a multi-language component that only the engine's provider could fill) and answers with plausible
provider outputs, and the common AWS
invokes (availability zones, AMIs, caller identity, region, partition, policy documents) get
plausible answers. The project file (`Pulumi.yaml`: `main`, `stackConfigDir`, declared config and
its defaults) and the stack's config file are read the way the CLI reads them; `secure:` values
become placeholder secrets.

The offline gate and the infrastructure tests both run programs through `run_program`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import json
import logging
import os
import runpy
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor, Mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from policies.gate import assets

PLACEHOLDER_SECRET_PREFIX = "mock-secret-"
MOCK_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class ProjectError(Exception):
    """The project, its stack selection or its configuration cannot be used (missing, malformed)."""


class ProgramError(Exception):
    """The program itself failed while it ran; the original exception is the __cause__."""


@dataclass(frozen=True)
class ConfigDeclaration:
    key: str
    type: str | None
    description: str | None
    default: Any
    has_default: bool
    secret: bool


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path
    main_dir: Path
    stack_config_dir: Path
    declarations: Mapping[str, ConfigDeclaration]
    project_values: Mapping[str, Any]
    entry: Path  # what the language host runs: the main directory (its __main__.py) or a .py file

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class StackConfig:
    values: Mapping[str, Any]
    secret_keys: frozenset[str]
    path: Path | None


@dataclass(frozen=True)
class CapturedResource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str | None
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    custom: bool
    provider: str | None
    protect: bool = False
    secret_paths: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Registered with remote=True: a multi-language component that only the engine's call to its
    # provider's Construct fills with children; under mocks it stays empty.
    remote: bool = False
    # The registration's sourcePosition (the user code that declared it): absolute path and line.
    source: tuple[str, int] | None = None


@dataclass(frozen=True)
class ProgramRun:
    project: str
    stack: str
    resources: list[CapturedResource]
    outputs: dict[str, Any]
    config: StackConfig

    def of_type(self, *types: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type in types]

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def one(self, type_: str, name: str | None = None) -> CapturedResource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)}")
        return found[0]


# ----------------------------------------------------------------------------- project and config


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_project(program_dir: Path | str) -> Project:
    directory = Path(program_dir).resolve()
    path = next((directory / n for n in ("Pulumi.yaml", "Pulumi.yml") if (directory / n).is_file()), None)
    if path is None:
        raise ProjectError(f"{directory}: no Pulumi.yaml (is this a Pulumi project directory?)")
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ProjectError(f"{path}: the project file needs a 'name'")
    name = doc["name"]
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(f"{path}: runtime is {runtime_name!r}; only Python programs can be run offline")
    main = directory / str(doc.get("main") or ".")
    if main.is_file():
        entry, main_dir = main, main.parent
    elif (main / "__main__.py").is_file():
        entry, main_dir = main, main
    else:
        given = str(doc.get("main") or ".")
        raise ProjectError(f"{path}: main {given!r} is neither a .py file nor a directory with __main__.py")
    stack_dir = directory / str(doc.get("stackConfigDir") or ".")

    declarations: dict[str, ConfigDeclaration] = {}
    values: dict[str, Any] = {}
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ProjectError(f"{path}: 'config' must be a mapping of keys")
    for raw_key, spec in config.items():
        key = _qualify(str(raw_key), name)
        is_declaration = isinstance(spec, dict) and (
            {"type", "description", "default", "secret", "items"} & set(spec)
        )
        if is_declaration:
            declarations[key] = ConfigDeclaration(
                key=key,
                type=spec.get("type"),
                description=spec.get("description"),
                default=spec.get("default"),
                has_default="default" in spec,
                secret=bool(spec.get("secret", False)),
            )
        elif isinstance(spec, dict) and "value" in spec:
            values[key] = spec["value"]
        else:
            values[key] = spec
    return Project(name, directory, main_dir, stack_dir, declarations, values, entry)


# libyaml's loader when PyYAML has it: the same safe subset, without the pure-Python scanner's cost
# on every stack of a multi-stack run.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read: {exc.strerror}") from None


_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def load_stack_config(project: Project, stack: str, config_file: Path | str | None = None) -> StackConfig:
    """The stack's configuration as the CLI would hand it to the program.

    A stack with no config file runs on the project's declared defaults, as a new stack would.
    """
    path = Path(config_file) if config_file is not None else project.stack_file(stack)
    if config_file is not None and not path.is_file():
        raise ProjectError(f"{path}: config file not found")
    raw: dict[str, Any] = {}
    if path.is_file():
        doc = _read_yaml(path) or {}
        if not isinstance(doc, dict):
            raise ProjectError(f"{path}: a stack file is a mapping with a 'config' key")
        raw = doc.get("config") or {}
        if not isinstance(raw, dict):
            raise ProjectError(f"{path}: 'config' must be a mapping of keys")

    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key, decl in project.declarations.items():
        if decl.has_default:
            values[key] = decl.default
    values.update(project.project_values)
    for raw_key, value in raw.items():
        key = _qualify(str(raw_key), project.name)
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = PLACEHOLDER_SECRET_PREFIX + key.split(":", 1)[1]
            secret_keys.add(key)
        else:
            values[key] = value
    for key, decl in project.declarations.items():
        if decl.secret:
            secret_keys.add(key)
        check = _TYPE_CHECKS.get(decl.type or "")
        if key in values and check is not None and key not in secret_keys and not check(values[key]):
            where = path if path.is_file() else "Pulumi.yaml"
            raise ProjectError(f"{where}: {key} is declared as {decl.type} but is {values[key]!r}")
    return StackConfig(values, frozenset(secret_keys), path if path.is_file() else None)


def _engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    # The engine hands every value to the program as a string; structured values as JSON.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


# ----------------------------------------------------------------------------- plausible provider answers


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{MOCK_ACCOUNT_ID}:{resource}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mock_outputs(type_: str, name: str, inputs: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
    """An id and the state a provider would plausibly return: inputs plus the computed attributes
    programs commonly read (ARNs, endpoints, URLs, generated names)."""
    state = dict(inputs)
    package, module, kind = [*type_.split(":"), "", ""][:3]
    service = module.split("/")[0] if module else package
    physical = inputs.get("name") or inputs.get("bucket") or f"{name}-{_short_hash(type_ + name)[:7]}"
    if not inputs.get("name") and isinstance(inputs.get("namePrefix"), str):
        # The provider appends a unique suffix to name_prefix (terraform-provider-aws create.Name).
        physical = inputs["namePrefix"] + _short_hash(type_ + name)[:12]
    if not isinstance(physical, str):
        physical = name
    rid = f"{name}-id"
    state.setdefault("arn", _arn(service, region, f"{kind.lower()}/{physical}"))
    if "name" not in inputs and package == "aws":
        state["name"] = physical
    if module.startswith("s3/bucket") and kind in ("Bucket", "BucketV2"):
        state.setdefault("bucket", physical)
        state["arn"] = f"arn:aws:s3:::{physical}"
        state["bucketDomainName"] = f"{physical}.s3.amazonaws.com"
        state["bucketRegionalDomainName"] = f"{physical}.s3.{region}.amazonaws.com"
        rid = physical
    elif module == "sqs/queue":
        state["url"] = f"https://sqs.{region}.amazonaws.com/{MOCK_ACCOUNT_ID}/{physical}"
        state["arn"] = _arn("sqs", region, physical)
        rid = state["url"]
    elif service in ("lb", "alb", "elb") and kind in ("LoadBalancer",):
        state["dnsName"] = f"{physical}-{_short_hash(name)[:8]}.{region}.elb.amazonaws.com"
        state["zoneId"] = "Z35SXDOTRQ7X7K"
        state["arnSuffix"] = f"app/{physical}/{_short_hash(name)}"
    elif service in ("lb", "alb") and kind == "TargetGroup":
        state["arnSuffix"] = f"targetgroup/{physical}/{_short_hash(name)}"
        state["arn"] = _arn("elasticloadbalancing", region, state["arnSuffix"])
    elif module == "rds/instance" or module == "rds/cluster":
        host = f"{physical}.{_short_hash(name)}.{region}.rds.amazonaws.com"
        state["address"] = host
        state["endpoint"] = f"{host}:5432"
        state.setdefault("port", 5432)
        state["masterUserSecrets"] = [
            {"secretArn": _arn("secretsmanager", region, f"secret:rds!{physical}"), "secretStatus": "active"}
        ]
    elif module == "elasticache/replicationGroup":
        state["primaryEndpointAddress"] = f"master.{physical}.{_short_hash(name)[:6]}.cache.amazonaws.com"
        state["readerEndpointAddress"] = f"replica.{physical}.{_short_hash(name)[:6]}.cache.amazonaws.com"
        state.setdefault("port", 6379)
    elif module == "ecr/repository":
        state["repositoryUrl"] = f"{MOCK_ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{physical}"
        state["registryId"] = MOCK_ACCOUNT_ID
    elif module == "eks/cluster":
        state["endpoint"] = f"https://{_short_hash(name).upper()}.gr7.{region}.eks.amazonaws.com"
        state["certificateAuthority"] = {"data": base64.b64encode(b"mock-ca").decode()}
        state["identities"] = [
            {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{_short_hash(name).upper()}"}]}
        ]
        state.setdefault("version", "1.31")
        vpc_config = dict(inputs.get("vpcConfig") or {})
        vpc_config["clusterSecurityGroupId"] = f"sg-{_short_hash(name + 'cluster')}"
        vpc_config.setdefault("vpcId", "vpc-0mock")
        state["vpcConfig"] = vpc_config
    elif module == "eks/nodeGroup":
        state["resources"] = [{"autoscalingGroups": [{"name": f"eks-{physical}-{_short_hash(name)}"}],
                               "remoteAccessSecurityGroupId": None}]
        state["status"] = "ACTIVE"
    elif module == "ec2/launchTemplate":
        state["latestVersion"] = 1
        state["defaultVersion"] = 1
        rid = f"lt-{_short_hash(name)}"
    elif module == "ec2/vpc":
        rid = f"vpc-{_short_hash(name)}"
        state.setdefault("defaultSecurityGroupId", f"sg-{_short_hash(name + 'default')}")
        state.setdefault("mainRouteTableId", f"rtb-{_short_hash(name + 'main')}")
    elif module == "ec2/eip":
        rid = f"eipalloc-{_short_hash(name)}"
        state["allocationId"] = rid
        state["publicIp"] = "203.0.113." + str(int(_short_hash(name)[:2], 16) % 250 + 1)
    elif module == "ec2/subnet":
        rid = f"subnet-{_short_hash(name)}"
    elif module == "ec2/securityGroup":
        rid = f"sg-{_short_hash(name)}"
    elif module == "kms/key":
        rid = _short_hash(name)
        state["keyId"] = rid
        state["arn"] = _arn("kms", region, f"key/{rid}")
    elif module == "iam/role":
        state["uniqueId"] = f"AROA{_short_hash(name).upper()}"
        state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{physical}"
        rid = physical
    elif module == "iam/instanceProfile":
        state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:instance-profile/{physical}"
    elif module == "iam/policy":
        state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:policy/{physical}"
    elif module == "iam/openIdConnectProvider":
        state["arn"] = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:oidc-provider/{str(inputs.get('url', '')).removeprefix('https://')}"
    elif module == "lambda/layerVersion":
        state["arn"] = _arn("lambda", region, f"layer:{inputs.get('layerName', physical)}:1")
        state["version"] = "1"
    elif module == "lambda/function":
        state["arn"] = _arn("lambda", region, f"function:{physical}")
        state["invokeArn"] = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations"
        state.setdefault("version", "$LATEST")
    elif module == "apigatewayv2/api":
        rid = _short_hash(name)[:10]
        state["apiEndpoint"] = f"https://{rid}.execute-api.{region}.amazonaws.com"
        state["executionArn"] = _arn("execute-api", region, rid)
    elif module == "apigatewayv2/vpcLink":
        rid = f"vpclink-{_short_hash(name)[:6]}"
    elif module == "apigatewayv2/authorizer":
        rid = f"auth-{_short_hash(name)[:6]}"
    elif module == "apigatewayv2/integration":
        rid = f"integ-{_short_hash(name)[:6]}"
    elif module == "apigatewayv2/stage":
        state["invokeUrl"] = f"https://{_short_hash(name)[:10]}.execute-api.{region}.amazonaws.com/"
    elif module == "secretsmanager/secretVersion":
        state["versionId"] = _short_hash(json.dumps(inputs, sort_keys=True, default=str))
        rid = f"{inputs.get('secretId')}|{state['versionId']}"
    elif module == "secretsmanager/secret":
        state["arn"] = _arn("secretsmanager", region, f"secret:{physical}-AbCdEf")
        rid = state["arn"]
    elif module == "cloudwatch/logGroup":
        state["arn"] = _arn("logs", region, f"log-group:{physical}")
    elif type_ == "docker-build:index:Image":
        # The provider reports the pushed manifest's digest and a tag@digest reference.
        digest = "sha256:" + hashlib.sha256(json.dumps(inputs.get("tags") or [name]).encode()).hexdigest()
        state["digest"] = digest
        tags = inputs.get("tags") or []
        state["ref"] = f"{tags[0]}@{digest}" if tags else digest
        state["contextHash"] = _short_hash(json.dumps(inputs.get("context") or {}))
        rid = state["ref"]
    elif type_ == "random:index/randomId:RandomId":
        raw = hashlib.sha256(name.encode()).digest()[: int(inputs.get("byteLength") or 8)]
        state["hex"] = raw.hex()
        state["b64Url"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        state["dec"] = str(int.from_bytes(raw, "big"))
        rid = state["b64Url"]
    elif module == "lambda/invocation":
        state["result"] = json.dumps({"status": "ok"})
    elif type_.startswith("random:"):
        length = int(inputs.get("length") or 32)
        state["result"] = ("Mock0" * (length // 5 + 1))[:length]
    elif type_.startswith("kubernetes:"):
        # Pulumi auto-names Kubernetes objects that have no explicit name.
        meta = dict(inputs.get("metadata") or {})
        meta.setdefault("name", f"{name}-{_short_hash(name)[:8]}")
        state["metadata"] = meta
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


def mock_invoke(token: str, args: Mapping[str, Any], region: str) -> dict[str, Any]:
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        zones = [f"{region}{s}" for s in "abc"]
        return {"names": zones, "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)], "id": region,
                "groupNames": [region]}
    if token in ("aws:ec2/getAmi:getAmi", "aws:ssm/getParameter:getParameter"):
        ami = "ami-0abcdef1234567890"
        return {"id": ami, "imageId": ami, "architecture": "x86_64", "value": ami,
                "name": args.get("name", "mock"), "type": "String", "arn": _arn("ssm", region, "parameter/mock")}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": MOCK_ACCOUNT_ID, "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/ci",
                "userId": "AIDAMOCKUSER", "id": MOCK_ACCOUNT_ID}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
                "description": "mock region"}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
                "reverseDnsPrefix": "com.amazonaws"}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        return _policy_document(args)
    if token == "aws:elb/getServiceAccount:getServiceAccount":
        return {"arn": "arn:aws:iam::127311923021:root", "id": "127311923021"}
    if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        token_value = base64.b64encode(b"AWS:mock-ecr-password").decode()
        return {"userName": "AWS", "password": "mock-ecr-password", "authorizationToken": token_value,
                "proxyEndpoint": f"https://{MOCK_ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
                "expiresAt": "2030-01-01T00:00:00Z", "id": region}
    if token == "aws:iam/getSessionContext:getSessionContext":
        # An IAM user's or role's own ARN comes back as its issuer; an assumed-role session maps to its role.
        arn = str(args.get("arn") or "")
        issuer = arn
        if ":assumed-role/" in arn:
            role = arn.split(":assumed-role/", 1)[1].rsplit("/", 1)[0]
            issuer = f"arn:aws:iam::{arn.split(':')[4]}:role/{role}"
        return {"arn": arn, "issuerArn": issuer, "issuerName": issuer.rsplit("/", 1)[-1], "id": arn}
    if token == "aws:eks/getClusterAuth:getClusterAuth":
        return {"token": "k8s-aws-v1.mock", "name": args.get("name"), "id": args.get("name")}
    if token == "aws:index/getDefaultTags:getDefaultTags":
        return {"tags": {}, "id": "default"}
    if token == "aws:ec2/getVpc:getVpc":
        return {"id": "vpc-0mock", "cidrBlock": "10.0.0.0/16", "arn": _arn("ec2", region, "vpc/vpc-0mock")}
    if token in ("aws:ec2/getSubnets:getSubnets", "aws:ec2/getSubnetIds:getSubnetIds"):
        return {"ids": ["subnet-0mocka", "subnet-0mockb"], "id": "mock"}
    if token == "aws:acm/getCertificate:getCertificate":
        return {"arn": _arn("acm", region, "certificate/mock"), "id": "mock", "domain": args.get("domain")}
    if token == "aws:route53/getZone:getZone":
        return {"zoneId": "Z0MOCKZONE", "id": "Z0MOCKZONE", "name": args.get("name")}
    if token == "kubernetes:yaml:decode":
        return {"result": _decode_manifests(str(args.get("text") or ""))}
    return {}


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


# ----------------------------------------------------------------------------- capture


def _unwrap(value: Any, path: str, secret_paths: list[str]) -> Any:
    """Secret markers off, unknowns to None, resource references to their URN; records secret paths."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            secret_paths.append(path or ".")
            return _unwrap(value.get("value"), path, secret_paths)
        if sig is not None and "urn" in value:
            return value["urn"]
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    if value == _UNKNOWN:
        return None
    return value


def _struct_to_python(struct: Any) -> Any:
    return _integral(json_format.MessageToDict(struct)) if struct is not None else {}


def _integral(value: Any) -> Any:
    # protobuf Structs carry every number as a double; 5432.0 reads back as the 5432 the program wrote.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


class _Mocks(Mocks):
    def __init__(self, region: str) -> None:
        self.region = region

    def call(self, args: Any) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return mock_invoke(args.token, args.args, self.region), []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return mock_outputs(args.typ, args.name, args.inputs, self.region)


def _make_monitor(mocks: Mocks, workdir: Path) -> Any:
    class CapturingMonitor(MockMonitor):
        def __init__(self) -> None:
            super().__init__(mocks)
            self.captured: list[CapturedResource] = []
            self.stack_outputs: dict[str, Any] = {}

        def RegisterResource(self, request: Any) -> Any:
            # The engine reads every asset and archive when it registers a resource (gate/assets.py).
            assets.read_registered(request.type, request.name, _struct_to_python(request.object), workdir)
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            secret_paths: list[str] = []
            inputs = _unwrap(_struct_to_python(request.object), "", secret_paths)
            reg = self.resources.get(response.urn)
            self.captured.append(
                CapturedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=inputs,
                    parent=request.parent or None,
                    dependencies=tuple(request.dependencies),
                    property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
                    custom=bool(request.custom),
                    provider=request.provider or None,
                    protect=bool(request.protect),
                    secret_paths=tuple(secret_paths),
                    options={
                        "ignoreChanges": list(request.ignoreChanges),
                        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                        "retainOnDelete": bool(request.retainOnDelete),
                        "additionalSecretOutputs": list(request.additionalSecretOutputs),
                        "deletedWith": request.deletedWith or None,
                        "aliases": list(request.aliasURNs),
                    },
                    outputs=_unwrap(dict(reg.state), "", []) if reg is not None else {},
                    remote=bool(request.remote),
                    source=_source_position(request),
                )
            )
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:
            assets.read_registered("outputs of", request.urn, _struct_to_python(request.outputs), workdir)
            return super().RegisterResourceOutputs(request)

    return CapturingMonitor()


def _source_position(request: Any) -> tuple[str, int] | None:
    # The SDK sends the declaring frame as a file:// URI and a 1-based line
    # (pulumi/runtime/resource.py `_get_source_position_for_frame`; proto/pulumi/source.proto).
    if not request.HasField("sourcePosition"):
        return None
    position = request.sourcePosition
    parsed = urllib.parse.urlparse(position.uri)
    if parsed.scheme != "file" or position.line < 1:
        return None
    return urllib.request.url2pathname(parsed.path), int(position.line)


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _program_context(main_dir: Path) -> Iterator[None]:
    """cwd and import path as the Python language host sets them; the program's own modules are
    forgotten afterwards so that the next run imports them afresh."""
    before = set(sys.modules)
    old_cwd = Path.cwd()
    old_path = list(sys.path)
    os.chdir(main_dir)
    sys.path.insert(0, str(main_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        root = str(main_dir)
        for mod in set(sys.modules) - before:
            file = getattr(sys.modules[mod], "__file__", None) or ""
            if file.startswith(root):
                del sys.modules[mod]


def run_program(
    program_dir: Path | str,
    stack: str,
    *,
    config_file: Path | str | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Runs the program for `stack` under the mock engine and returns what it registered.

    `config_overrides` keys may be fully qualified (`project:key`) or bare (the project's namespace);
    they win over the stack file, as `pulumi config set` would.
    """
    project = load_project(program_dir)
    config = load_stack_config(project, stack, config_file)
    values = dict(config.values)
    for key, value in (config_overrides or {}).items():
        values[_qualify(key, project.name)] = value
    config = StackConfig(values, config.secret_keys, config.path)
    region = str(values.get("aws:region") or DEFAULT_REGION)

    mocks = _Mocks(region)
    monitor = _make_monitor(mocks, project.main_dir)
    errors = _ErrorLog()
    logger = logging.getLogger("stateless.mockengine")
    logger.propagate = False
    logger.handlers[:] = [errors]

    runtime_settings.ROOT.set(None)
    runtime_config.set_all_config(_engine_config(values), sorted(config.secret_keys))
    runtime_mocks.set_mocks(
        mocks,
        project=project.name,
        stack=stack,
        preview=preview,
        logger=logger,
        monitor=monitor,
    )
    runtime_settings.SETTINGS.root_directory = str(project.directory)
    root = runtime_settings.get_root_resource()

    def program() -> None:
        runpy.run_path(str(project.entry), run_name="__main__")

    try:
        with _program_context(project.main_dir):
            _sync_await(run_pulumi_func(program))
            outputs = _resolve_outputs(root, _sync_await)
    except SystemExit as exc:
        settle_failed_run()
        raise ProgramError(f"the program exited with status {exc.code}") from exc
    except pulumi.RunError as exc:
        settle_failed_run()
        raise ProgramError(str(exc)) from exc
    except Exception as exc:
        settle_failed_run()
        raise ProgramError(_describe(exc)) from exc
    if errors.messages:
        raise ProgramError(errors.messages[0])
    return ProgramRun(project.name, stack, list(monitor.captured), outputs, config)


def settle_failed_run() -> None:
    """Finishes what a failed program left in flight and marks its errors as read.

    Registrations still running when a program fails hold futures whose exceptions nobody awaits;
    left to the garbage collector, CPython 3.11 can later fail in unrelated code ("AST constructor
    recursion depth mismatch"), so a failed run is settled before the next one starts.
    """
    loop = asyncio.get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()
    # A registration that failed stays among the outputs the runtime waits for, which outlive a run.
    runtime_settings.SETTINGS.outputs.clear()


def _resolve_outputs(root: Any, sync_await: Any) -> dict[str, Any]:
    exported = getattr(root, "outputs", None) or {}
    resolved: dict[str, Any] = {}
    for key, value in exported.items():
        out = pulumi.Output.from_input(value)
        resolved[key] = _unwrap(sync_await(out.future(with_unknowns=True)), key, [])
    return resolved


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text if isinstance(exc, ValueError | ProjectError) else f"{exc.__class__.__name__}: {text}"

"""Runs one component under Pulumi's mock engine and captures what it registers.

The mocks answer like the providers would for the outputs the components read (EKS endpoint, CA and
OIDC issuer, node group ASG names, role and log group ARNs, Kubernetes auto-names) and the invokes they
call (region, partition, caller identity).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from policies.mockengine import settle_failed_run

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Captured:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


class CaptureMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Captured] = []
        self.invokes: list[str] = []

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        self.invokes.append(args.token)
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "X", "id": ACCOUNT}
        raise AssertionError(f"unexpected invoke {args.token}")

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.resources.append(Captured(args.typ, args.name, inputs, args.provider))
        state = dict(inputs)
        typ, name = args.typ, args.name
        physical = inputs.get("name") if isinstance(inputs.get("name"), str) else f"{name}-{short_hash(name)[:7]}"
        rid = f"{name}-id"
        service = typ.split(":")[1].split("/")[0] if typ.count(":") >= 2 else ""
        state.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT}:{physical}")
        if typ == "aws:eks/cluster:Cluster":
            state["endpoint"] = f"https://{short_hash(name).upper()}.gr7.{REGION}.eks.amazonaws.com"
            state["certificateAuthority"] = {"data": base64.b64encode(b"mock-ca").decode()}
            state["identities"] = [{"oidcs": [{"issuer": f"https://oidc.eks.{REGION}.amazonaws.com/id/{short_hash(name).upper()}"}]}]
            state["vpcConfig"] = {**inputs["vpcConfig"], "clusterSecurityGroupId": "sg-cluster0000"}
            state["name"] = physical
        elif typ == "aws:eks/nodeGroup:NodeGroup":
            state["resources"] = [{"autoscalingGroups": [{"name": f"eks-{name}-asg"}]}]
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
            rid = f"lt-{short_hash(name)}"
        elif typ == "aws:ec2/securityGroup:SecurityGroup":
            rid = f"sg-{short_hash(name)}"
        elif typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{physical}"
            state["name"] = physical
            rid = physical
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{inputs['url'].removeprefix('https://')}"
        elif typ == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{short_hash(name)}"
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}"
        elif typ == "aws:lambda/function:Function":
            state["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        elif typ == "aws:lambda/layerVersion:LayerVersion":
            state["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{inputs['layerName']}:1"
        elif typ == "aws:lb/targetGroup:TargetGroup":
            state["arn"] = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{physical}/{short_hash(name)}"
        elif typ == "aws:apigatewayv2/api:Api":
            rid = short_hash(name)[:10]
            state["apiEndpoint"] = f"https://{rid}.execute-api.{REGION}.amazonaws.com"
            state["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{rid}"
        elif typ == "aws:apigatewayv2/vpcLink:VpcLink":
            rid = f"vpclink-{short_hash(name)[:6]}"
        elif typ == "aws:apigatewayv2/authorizer:Authorizer":
            rid = f"auth-{short_hash(name)[:6]}"
        elif typ == "aws:apigatewayv2/integration:Integration":
            rid = f"integ-{short_hash(name)[:6]}"
        elif typ == "aws:apigatewayv2/stage:Stage":
            state["invokeUrl"] = f"https://{short_hash(name)[:10]}.execute-api.{REGION}.amazonaws.com/"
        elif typ.startswith("kubernetes:"):
            # Pulumi auto-names Kubernetes objects without an explicit name.
            meta = dict(inputs.get("metadata") or {})
            meta.setdefault("name", f"{name}-{short_hash(name)[:8]}")
            state["metadata"] = meta
        return rid, state


@dataclass
class Run:
    resources: list[Captured]
    component: Any
    invokes: list[str]

    def of_type(self, type_: str) -> list[Captured]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Captured:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Captured:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]


class ProgramFailed(Exception):
    """The component's program failed under the mocks (the message is the original error)."""


def run_component(build: Callable[[], Any]) -> Run:
    """Builds the component under fresh mocks and waits until every registration has been answered."""
    mocks = CaptureMocks()
    pulumi.runtime.set_mocks(mocks, project="stateless-stack", stack="unit", preview=False)
    holder: dict[str, Any] = {}

    def program() -> None:
        holder["component"] = build()

    failure: str | None = None
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        # Futures downstream of the failure must not be left for the garbage collector.
        settle_failed_run()
        raise ProgramFailed(failure)
    return Run(mocks.resources, holder["component"], mocks.invokes)


def resolve(output: Any) -> Any:
    """The value of an Output built during a run (its registrations are already answered)."""
    return _sync_await(pulumi.Output.from_input(output).future())


def plain(value: Any) -> Any:
    """Captured inputs as JSON-like data: integral numbers back to int (the engine's wire format only
    has doubles), assets and archives as their class name."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return type(value).__name__


def document(value: Any) -> dict[str, Any]:
    """A policy document captured as a JSON string."""
    assert isinstance(value, str), f"expected a JSON policy document, got {type(value).__name__}"
    return json.loads(value)


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def manifest(resource: Captured) -> dict[str, Any]:
    """A captured pulumi_kubernetes registration as the Kubernetes manifest it would apply."""
    assert resource.type.startswith("kubernetes:"), resource.type
    return {k: plain(v) for k, v in resource.inputs.items() if v is not None}


def policy_findings(resources: list[Captured]) -> list[str]:
    """What the stateless-guard resource rules report for these registrations (default config)."""
    from policies.rules import ALL_RULES

    found = []
    for res in resources:
        props = plain(res.inputs)
        for rule in ALL_RULES:
            if rule.is_stack:
                continue
            for message in rule.evaluate(res.type, props, rule.settings()):
                found.append(f"{rule.name} on {res.type} {res.name}: {message}")
    return found


@pytest.fixture
def run() -> Callable[[Callable[[], Any]], Run]:
    return run_component

"""The one harness of the infrastructure tests, under the offline gate's mock engine.

- Whole-program runs (program/, modes/): one run per configuration per test session. A configuration is
  a stack file plus the `pulumi config set` overrides a user would make to select a mode; the stack
  files themselves pick asg + alb (dev, staging, prod) and eks + apigateway (dev-eks).
- One component at a time (components/): `run_component` builds it under mocks that give the mock
  engine's provider answers (EKS endpoint, CA and OIDC issuer, node group ASG names, role and log group
  ARNs, Kubernetes auto-names) and the invokes components call (region, partition, caller identity).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from policies.gate.mockengine import (
    MOCK_ACCOUNT_ID,
    ProgramRun,
    Resource,
    mock_invoke,
    mock_outputs,
    run_program,
    settle_failed_run,
)

ROOT = Path(__file__).resolve().parents[3]

# name -> (stack file, overrides)
CONFIGURATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "staging": ("staging", {}),
    "prod": ("prod", {}),
    "dev-eks": ("dev-eks", {}),
    # The override configurations also move every mode knob off its default, so a value that the
    # program dropped on the way to a component would show.
    "eks-alb": ("dev-eks", {"ingressMode": "alb", "k8sReplicas": 3, "k8sHpaMinReplicas": 4, "k8sHpaMaxReplicas": 8,
                            "k8sHpaCpuTargetPercent": 70, "eksNodeDesiredSize": 3, "eksKubernetesVersion": "1.32",
                            "eksNodeInstanceTypes": ["t3.large", "m6i.large"], "rootVolumeSizeGb": 40,
                            "eksPublicAccessCidrs": ["34.200.0.0/24"]}),
    "asg-apigateway": ("dev", {"ingressMode": "apigateway", "workerBatchSize": 5, "workerTimeoutSeconds": 20,
                               "workerMemoryMb": 1024, "workerReservedConcurrency": 3, "workerMaxConcurrency": 3,
                               "apiThrottlingBurstLimit": 30, "apiThrottlingRateLimit": 15}),
    "prod-eks": ("prod", {"computeMode": "eks", "eksNodeMinSize": 3, "eksNodeMaxSize": 9,
                          "eksPublicAccessCidrs": ["34.200.0.0/24"],
                          "eksDeployerPrincipalArn": "arn:aws:iam::210987654321:role/stateless-stack-deploy-prod",
                          "eksNodeInstanceTypes": ["m6i.large"], "k8sReplicas": 3, "k8sHpaMaxReplicas": 12}),
}
STACKS = ("dev", "staging", "prod")
ASG = ("dev", "staging", "prod", "asg-apigateway")
EKS = ("dev-eks", "eks-alb", "prod-eks")
API = ("dev-eks", "asg-apigateway")
ALB = ("dev", "staging", "prod", "eks-alb", "prod-eks")

_runs: dict[str, ProgramRun] = {}


def program_run(name: str) -> ProgramRun:
    if name not in _runs:
        stack, overrides = CONFIGURATIONS[name]
        _runs[name] = run_program(ROOT, stack, config_overrides=overrides)
    return _runs[name]


def config_of(name: str) -> dict[str, Any]:
    """The project's settings for a configuration: stack file values, then the overrides."""
    stack, overrides = CONFIGURATIONS[name]
    doc = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    values = {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("stateless-stack:")}
    values.update(overrides)
    return values


def certificate_of(name: str) -> str | None:
    """The certificate ARN the program uses: the configured one, or the lookup's answer for certificateDomain."""
    cfg = config_of(name)
    if cfg.get("certificateArn"):
        return str(cfg["certificateArn"])
    if cfg.get("certificateDomain"):
        stack, _ = CONFIGURATIONS[name]
        region = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"]
        return str(mock_invoke("aws:acm/getCertificate:getCertificate", {"domain": cfg["certificateDomain"]},
                               region)["arn"])
    return None


def stack_files() -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


@pytest.fixture(scope="module", params=EKS)
def eks_run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


@pytest.fixture(scope="module", params=ASG)
def asg_run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


@pytest.fixture(scope="module", params=API)
def api_run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


@pytest.fixture(scope="module", params=ALB)
def alb_run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


@pytest.fixture(scope="module", params=tuple(CONFIGURATIONS))
def any_run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


def name_of(run: ProgramRun) -> str:
    return next(n for n, r in _runs.items() if r is run)


@pytest.fixture(scope="session", params=STACKS)
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return program_run(request.param)


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return program_run("dev")


@pytest.fixture(scope="session")
def staging() -> ProgramRun:
    return program_run("staging")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return program_run("prod")


# ----------------------------------------------------------------------------- helpers over a run


def refs(resource: Resource, prop: str) -> set[str]:
    """URNs of the resources whose outputs feed `prop`."""
    return set(resource.property_dependencies.get(prop, ()))


def owner(run: ProgramRun, resource: Resource) -> Resource | None:
    """The nearest `stateless:` component above a resource."""
    by_urn = run.by_urn()
    parent = by_urn.get(resource.parent) if resource.parent else None
    while parent is not None and not parent.type.startswith("stateless:"):
        parent = by_urn.get(parent.parent) if parent.parent else None
    return parent


def owned_by(run: ProgramRun, component_type: str, type_: str) -> list[Resource]:
    return [r for r in run.of_type(type_) if (o := owner(run, r)) is not None and o.type == component_type]


def policy(resource: Resource) -> list[dict[str, Any]]:
    doc = json.loads(resource.inputs["policy"] if "policy" in resource.inputs else resource.inputs["assumeRolePolicy"])
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def subnet_tier(run: ProgramRun) -> Mapping[str, str]:
    """Subnet URN -> tier (public, app, data)."""
    return {s.urn: s.inputs["tags"]["tier"] for s in run.of_type("aws:ec2/subnet:Subnet")}


# ----------------------------------------------------------------------------- one component at a time

REGION = "eu-west-1"
AVAILABILITY_ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"
ACCOUNT = MOCK_ACCOUNT_ID

# What app_environment() writes for a prod-like stack in REGION/ACCOUNT: the environment components
# hand to the app (test data shared by the compute and worker component tests).
DB_SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-1234-AbCdEf"
REDIS_SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:redis-AbCdEf"
APP_ENV = {
    "APP_MODE": "cloud",
    "APP_DATABASE_HOST": "prod-db.abc.eu-west-1.rds.amazonaws.com",
    "APP_DATABASE_PORT": "5432",
    "APP_DATABASE_NAME": "app",
    "APP_DATABASE_SECRET_ARN": DB_SECRET_ARN,
    "APP_REDIS_URL": "rediss://master.prod-cache.abc.cache.amazonaws.com:6379",
    "APP_REDIS_AUTH_SECRET_ARN": REDIS_SECRET_ARN,
    "APP_S3_BUCKET": "prod-data-7f3a",
    "APP_SQS_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/prod-work-queue",
    "APP_JWT_KMS_KEY_ID": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "APP_JWT_ISSUER": "https://api.example.com",
    "APP_JWT_AUDIENCE": "stateless-app",
    "AWS_REGION": REGION,
    "APP_PORT": "8000",
    "APP_KEEPALIVE_TIMEOUT_SECONDS": "65",
    "APP_DATABASE_SSLMODE": "verify-full",
    "APP_DATABASE_SSLROOTCERT": "/etc/ssl/certs/rds-global-bundle.pem",
}


@dataclass
class Captured:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


class CaptureMocks(pulumi.runtime.Mocks):
    """The offline gate's provider answers, plus a record of what was registered and invoked; an
    invoke the components are not expected to make fails the test."""

    EXPECTED_INVOKES = frozenset({
        "aws:index/getRegion:getRegion",
        "aws:index/getPartition:getPartition",
        "aws:index/getCallerIdentity:getCallerIdentity",
    })

    def __init__(self, region: str = REGION, zones: int = 3, invokes: frozenset[str] = frozenset()) -> None:
        self.region = region
        self.zones = zones  # how many availability zones the region reports
        self.allowed = self.EXPECTED_INVOKES | invokes
        self.resources: list[Captured] = []
        self.invokes: list[str] = []

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        self.invokes.append(args.token)
        if args.token not in self.allowed:
            raise AssertionError(f"unexpected invoke {args.token}")
        answer = mock_invoke(args.token, args.args, self.region)
        if args.token == AVAILABILITY_ZONES:
            answer = {**answer, "names": answer["names"][: self.zones], "zoneIds": answer["zoneIds"][: self.zones]}
        return answer, []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Captured(args.typ, args.name, dict(args.inputs), args.provider))
        rid, state = mock_outputs(args.typ, args.name, dict(args.inputs), self.region)
        return rid, state


def answered(type_: str, name: str, inputs: dict[str, Any], region: str = REGION) -> dict[str, Any]:
    """The state the mocks gave a resource: what dependents saw of it."""
    return mock_outputs(type_, name, dict(inputs), region)[1]


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


def run_component(build: Callable[[], Any], **mocks_args: Any) -> Run:
    """Builds the component under fresh mocks (CaptureMocks' arguments: region, zones, invokes) and
    waits until every registration has been answered."""
    mocks = CaptureMocks(**mocks_args)
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

"""Whole-program runs per mode, under the mock engine, each configuration once per test session.

A configuration is a stack file plus the `pulumi config set` overrides a user would make to select a
mode; the stack files themselves pick asg + alb (dev, staging, prod) and eks + apigateway (dev-eks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.gate.mockengine import ProgramRun, Resource, mock_invoke, run_program

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
                          "eksNodeInstanceTypes": ["m6i.large"], "k8sReplicas": 3, "k8sHpaMaxReplicas": 12}),
}
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

"""Runs one component under Pulumi's mock engine and captures what it registers.

The mocks answer like the providers would for the outputs the components read (EKS endpoint, CA and
OIDC issuer, node group ASG names, role and log group ARNs, Kubernetes auto-names) and the invokes they
call (region, partition, caller identity).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from policies.gate.mockengine import MOCK_ACCOUNT_ID, mock_invoke, mock_outputs, settle_failed_run

REGION = "eu-west-1"
ACCOUNT = MOCK_ACCOUNT_ID


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
        "aws:iam/getSessionContext:getSessionContext",
    })

    def __init__(self) -> None:
        self.resources: list[Captured] = []
        self.invokes: list[str] = []

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        self.invokes.append(args.token)
        if args.token not in self.EXPECTED_INVOKES:
            raise AssertionError(f"unexpected invoke {args.token}")
        return mock_invoke(args.token, args.args, REGION), []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Captured(args.typ, args.name, dict(args.inputs), args.provider))
        rid, state = mock_outputs(args.typ, args.name, dict(args.inputs), REGION)
        return rid, state


def answered(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The state the mocks gave a resource: what dependents saw of it."""
    return mock_outputs(type_, name, dict(inputs), REGION)[1]


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

"""Drives rules through their pulumi_policy adapters exactly as the analyzer server builds the arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.rules import Rule


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def validate_resource(
    rule: Rule, resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any] | None = None
) -> list[str]:
    reported: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        f"urn:pulumi:t::p::{resource_type}::r",
        "r",
        _opts(),
        None,
        rule.settings(config),
    )
    rule.policy().validate(args, lambda message, urn=None: reported.append(message))
    return reported


def validate_stack(
    rule: Rule,
    resources: list[tuple[Any, ...]],
    config: Mapping[str, Any] | None = None,
) -> list[tuple[str | None, str]]:
    """resources: (type, name, props, property_dependencies by name[, parent name])."""
    objs: dict[str, PolicyResource] = {}
    for type_, name, props, *_ in resources:
        urn = f"urn:pulumi:t::p::{type_}::{name}"
        objs[name] = PolicyResource(type_, unknown_checking_proxy(dict(props)), urn, name, _opts(), None, None, [], {})
    for _, name, _, deps, *parent in resources:
        objs[name].property_dependencies = {k: [objs[d] for d in v] for k, v in deps.items()}
        objs[name].dependencies = [objs[d] for v in deps.values() for d in v]
        if parent:
            objs[name].parent = objs[parent[0]]
    reported: list[tuple[str | None, str]] = []
    args = StackValidationArgs(list(objs.values()), rule.settings(config))
    rule.policy().validate(args, lambda message, urn=None: reported.append((urn, message)))
    return reported


@pytest.fixture
def via_policy() -> Callable[..., list[str]]:
    return validate_resource


@pytest.fixture
def via_stack_policy() -> Callable[..., list[tuple[str | None, str]]]:
    return validate_stack

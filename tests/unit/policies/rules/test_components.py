"""no-unjudged-components: components whose children were not visible, and opaque releases."""

import pytest

from policies.rules.components import NO_UNJUDGED_COMPONENTS

CHART = "kubernetes:helm.sh/v4:Chart"
STS = "kubernetes:apps/v1:StatefulSet"


def _urn(type_, name):
    return f"urn:pulumi:t::p::{type_}::{name}"


def test_a_chart_whose_children_are_in_the_stack_passes(via_stack_policy):
    # What the analyzer sees under `pulumi preview`: the provider registered the chart's objects.
    stack = [(CHART, "cache", {"chart": "redis"}, {}), (STS, "cache:default/redis-master", {}, {}, "cache")]
    assert via_stack_policy(NO_UNJUDGED_COMPONENTS, stack) == []


@pytest.mark.parametrize(
    "type_",
    [
        "kubernetes:helm.sh/v3:Chart",
        CHART,
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:kustomize/v2:Directory",
        "kubernetes:kustomize:Directory",
        "awsx:ec2:Vpc",
        "eks:index:Cluster",
    ],
)
def test_a_component_without_children_is_not_judged(type_, via_stack_policy):
    stack = [(type_, "thing", {}, {}), ("aws:sqs/queue:Queue", "other", {}, {})]
    assert via_stack_policy(NO_UNJUDGED_COMPONENTS, stack) == [
        (
            _urn(type_, "thing"),
            f"{type_} thing was not judged: its children are created by its provider inside the Pulumi "
            "engine, and none of them were visible; judge it with `pulumi preview --policy-pack policies` "
            "or the gate's --preview on that preview's JSON",
        )
    ]


def test_a_helm_release_is_never_judged_even_with_children(via_stack_policy):
    release = "kubernetes:helm.sh/v3:Release"
    stack = [(release, "search", {}, {}), ("kubernetes:core/v1:Namespace", "ns", {}, {}, "search")]
    assert via_stack_policy(NO_UNJUDGED_COMPONENTS, stack) == [
        (
            _urn(release, "search"),
            f"{release} search was not judged: it deploys objects that never become Pulumi resources, so no "
            "policy can see inside it; declare them as resources (e.g. helm.v4.Chart) to have them judged",
        )
    ]


def test_own_components_and_custom_resources_are_not_matched(via_stack_policy):
    stack = [("stateless:network:Network", "net", {}, {}), ("aws:eks/cluster:Cluster", "eks", {}, {})]
    assert via_stack_policy(NO_UNJUDGED_COMPONENTS, stack) == []


def test_component_types_are_configurable(via_stack_policy):
    stack = [("acme:index:Warehouse", "w", {}, {}), (CHART, "cache", {}, {})]
    found = via_stack_policy(NO_UNJUDGED_COMPONENTS, stack, {"componentTypes": ["acme:*"]})
    assert [urn for urn, _ in found] == [_urn("acme:index:Warehouse", "w")]
    assert (
        via_stack_policy(NO_UNJUDGED_COMPONENTS, [("kubernetes:helm.sh/v3:Release", "r", {}, {})], {"opaqueTypes": []})
        == []
    )


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert NO_UNJUDGED_COMPONENTS.enforcement.value == "advisory"

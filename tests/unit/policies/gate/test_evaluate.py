"""The gate's evaluation loop follows the analyzer: levels, not-applicable, unknowns, provider, stack links."""

from __future__ import annotations

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.gate.config import PolicySettings, reconcile
from policies.gate.evaluate import PolicyCrash, evaluate, stack_urn
from policies.gate.records import Resource
from policies.pack import PACK_ENFORCEMENT, POLICIES

PROVIDER_URN = "urn:pulumi:dev::p::pulumi:providers:aws::west"


def _res(name, type_="aws:sqs/queue:Queue", inputs=None, parent=None, deps=(), prop_deps=None, provider=None):
    return Resource(
        urn=f"urn:pulumi:dev::p::{type_}::{name}",
        type=type_,
        name=name,
        inputs=inputs or {},
        outputs={**(inputs or {}), "arn": f"arn:{name}"},
        parent=parent,
        dependencies=tuple(deps),
        property_dependencies=prop_deps or {},
        provider=provider,
        protect=False,
        options={},
    )


def _settings(policies, level):
    return {p.name: PolicySettings(level, {}) for p in policies}


def test_levels_disabled_and_remediate():
    policy = ResourceValidationPolicy("always", "always reports", validate=lambda a, r: r("found it"))
    resources = [_res("a")]
    for level, expected in [
        (EnforcementLevel.ADVISORY, ["advisory"]),
        (EnforcementLevel.MANDATORY, ["mandatory"]),
        (EnforcementLevel.REMEDIATE, ["mandatory"]),
        (EnforcementLevel.DISABLED, []),
    ]:
        found = evaluate(resources, [policy], _settings([policy], level), "p", "dev")
        assert [v.enforcement for v in found] == expected
    v = evaluate(resources, [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")[0]
    assert (v.policy, v.urn, v.type, v.name, v.message) == (
        "always",
        resources[0].urn,
        resources[0].type,
        "a",
        "found it",
    )


def test_not_applicable_unknowns_config_and_provider():
    seen = {}

    def validate(args, report):
        if args.resource_type.startswith("pulumi:providers:"):
            return
        seen["config"] = dict(args.get_config())
        seen["provider"] = args.provider.urn if args.provider else None
        if args.name == "skip":
            args.not_applicable("not for this one")
        _ = args.props["size"]  # raises UnknownValueError when the size is not known

    policy = ResourceValidationPolicy("reads-size", "reads size", validate=validate)
    provider = _res("west", type_="pulumi:providers:aws", inputs={"region": "us-west-2"})
    provider = Resource(**{**provider.__dict__, "urn": PROVIDER_URN})
    resources = [
        provider,
        _res("skip", inputs={"size": 1}),
        _res("later", inputs={"size": UNKNOWN_STRING_VALUE}, provider=f"{PROVIDER_URN}::provider-id"),
    ]
    settings = {"reads-size": PolicySettings(EnforcementLevel.MANDATORY, {"limit": 3})}
    found = evaluate(resources, [policy], settings, "p", "dev")
    assert [(v.name, v.enforcement) for v in found] == [("later", "advisory")]
    assert (
        found[0].message
        == "can't run policy 'reads-size' during preview: string value at .size can't be known during preview"
    )
    assert seen == {"config": {"limit": 3}, "provider": PROVIDER_URN}


def test_stack_policy_sees_outputs_parents_and_dependencies():
    captured = {}

    def validate(args, report):
        by_name = {r.name: r for r in args.resources}
        captured["names"] = sorted(by_name)
        child = by_name["child"]
        captured["parent"] = child.parent.name
        captured["deps"] = [d.name for d in child.dependencies]
        captured["prop_deps"] = {k: [d.name for d in v] for k, v in child.property_dependencies.items()}
        captured["arn"] = by_name["owner"].props["arn"]
        report("stack-wide finding", None)
        report("about the child", child.urn)

    policy = StackValidationPolicy("links", "checks links", validate=validate)
    owner = _res("owner", type_="stateless:x:Owner")
    child = _res("child", parent=owner.urn, deps=[owner.urn], prop_deps={"bucket": (owner.urn,)})
    found = evaluate([owner, child], [policy], _settings([policy], EnforcementLevel.ADVISORY), "p", "dev")
    assert captured == {
        "names": ["child", "owner", "p-dev"],
        "parent": "owner",
        "deps": ["owner"],
        "prop_deps": {"bucket": ["owner"]},
        "arn": "arn:owner",
    }
    assert [(v.urn, v.type, v.message) for v in found] == [
        (stack_urn("p", "dev"), "pulumi:pulumi:Stack", "stack-wide finding"),
        (child.urn, child.type, "about the child"),
    ]


def test_a_crashing_policy_is_reported_as_a_pack_defect():
    def boom(args, report):
        raise KeyError("oops")

    policy = ResourceValidationPolicy("boom", "crashes", validate=boom)
    with pytest.raises(PolicyCrash, match="policy boom failed on urn:pulumi:dev::p::aws:sqs/queue:Queue::a"):
        evaluate([_res("a")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")


def test_the_pack_on_captured_resources():
    queue = _res("jobs", inputs={"sqsManagedSseEnabled": False})
    settings = reconcile(POLICIES, PACK_ENFORCEMENT, None)
    found = {(v.policy, v.enforcement) for v in evaluate([queue], POLICIES, settings, "p", "dev")}
    assert found == {("sqs-encryption", "mandatory"), ("sqs-dead-letter-queue", "mandatory")}


def test_a_property_unknown_in_the_preview_is_not_judged_by_the_pack(tmp_path):
    """End to end: the engine's UNKNOWN reaches the pack's rules as the analyzer's unknown (rules/_core.py
    plain), so the rule does not judge it, instead of a violation on None; the run names what was not
    judged and the pass is incomplete."""
    from policies.gate import run_gate
    from policies.gate.mockengine.records import UNKNOWN

    (tmp_path / "Pulumi.yaml").write_text("name: demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-west-2\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\n"
        "ref = pulumi.StackReference('acme/base/prod')\n"
        "aws.ec2.LaunchTemplate('lt', image_id='ami-1', metadata_options={'http_tokens': ref.get_output('tokens')})\n"
    )
    result = run_gate("dev", tmp_path)
    template = next(r for r in result.resources if r.name == "lt")
    assert template.inputs["metadataOptions"]["httpTokens"] == UNKNOWN
    assert not [v for v in result.violations if v.name == "lt" and v.policy == "imdsv2-required"]
    assert result.run is not None and result.run.unknown_inputs[template.urn] == ["metadataOptions.httpTokens"]
    assert "1 resource with inputs unknown during preview: those properties are not judged" in result.notes
    assert result.verdict == "PASS (incomplete)" and result.exit_code == 0
    # The same property, known from the supplied stack, is judged.
    supplied = run_gate("dev", tmp_path, stack_references={"acme/base/prod": {"tokens": "optional"}})
    assert [v.enforcement for v in supplied.violations if v.name == "lt" and v.policy == "imdsv2-required"] == [
        "mandatory"
    ]
    assert supplied.verdict == "FAIL"

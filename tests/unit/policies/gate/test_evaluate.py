"""The gate's evaluation loop follows the analyzer: levels, not-applicable, unknowns, provider, stack links."""

from __future__ import annotations

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

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


# ----------------------------------------------------------------------------- what a policy is given

import dataclasses  # noqa: E402

from pulumi_policy import PolicyConfigSchema  # noqa: E402

from policies.gate.evaluate import UnmatchedWaiver, Violation, unmatched_waivers  # noqa: E402
from policies.rules.waivers import Waiver  # noqa: E402


def _capture(seen, key="args"):
    def validate(args, report):
        seen.setdefault(key, []).append(args)

    return validate


def test_the_options_a_resource_policy_sees():
    seen: dict = {}
    policy = ResourceValidationPolicy("opts", "reads options", validate=_capture(seen))
    options = {
        "ignoreChanges": ["tags"],
        "deleteBeforeReplace": True,
        "aliases": ["urn:old"],
        "additionalSecretOutputs": ["pw"],
    }
    full = dataclasses.replace(_res("full", parent="urn:parent"), protect=True, options=options)
    off = dataclasses.replace(_res("off"), options={"deleteBeforeReplace": False, "ignoreChanges": None})
    evaluate([full, off, _res("bare")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    first, second, third = (a.opts for a in seen["args"])
    assert (first.protect, first.ignore_changes, first.delete_before_replace, first.aliases) == (
        True,
        ["tags"],
        True,
        ["urn:old"],
    )
    assert (first.additional_secret_outputs, first.parent) == (["pw"], "urn:parent")
    ct = first.custom_timeouts
    assert (ct.create_seconds, ct.update_seconds, ct.delete_seconds) == (0, 0, 0)
    assert (second.protect, second.ignore_changes, second.delete_before_replace) == (False, [], None)
    assert (third.ignore_changes, third.delete_before_replace, third.aliases, third.additional_secret_outputs) == (
        [],
        None,
        [],
        [],
    )
    assert third.parent is None
    args = seen["args"][0]
    assert (args.resource_type, args.urn, args.name) == ("aws:sqs/queue:Queue", full.urn, "full")
    assert args.get_config() == {}


def test_the_provider_a_resource_policy_sees():
    seen: dict = {}
    policy = ResourceValidationPolicy("prov", "reads the provider", validate=_capture(seen))
    provider = dataclasses.replace(
        _res("west", type_="pulumi:providers:aws", inputs={"region": "us-west-2"}), urn=PROVIDER_URN
    )
    with_id = _res("a", provider=f"{PROVIDER_URN}::0123")
    exact = _res("b", provider=PROVIDER_URN)
    missing = _res("c", provider="urn:pulumi:dev::p::pulumi:providers:aws::east::0123")
    evaluate(
        [with_id, exact, missing, _res("d")],
        [policy],
        _settings([policy], EnforcementLevel.MANDATORY),
        "p",
        "dev",
        providers=[provider],
    )
    a, b, c, d = (args.provider for args in seen["args"])
    assert a is not None and b is not None and c is None and d is None
    assert (a.resource_type, a.urn, a.name, a.props["region"]) == (
        "pulumi:providers:aws",
        PROVIDER_URN,
        "west",
        "us-west-2",
    )
    assert b.urn == PROVIDER_URN
    # The provider itself is not judged: only `resources` are.
    assert [args.name for args in seen["args"]] == ["a", "b", "c", "d"]


def test_a_name_with_double_colons_in_an_exact_provider_reference_is_not_cut():
    seen: dict = {}
    policy = ResourceValidationPolicy("prov", "reads the provider", validate=_capture(seen))
    urn = "urn:pulumi:dev::p::pulumi:providers:aws::we::st"
    provider = dataclasses.replace(_res("we::st", type_="pulumi:providers:aws"), urn=urn)
    evaluate(
        [_res("a", provider=urn)],
        [policy],
        _settings([policy], EnforcementLevel.MANDATORY),
        "p",
        "dev",
        providers=[provider],
    )
    assert seen["args"][0].provider is None  # four "::": read as <provider urn>::<id>, as the engine writes it


def test_an_async_policy_is_awaited():
    async def validate(args, report):
        report("late")

    policy = ResourceValidationPolicy("async", "awaits", validate=validate)
    found = evaluate([_res("a")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    assert [v.message for v in found] == ["late"]


def test_a_finding_carries_the_fix_and_where_the_resource_was_declared():
    policy = ResourceValidationPolicy(
        "fixable", "x", validate=lambda a, r: r("m", "urn:ignored"), remediation_steps="do X"
    )
    located = dataclasses.replace(_res("a"), source=("/src/main.py", 7))
    (v,) = evaluate([located], [policy], _settings([policy], EnforcementLevel.ADVISORY), "p", "dev")
    assert v == Violation("fixable", "advisory", located.urn, located.type, "a", "m", "do X", None, ("/src/main.py", 7))
    plain = ResourceValidationPolicy("plain", "x", validate=lambda a, r: r("m"))
    (v,) = evaluate([_res("a")], [plain], _settings([plain], EnforcementLevel.ADVISORY), "p", "dev")
    assert (v.remediation, v.source, v.waived, v.baselined) == ("", None, None, False)


@pytest.mark.parametrize("message", [3, ["m"]])
def test_a_message_that_is_not_a_string_is_a_pack_defect(message):
    policy = ResourceValidationPolicy("bad", "x", validate=lambda a, r: r(message))
    with pytest.raises(PolicyCrash) as err:
        evaluate([_res("a")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    assert (
        str(err.value)
        == "policy bad failed on urn:pulumi:dev::p::aws:sqs/queue:Queue::a: Expected message to be a string"
    )


def test_an_empty_message_is_reported_as_given():
    policy = ResourceValidationPolicy("empty", "x", validate=lambda a, r: r(""))
    assert [
        v.message for v in evaluate([_res("a")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    ] == [""]


def test_a_stack_finding_about_an_unknown_urn_is_about_the_stack():
    def validate(args, report):
        report("about nothing", "urn:pulumi:dev::p::t::gone")
        report("about the source", "urn:pulumi:dev::p::aws:sqs/queue:Queue::a")

    policy = StackValidationPolicy("stacky", "x", validate=validate)
    located = dataclasses.replace(_res("a"), source=("/src/main.py", 3))
    found = evaluate([located], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    assert [(v.urn, v.type, v.name, v.source) for v in found] == [
        ("urn:pulumi:dev::p::t::gone", "pulumi:pulumi:Stack", "p-dev", None),
        (located.urn, located.type, "a", ("/src/main.py", 3)),
    ]


WAIVABLE = PolicyConfigSchema({"waivers": {"type": "array"}, "limit": {"type": "integer"}})


def test_waivers_mark_findings_and_are_not_passed_to_the_policy():
    seen: dict = {}

    def validate(args, report):
        seen.setdefault("config", []).append(args.get_config())
        report("too big")

    policy = ResourceValidationPolicy("sized", "x", validate=validate, config_schema=WAIVABLE)
    waivers = [
        {"resource": "a", "reason": "accepted"},
        {"resource": "b", "reason": "was fine", "expires": "2000-01-02"},
    ]
    settings = {"sized": PolicySettings(EnforcementLevel.MANDATORY, {"waivers": waivers})}
    a, b, c = evaluate([_res("a"), _res("b"), _res("c")], [policy], settings, "p", "dev")
    assert seen["config"] == [{}, {}, {}]
    assert a.waived == Waiver("a", "accepted", None) and a.message == "too big"
    assert b.waived is None and b.message == "too big (waiver expired on 2000-01-02: was fine)"
    assert c.waived is None and c.message == "too big"
    settings = {"sized": PolicySettings(EnforcementLevel.MANDATORY, {"waivers": waivers, "limit": 2})}
    seen.clear()
    evaluate([_res("a")], [policy], settings, "p", "dev")
    assert seen["config"] == [{"limit": 2}]


def test_a_stack_policy_gets_its_config_without_waivers_and_its_findings_are_waived_by_urn_name():
    seen: dict = {}

    def validate(args, report):
        seen.setdefault("config", []).append(args.get_config())
        report("stack-wide")

    policy = StackValidationPolicy("stacky", "x", validate=validate, config_schema=WAIVABLE)
    settings = {
        "stacky": PolicySettings(EnforcementLevel.MANDATORY, {"waivers": [{"resource": "p-dev", "reason": "ok"}]})
    }
    (v,) = evaluate([], [policy], settings, "p", "dev")
    assert v.waived == Waiver("p-dev", "ok", None)
    settings = {"stacky": PolicySettings(EnforcementLevel.MANDATORY, {"limit": 1})}
    evaluate([], [policy], settings, "p", "dev")
    assert seen["config"] == [{}, {"limit": 1}]


def test_not_applicable_skips_only_that_policy_on_that_resource():
    def skip_a(args, report):
        if args.name == "a":
            args.not_applicable()
        report("first")

    first = ResourceValidationPolicy("first", "x", validate=skip_a)
    second = ResourceValidationPolicy("second", "x", validate=lambda a, r: r("second"))
    found = evaluate(
        [_res("a"), _res("b")], [first, second], _settings([first, second], EnforcementLevel.MANDATORY), "p", "dev"
    )
    assert [(v.policy, v.name) for v in found] == [("second", "a"), ("first", "b"), ("second", "b")]


def test_stack_policies_not_applicable_unknown_and_crashing():
    def not_for_me(args, report):
        args.not_applicable()

    def unknown(args, report):
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["stack", "value"])

    skipped = StackValidationPolicy("skipped", "x", validate=not_for_me)
    blind = StackValidationPolicy("blind", "x", validate=unknown)
    after = StackValidationPolicy("after", "x", validate=lambda a, r: r("still judged"))
    policies = [skipped, blind, after]
    found = evaluate([_res("a")], policies, _settings(policies, EnforcementLevel.MANDATORY), "p", "dev")
    assert found == [
        Violation(
            "blind",
            "advisory",
            stack_urn("p", "dev"),
            "pulumi:pulumi:Stack",
            "p-dev",
            "can't run policy 'blind' during preview: string value at .stack.value can't be known during preview",
        ),
        Violation("after", "mandatory", stack_urn("p", "dev"), "pulumi:pulumi:Stack", "p-dev", "still judged"),
    ]

    def boom(args, report):
        raise ValueError("bad")

    crash = StackValidationPolicy("crash", "x", validate=boom)
    with pytest.raises(PolicyCrash) as err:
        evaluate([], [crash], _settings([crash], EnforcementLevel.ADVISORY), "p", "dev")
    assert str(err.value) == "policy crash failed on the stack: bad"
    assert isinstance(err.value.__cause__, ValueError)
    # Disabled: never called.
    assert evaluate([], [crash], _settings([crash], EnforcementLevel.DISABLED), "p", "dev") == []


def test_a_resource_unknown_note_names_the_resource():
    def unknown(args, report):
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["size"])

    policy = ResourceValidationPolicy("blind", "x", validate=unknown)
    (v,) = evaluate([_res("a")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    assert v == Violation(
        "blind",
        "advisory",
        _res("a").urn,
        "aws:sqs/queue:Queue",
        "a",
        "can't run policy 'blind' during preview: string value at .size can't be known during preview",
    )


def test_a_resource_crash_keeps_its_cause():
    def boom(args, report):
        raise KeyError("oops")

    policy = ResourceValidationPolicy("boom", "x", validate=boom)
    with pytest.raises(PolicyCrash) as err:
        evaluate([_res("a")], [policy], _settings([policy], EnforcementLevel.MANDATORY), "p", "dev")
    assert str(err.value) == "policy boom failed on urn:pulumi:dev::p::aws:sqs/queue:Queue::a: 'oops'"
    assert isinstance(err.value.__cause__, KeyError)


def test_what_a_stack_policy_sees_of_each_resource():
    captured: dict = {}

    def validate(args, report):
        captured["resources"] = {r.name: r for r in args.resources}

    policy = StackValidationPolicy("look", "x", validate=validate)
    bare = dataclasses.replace(_res("bare", inputs={"k": "in"}), outputs={})
    child = dataclasses.replace(
        _res(
            "child",
            parent="urn:elsewhere",
            deps=["urn:elsewhere", bare.urn],
            prop_deps={"x": ("urn:elsewhere", bare.urn)},
        ),
        protect=True,
    )
    provider = dataclasses.replace(_res("west", type_="pulumi:providers:aws", inputs={"region": "r"}), urn=PROVIDER_URN)
    child = dataclasses.replace(child, provider=PROVIDER_URN)
    evaluate([bare, child], [policy], _settings([policy], EnforcementLevel.ADVISORY), "p", "dev", providers=[provider])
    got = captured["resources"]
    root = got["p-dev"]
    assert (root.resource_type, root.urn, root.parent, root.provider, root.dependencies) == (
        "pulumi:pulumi:Stack",
        stack_urn("p", "dev"),
        None,
        None,
        [],
    )
    assert (root.opts.protect, root.opts.ignore_changes, root.opts.delete_before_replace, root.opts.parent) == (
        False,
        [],
        None,
        None,
    )
    assert (root.opts.aliases, root.opts.additional_secret_outputs, root.property_dependencies) == ([], [], {})
    timeouts = root.opts.custom_timeouts
    assert (timeouts.create_seconds, timeouts.update_seconds, timeouts.delete_seconds) == (0, 0, 0)
    assert dict(root.props) == {}
    assert got["bare"].props["k"] == "in"
    assert got["bare"].parent is root
    assert got["child"].parent is None  # a parent the stack does not hold
    assert [d.name for d in got["child"].dependencies] == ["bare"]
    assert {k: [d.name for d in v] for k, v in got["child"].property_dependencies.items()} == {"x": ["bare"]}
    assert got["child"].opts.protect is True
    assert got["child"].provider.urn == PROVIDER_URN and got["bare"].provider is None
    assert got["child"].props["arn"] == "arn:child"
    assert list(got) == ["p-dev", "bare", "child"]


def test_waivers_that_cover_no_finding_are_named_in_order():
    first = {"waivers": [{"resource": "a", "reason": "r1"}, {"resource": "gone", "reason": "r2"}]}
    second = {"waivers": [{"resource": "b*", "reason": "r3"}]}
    settings = {
        "first": PolicySettings(EnforcementLevel.MANDATORY, first),
        "second": PolicySettings(EnforcementLevel.MANDATORY, second),
        "plain": PolicySettings(EnforcementLevel.MANDATORY, {}),
    }
    a = Violation("first", "mandatory", "urn:pulumi:dev::p::t::a", "t", "a", "m")
    b_of_first = Violation("first", "mandatory", "urn:pulumi:dev::p::t::bee", "t", "bee", "m")
    assert unmatched_waivers(settings, [a, b_of_first]) == [
        UnmatchedWaiver("first", Waiver("gone", "r2")),
        UnmatchedWaiver("second", Waiver("b*", "r3")),
    ]
    assert unmatched_waivers(settings, [a], not_judged={"first"}) == [UnmatchedWaiver("second", Waiver("b*", "r3"))]
    b = Violation("second", "mandatory", "urn:pulumi:dev::p::t::bee", "t", "bee", "m")
    assert unmatched_waivers(settings, [b], not_judged={"first"}) == []
    assert unmatched_waivers(settings, [a, b]) == [UnmatchedWaiver("first", Waiver("gone", "r2"))]


def test_a_finding_counts_unless_waived_or_baselined():
    v = Violation("p", "mandatory", "u", "t", "n", "m")
    assert v.counts
    assert not dataclasses.replace(v, baselined=True).counts
    assert not dataclasses.replace(v, waived=Waiver("n", "r")).counts


def test_a_bad_waiver_given_to_evaluate_names_its_policy():
    from policies.rules.waivers import WaiverError

    policy = ResourceValidationPolicy("sized", "x", validate=lambda a, r: r("m"), config_schema=WAIVABLE)
    settings = {"sized": PolicySettings(EnforcementLevel.MANDATORY, {"waivers": [{"resource": "a"}]})}
    with pytest.raises(WaiverError) as err:
        evaluate([_res("a")], [policy], settings, "p", "dev")
    assert str(err.value).startswith("policy config: sized: waivers[0]: ")


def test_a_policy_may_change_its_config_without_changing_the_settings():
    def greedy(args, report):
        args.get_config()["limit"] = 99

    policy = ResourceValidationPolicy("greedy", "x", validate=greedy, config_schema=WAIVABLE)
    stack = StackValidationPolicy("greedy-stack", "x", validate=greedy, config_schema=WAIVABLE)
    settings = {
        "greedy": PolicySettings(EnforcementLevel.MANDATORY, {"limit": 1}),
        "greedy-stack": PolicySettings(EnforcementLevel.MANDATORY, {"limit": 2}),
    }
    evaluate([_res("a")], [policy, stack], settings, "p", "dev")
    assert (settings["greedy"].properties, settings["greedy-stack"].properties) == ({"limit": 1}, {"limit": 2})


def test_a_bad_waiver_given_to_unmatched_waivers_names_its_policy():
    from policies.rules.waivers import WaiverError

    settings = {"sized": PolicySettings(EnforcementLevel.MANDATORY, {"waivers": [{"reason": "r"}]})}
    with pytest.raises(WaiverError) as err:
        unmatched_waivers(settings, [])
    assert str(err.value).startswith("policy config: sized: waivers[0]: ")

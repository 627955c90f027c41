"""The shape every rule shares and the property readers rules use (policies/rules/_core.py): unknowns,
plain data, the small readers, the Rule value and its pulumi_policy adapters, and the stack-rule joins."""

import base64
import datetime
import gzip
from types import SimpleNamespace

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy
from pulumi_policy.secret import Secret

from policies.rules import _core
from policies.rules._core import (
    DOCS_BASE_URL,
    UNKNOWN,
    Rule,
    StackResource,
    as_int,
    decoded_texts,
    falsy,
    get,
    is_world_cidr,
    items,
    json_value,
    known,
    lb_types,
    linked,
    plain,
    resource_keys,
    stack_resource,
    truthy,
    type_set,
)

# ----------------------------------------------------------------------------- unknowns and plain data


def test_unknown_is_one_falsy_value_that_says_what_it_is():
    assert type(UNKNOWN)() is UNKNOWN
    assert repr(UNKNOWN) == "UNKNOWN"
    assert bool(UNKNOWN) is False


def test_plain_keeps_scalars_and_turns_unknown_markers_into_unknown():
    assert plain("x") == "x"
    assert plain(b"\x00") == b"\x00"
    assert plain(UNKNOWN_STRING_VALUE) is UNKNOWN
    assert plain(7) == 7
    assert plain(None) is None


def test_plain_reads_through_the_unknown_checking_proxy():
    proxy = unknown_checking_proxy({"a": UNKNOWN_NUMBER_VALUE, "b": [UNKNOWN_STRING_VALUE, 2], "c": ("x",)})
    assert plain(proxy) == {"a": UNKNOWN, "b": [UNKNOWN, 2], "c": ["x"]}


def test_plain_unwraps_secrets_and_nothing_else_with_a_value():
    assert plain(Secret({"k": [Secret("v")]})) == {"k": ["v"]}
    assert plain({"s": Secret(UNKNOWN_STRING_VALUE)}) == {"s": UNKNOWN}
    empty = Secret(None)
    assert plain(empty) is empty
    other = SimpleNamespace(value="inner")
    assert plain(other) is other


def test_known():
    assert known(0) and known("") and known(False)
    assert not known(None)
    assert not known(UNKNOWN)


def test_get_walks_keys_and_indexes():
    data = {"a": [{"b": 1}, {"b": None}], "u": UNKNOWN}
    assert get(data, "a", 0, "b") == 1
    assert get(data, "a", 1, "b", default="d") == "d"
    assert get(data, "a", 2, "b", default="d") == "d"
    assert get(data, "a", "b", default="d") == "d"
    assert get(data, "missing", default="d") == "d"
    assert get(data, "a", 0, 0, default="d") == "d"
    assert get(data, "u", "x", default="d") is UNKNOWN
    assert get(data, "u", default="d") is UNKNOWN
    assert get(UNKNOWN, "x") is UNKNOWN
    assert get(data, "missing") is None
    assert get(data) == data


def test_items():
    assert items([1, 2]) == [1, 2]
    assert items({"a": 1}) == [{"a": 1}]
    assert items(None) == []
    assert items(UNKNOWN) == []
    assert items("ab") == []


@pytest.mark.parametrize(
    ("value", "is_true", "is_false"),
    [
        (True, True, False),
        (False, False, True),
        (" TRUE ", True, False),
        ("true", True, False),
        (" False ", False, True),
        ("yes", False, False),
        (1, False, False),
        (0, False, False),
        (None, False, False),
        (UNKNOWN, False, False),
    ],
)
def test_truthy_and_falsy_only_believe_booleans_and_their_spelling(value, is_true, is_false):
    assert truthy(value) is is_true
    assert falsy(value) is is_false


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        (0, 0),
        (-3, -3),
        (4.0, 4),
        (4.5, None),
        (" 12 ", 12),
        ("-7", -7),
        ("--7", None),
        ("7-", None),
        ("X7", None),
        ("²", None),  # a digit int() does not read
        ("١٢", 12),  # decimal digits of another script: int() reads them
        ("1.5", None),
        ("x", None),
        ("", None),
        (True, None),
        (False, None),
        (None, None),
        (UNKNOWN, None),
    ],
)
def test_as_int(value, expected):
    result = as_int(value)
    assert result == expected
    assert result is None or type(result) is int


def test_json_value():
    assert json_value({"a": 1}) == {"a": 1}
    assert json_value([1]) == [1]
    assert json_value('{"a": [1]}') == {"a": [1]}
    assert json_value("{not json") is None
    assert json_value(3) is None
    assert json_value(None) is None


def test_decoded_texts_reads_plain_base64_and_gzipped_user_data():
    script = "#!/bin/sh\nmkfs.ext4 /dev/xvdb\n"
    assert decoded_texts(script) == [script]
    encoded = base64.b64encode(script.encode()).decode()
    assert decoded_texts(encoded) == [encoded, script]
    # Line breaks inside the base64 text (as `base64` wraps it) do not stop the decoding.
    wrapped = encoded[:8] + "\n" + encoded[8:]
    assert decoded_texts(wrapped) == [wrapped, script]
    zipped = base64.b64encode(gzip.compress(script.encode())).decode()
    assert decoded_texts(zipped) == [zipped, script]


def test_decoded_texts_keeps_only_the_text_when_nothing_decodes():
    assert decoded_texts("") == []
    assert decoded_texts(None) == []
    assert decoded_texts(b"abcd") == []
    assert decoded_texts("abc") == ["abc"]  # not a multiple of 4
    assert decoded_texts("ab!d") == ["ab!d"]  # not base64
    broken_gzip = base64.b64encode(b"\x1f\x8b" + b"not gzip at all").decode()
    assert decoded_texts(broken_gzip) == [broken_gzip]
    not_utf8 = base64.b64encode(b"\xff\xfe\xfd").decode()
    assert decoded_texts(not_utf8) == [not_utf8]
    assert decoded_texts("    ") == ["    "]


def test_decoded_texts_takes_strict_base64_only():
    script = "#!/bin/sh\nmkfs.ext4 /dev/xvdb\n"
    encoded = base64.b64encode(script.encode()).decode()
    assert len(encoded) % 4 == 0
    # b64decode would drop the "!" (validate=False) or accept the excess padding ("QUJD=" is "ABC").
    spoiled = encoded[:4] + "!!!!" + encoded[4:]
    assert decoded_texts(spoiled) == [spoiled]
    assert decoded_texts("QUJD=") == ["QUJD="]
    assert decoded_texts("QUJD") == ["QUJD", "ABC"]


def test_decoded_texts_survives_damaged_or_empty_gzip():
    damaged = base64.b64encode(gzip.compress(b"echo hi")[:10] + b"\xff" * 20).decode()
    assert decoded_texts(damaged) == [damaged]
    truncated = base64.b64encode(gzip.compress(b"echo hi")[:-6]).decode()
    assert decoded_texts(truncated) == [truncated]
    empty = base64.b64encode(gzip.compress(b"")).decode()
    assert decoded_texts(empty) == [empty]


@pytest.mark.parametrize(
    ("cidr", "world"),
    [
        ("0.0.0.0/0", True),
        (" ::/0 ", True),
        ("10.0.0.0/0", True),
        ("0.0.0.0/1", False),
        ("10.0.0.0/8", False),
        ("not a cidr", False),
        (None, False),
        (0, False),
    ],
)
def test_is_world_cidr(cidr, world):
    assert is_world_cidr(cidr) is world


def test_type_set_and_lb_types():
    assert type_set("a", "b") == frozenset({"a", "b"})
    assert lb_types("TargetGroup") == {
        "aws:lb/targetGroup:TargetGroup",
        "aws:alb/targetGroup:TargetGroup",
        "aws:applicationloadbalancing/targetGroup:TargetGroup",
        "aws:elasticloadbalancingv2/targetGroup:TargetGroup",
    }


# ----------------------------------------------------------------------------- the Rule value


def _check(resource_type, props, config):
    return [f"{resource_type} {props.get('p')} {config.get('knob')}"]


def _stack_check(resources, config):
    return [(r.urn, f"{r.name} {config.get('knob')}") for r in resources if r.resource_type != "pulumi:pulumi:Stack"]


def _rule(**overrides):
    fields = {
        "name": "test-rule",
        "description": "d",
        "severity": Severity.LOW,
        "enforcement": EnforcementLevel.ADVISORY,
        "remediation": "r",
        "why": "w",
        "resource_types": type_set("t:m:T"),
        "check": _check,
        "config": {"knob": {"type": "integer", "default": 1, "description": "k"}, "free": {"type": "string"}},
        "tags": ("a", "b"),
    }
    fields.update(overrides)
    return Rule(**fields)


def test_a_rule_takes_exactly_one_check():
    with pytest.raises(TypeError, match=r"^rule test-rule: give exactly one of check and stack_check$"):
        _rule(check=None)
    with pytest.raises(TypeError, match=r"^rule test-rule: give exactly one of check and stack_check$"):
        _rule(stack_check=_stack_check)
    assert not _rule().is_stack
    assert _rule(check=None, stack_check=_stack_check).is_stack


def test_settings_overlay_the_config_on_the_defaults_without_the_engine_keys():
    rule = _rule()
    assert rule.settings() == {"knob": 1}
    assert rule.settings(None) == {"knob": 1}
    config = {"knob": 3, "other": "x", "enforcementLevel": "mandatory", "waivers": []}
    assert rule.settings(config) == {"knob": 3, "other": "x"}


def test_doc_url_and_config_schema():
    rule = _rule()
    assert rule.doc_url == f"{DOCS_BASE_URL}test-rule.md"
    assert DOCS_BASE_URL == "https://github.com/stateless-stack/stateless-stack/blob/main/docs/rules/"
    schema = rule.config_schema()
    assert schema == {
        "knob": {"type": "integer", "default": 1, "description": "k"},
        "free": {"type": "string"},
        "waivers": _core._waivers.WAIVERS_SCHEMA,
    }
    schema["knob"]["default"] = 9
    schema["waivers"]["type"] = "object"
    assert rule.config["knob"]["default"] == 1
    assert _core._waivers.WAIVERS_SCHEMA["type"] == "array"


def test_applies_to_a_set_a_predicate_or_everything():
    assert _rule().applies_to("t:m:T")
    assert not _rule().applies_to("t:m:U")
    assert _rule(resource_types=lambda t: t.endswith("U")).applies_to("t:m:U")
    assert not _rule(resource_types=lambda t: t.endswith("U")).applies_to("t:m:T")
    assert _rule(resource_types=None).applies_to("anything")


def test_evaluate_runs_the_check_on_plain_props_and_settings():
    rule = _rule()
    assert rule.evaluate("t:m:T", unknown_checking_proxy({"p": "v"}), {"knob": 2}) == ["t:m:T v 2"]
    assert rule.evaluate("t:m:T", {"p": UNKNOWN_STRING_VALUE}) == ["t:m:T UNKNOWN 1"]
    assert rule.evaluate("t:m:U", {"p": "v"}) == []
    stack_rule = _rule(check=None, stack_check=_stack_check)
    assert stack_rule.evaluate("t:m:T", {"p": "v"}) == []


def test_evaluate_stack():
    resource = StackResource("t:m:T", "urn:x", "x", {})
    assert _rule(check=None, stack_check=_stack_check).evaluate_stack(iter([resource]), {"knob": 5}) == [
        ("urn:x", "x 5")
    ]
    assert _rule(check=None, stack_check=_stack_check).evaluate_stack([resource]) == [("urn:x", "x 1")]
    assert _rule().evaluate_stack([resource]) == []


def test_policy_carries_the_rule_metadata():
    policy = _rule(enforcement=EnforcementLevel.MANDATORY, severity=Severity.HIGH).policy()
    assert isinstance(policy, ResourceValidationPolicy)
    assert policy.name == "test-rule"
    assert policy.description == "d"
    assert policy.enforcement_level == EnforcementLevel.MANDATORY
    assert policy.severity == Severity.HIGH
    assert policy.remediation_steps == "r"
    assert policy.url == f"{DOCS_BASE_URL}test-rule.md"
    assert policy.tags == ["a", "b"]
    assert policy.config_schema is not None
    assert set(policy.config_schema.properties) == {"knob", "free", "waivers"}
    assert _rule(tags=()).policy().tags is None
    stack_policy = _rule(check=None, stack_check=_stack_check).policy()
    assert isinstance(stack_policy, StackValidationPolicy)
    assert stack_policy.name == "test-rule"
    assert stack_policy.enforcement_level == EnforcementLevel.ADVISORY
    assert stack_policy.url == f"{DOCS_BASE_URL}test-rule.md"


def _opts():
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def via_policy(rule, resource_type, props, config=None):
    """The resource adapter with the policy config as the CLI passes it (knobs and waivers together)."""
    reported = []
    args = ResourceValidationArgs(
        resource_type, unknown_checking_proxy(props), f"urn:pulumi:t::p::{resource_type}::r", "r", _opts(), None, config
    )
    rule.policy().validate(args, lambda message, urn=None: reported.append(message))
    return reported


def via_stack_policy(rule, resources, config=None):
    objs = [
        PolicyResource(
            t, unknown_checking_proxy(props), f"urn:pulumi:t::p::{t}::{name}", name, _opts(), None, None, [], {}
        )
        for t, name, props in resources
    ]
    reported = []
    rule.policy().validate(StackValidationArgs(objs, config), lambda message, urn=None: reported.append((urn, message)))
    return reported


def test_resource_adapter_reports_each_finding_unless_waived(monkeypatch):
    monkeypatch.setattr(_core._waivers, "today", lambda: datetime.date(2030, 1, 2))
    rule = _rule(check=lambda t, p, c: ["one", "two"])
    assert via_policy(rule, "t:m:T", {}) == ["one", "two"]
    assert via_policy(rule, "t:m:U", {}) == []
    live = {"waivers": [{"resource": "r", "reason": "accepted", "expires": "2030-01-02"}]}
    assert via_policy(rule, "t:m:T", {}, live) == []
    expired = {"waivers": [{"resource": "r", "reason": "accepted", "expires": "2030-01-01"}]}
    assert via_policy(rule, "t:m:T", {}, expired) == [
        "one (waiver expired on 2030-01-01: accepted)",
        "two (waiver expired on 2030-01-01: accepted)",
    ]
    bad = {"waivers": [{"resource": "r"}]}
    with pytest.raises(_core._waivers.WaiverError, match=r"^policy config: test-rule: waivers\[0\]: "):
        via_policy(rule, "t:m:T", {}, bad)


def test_stack_adapter_waives_stack_findings_by_the_stacks_name(monkeypatch):
    monkeypatch.setattr(_core._waivers, "today", lambda: datetime.date(2030, 1, 2))

    def check(resources, config):
        return [(None, "about the stack"), (resources[1].urn, "about res")]

    rule = _rule(check=None, stack_check=check)
    stack = [("pulumi:pulumi:Stack", "proj-dev", {}), ("t:m:T", "res", {})]
    assert via_stack_policy(rule, stack) == [(None, "about the stack"), ("urn:pulumi:t::p::t:m:T::res", "about res")]
    waived = {"waivers": [{"resource": "proj-dev", "reason": "ok"}]}
    assert via_stack_policy(rule, stack, waived) == [("urn:pulumi:t::p::t:m:T::res", "about res")]
    expired = {"waivers": [{"resource": "res", "reason": "ok", "expires": "2030-01-01"}]}
    assert via_stack_policy(rule, stack, expired) == [
        (None, "about the stack"),
        ("urn:pulumi:t::p::t:m:T::res", "about res (waiver expired on 2030-01-01: ok)"),
    ]
    # Without a stack resource a stack finding has an empty name: only a catch-all waiver covers it.
    lone = [("t:m:T", "res", {})]
    about_stack = _rule(check=None, stack_check=lambda r, c: [(None, "m")])
    assert via_stack_policy(about_stack, lone, {"waivers": [{"resource": "res", "reason": "r"}]}) == [(None, "m")]
    assert via_stack_policy(about_stack, lone, {"waivers": [{"resource": "?*", "reason": "r"}]}) == [(None, "m")]
    assert via_stack_policy(about_stack, lone, {"waivers": [{"resource": "*", "reason": "r"}]}) == []
    with pytest.raises(_core._waivers.WaiverError, match=r"^policy config: test-rule: waivers\[0\]: "):
        via_stack_policy(rule, stack, {"waivers": [{"resource": "res"}]})


# ----------------------------------------------------------------------------- stack-rule joins


def test_resource_keys_are_the_urn_and_the_named_string_properties():
    r = StackResource("t", "urn:r", "r", {"arn": "arn:x", "id": "", "name": 5, "url": "u"})
    assert resource_keys(r) == {"urn:r"}
    assert resource_keys(r, "arn", "id", "name", "missing") == {"urn:r", "arn:x"}
    assert resource_keys(r, "arn", "url") == {"urn:r", "arn:x", "u"}


def test_linked_prefers_dependencies_then_the_value_then_the_normalized_value():
    a = StackResource("t", "urn:a", "a", {"arn": "arn:a"})
    b = StackResource("t", "urn:b", "b", {"arn": "arn:b"})
    by_key = {"urn:a": a, "arn:a": a, "urn:b": b, "arn:b": b, "b": b}
    user = StackResource("u", "urn:u", "u", {"ref": "arn:b"}, property_dependencies={"ref": ("urn:x", "urn:a")})
    assert linked(user, "ref", by_key) is a
    by_value = StackResource("u", "urn:u", "u", {"ref": "arn:b"}, property_dependencies={"other": ("urn:a",)})
    assert linked(by_value, "ref", by_key) is b
    partial = StackResource("u", "urn:u", "u", {"ref": "prefix/b"})
    assert linked(partial, "ref", by_key) is None
    assert linked(partial, "ref", by_key, lambda v: v.split("/")[-1]) is b
    assert linked(StackResource("u", "urn:u", "u", {"ref": ["arn:a"]}), "ref", by_key, str) is None
    assert linked(StackResource("u", "urn:u", "u", {}), "ref", by_key) is None
    assert linked(StackResource("u", "urn:u", "u", {"ref": "nothing"}), "ref", by_key, str.upper) is None


def test_stack_resource_reads_a_policy_resource():
    parent = SimpleNamespace(urn="urn:parent")
    dep = SimpleNamespace(urn="urn:dep")
    resource = SimpleNamespace(
        resource_type="t:m:T",
        urn="urn:r",
        name="r",
        props=unknown_checking_proxy({"a": UNKNOWN_STRING_VALUE, "b": 1}),
        parent=parent,
        dependencies=[dep],
        property_dependencies={"a": [dep], "b": []},
        opts=SimpleNamespace(ignore_changes=["tags", "desiredSize"]),
    )
    assert stack_resource(resource) == StackResource(
        resource_type="t:m:T",
        urn="urn:r",
        name="r",
        props={"a": UNKNOWN, "b": 1},
        parent="urn:parent",
        dependencies=("urn:dep",),
        property_dependencies={"a": ("urn:dep",), "b": ()},
        ignore_changes=("tags", "desiredSize"),
    )
    bare = SimpleNamespace(resource_type="t:m:T", urn="urn:r", name="r", props={})
    assert stack_resource(bare) == StackResource("t:m:T", "urn:r", "r", {})
    nones = SimpleNamespace(
        resource_type="t:m:T",
        urn="urn:r",
        name="r",
        props={},
        parent=None,
        dependencies=None,
        property_dependencies=None,
        opts=SimpleNamespace(ignore_changes=None),
    )
    assert stack_resource(nones) == StackResource("t:m:T", "urn:r", "r", {})

"""Policy config reconciliation: schema defaults, `all`, per-policy levels and properties, validation."""

import json
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from policies.gate.config import PolicyConfigError, read_policy_config, reconcile
from policies.pack import PACK_ENFORCEMENT, POLICIES


def _settings(given):
    return reconcile(POLICIES, PACK_ENFORCEMENT, given, "policy.test.json")


def test_defaults_come_from_the_rules_and_their_schemas():
    settings = _settings(None)
    assert settings["no-sticky-sessions"].enforcement == EnforcementLevel.MANDATORY
    assert settings["rds-multi-az"].enforcement == EnforcementLevel.ADVISORY
    assert settings["rds-backups-enabled"].properties == {"minRetentionDays": 1}
    assert settings["no-sticky-sessions"].properties == {}


def test_all_then_per_policy_overrides():
    settings = _settings(
        {"all": "advisory", "rds-multi-az": "mandatory", "s3-versioning": {"enforcementLevel": "disabled"}}
    )
    assert settings["no-sticky-sessions"].enforcement == EnforcementLevel.ADVISORY
    assert settings["rds-multi-az"].enforcement == EnforcementLevel.MANDATORY
    assert settings["s3-versioning"].enforcement == EnforcementLevel.DISABLED
    assert (
        _settings({"all": {"enforcementLevel": "mandatory"}})["rds-multi-az"].enforcement == EnforcementLevel.MANDATORY
    )


def test_properties_merge_over_defaults_and_keep_the_level():
    settings = _settings({"rds-backups-enabled": {"minRetentionDays": 14}})
    assert settings["rds-backups-enabled"].properties == {"minRetentionDays": 14}
    assert settings["rds-backups-enabled"].enforcement == EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ({"rds-multi-az": "blocking"}, "policy.test.json: rds-multi-az: enforcement level 'blocking' is not one of"),
        ({"all": "strict"}, "policy.test.json: all: enforcement level 'strict'"),
        ({"all": {"enforcementLevel": "advisory", "x": 1}}, "'all' only takes enforcementLevel"),
        ({"no-such-rule": "advisory"}, "no policy named 'no-such-rule' in this pack"),
        (
            {"rds-backups-enabled": {"minRetentionDays": "seven"}},
            "rds-backups-enabled.minRetentionDays: 'seven' is not",
        ),
        ({"rds-backups-enabled": {"minRetentionDays": 0}}, "rds-backups-enabled.minRetentionDays: 0 is less than"),
        ({"rds-backups-enabled": {"retention": 3}}, "unknown config retention (this policy takes: minRetentionDays)"),
        ({"no-sticky-sessions": {"anything": True}}, "this policy takes: none"),
        ({"rds-multi-az": 3}, "expected an enforcement level or an object"),
    ],
)
def test_bad_policy_config_is_rejected_with_a_specific_message(given, fragment):
    with pytest.raises(PolicyConfigError) as err:
        _settings(given)
    assert fragment in str(err.value)


def test_reading_files(tmp_path):
    good = tmp_path / "policy.json"
    good.write_text(json.dumps({"all": "advisory"}))
    assert read_policy_config(good) == {"all": "advisory"}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PolicyConfigError, match="bad.json: not valid JSON"):
        read_policy_config(bad)
    array = tmp_path / "array.json"
    array.write_text("[]")
    with pytest.raises(PolicyConfigError, match="JSON object keyed by policy name"):
        read_policy_config(array)


STACKS_DIR = Path(__file__).resolve().parents[4] / "stacks"
POLICY_CONFIG_STACKS = sorted(
    {"dev", "staging", "prod"} | {p.name[len("policy.") : -len(".json")] for p in STACKS_DIR.glob("policy.*.json")}
)


@pytest.mark.parametrize("stack", POLICY_CONFIG_STACKS)
def test_repository_policy_configs_are_valid(stack):
    path = STACKS_DIR / f"policy.{stack}.json"
    settings = reconcile(POLICIES, PACK_ENFORCEMENT, read_policy_config(path), str(path))
    demanded = {"rds-multi-az", "rds-deletion-protection", "alb-https-redirect", "elasticache-automatic-failover"}
    levels = {name: settings[name].enforcement for name in demanded}
    if stack == "prod":
        assert set(levels.values()) == {EnforcementLevel.MANDATORY}
    if stack == "dev":
        assert set(levels.values()) == {EnforcementLevel.ADVISORY}


# Small policies of our own, so that each step of the reconciliation is seen on its own.

from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy  # noqa: E402

from policies.gate.config import PolicySettings  # noqa: E402
from policies.rules.waivers import WAIVERS_SCHEMA  # noqa: E402

LEVEL_NAMES = "advisory, mandatory, remediate, disabled"


def _policy(name, level=None, properties=None, required=None):
    schema = None if properties is None else PolicyConfigSchema(properties, required)
    return ResourceValidationPolicy(name, "test", lambda args, report: None, level, schema)


TUNED = _policy(
    "tuned",
    EnforcementLevel.ADVISORY,
    {
        "limit": {"type": "integer", "minimum": 1, "default": 3},
        "names": {"type": "array", "items": {"type": "string"}},
        "mode": {"type": "string"},
        "waivers": WAIVERS_SCHEMA,
    },
)
PLAIN = _policy("plain")  # no level of its own, no schema
STRICT = _policy(
    "strict", EnforcementLevel.MANDATORY, {"zone": {"type": "string"}, "tier": {"type": "string"}}, ["zone"]
)
OURS = [TUNED, PLAIN, STRICT]


def _ours(given, source="policy.test.json"):
    return reconcile(OURS, EnforcementLevel.REMEDIATE, given, source)


def _refused(given, source="policy.test.json"):
    with pytest.raises(PolicyConfigError) as err:
        _ours(given, source)
    return str(err.value)


@pytest.mark.parametrize("given", [None, {}])
def test_without_config_each_policy_keeps_its_level_or_the_packs_and_its_defaults(given):
    assert _ours(given) == {
        "tuned": PolicySettings(EnforcementLevel.ADVISORY, {"limit": 3}),
        "plain": PolicySettings(EnforcementLevel.REMEDIATE, {}),
        "strict": PolicySettings(EnforcementLevel.MANDATORY, {}),
    }


def test_all_sets_every_level_and_keeps_the_properties():
    assert _ours({"all": "disabled"}) == {
        "tuned": PolicySettings(EnforcementLevel.DISABLED, {"limit": 3}),
        "plain": PolicySettings(EnforcementLevel.DISABLED, {}),
        "strict": PolicySettings(EnforcementLevel.DISABLED, {}),
    }
    assert _ours({"all": {"enforcementLevel": "advisory"}})["strict"].enforcement == EnforcementLevel.ADVISORY


def test_a_policy_entry_without_a_level_keeps_the_level_all_gave_it():
    settings = _ours({"all": "mandatory", "tuned": {"limit": 5, "mode": "x"}, "plain": "advisory"})
    assert settings["tuned"] == PolicySettings(EnforcementLevel.MANDATORY, {"limit": 5, "mode": "x"})
    assert settings["plain"] == PolicySettings(EnforcementLevel.ADVISORY, {})
    assert settings["strict"] == PolicySettings(EnforcementLevel.MANDATORY, {})


def test_a_policy_without_a_schema_takes_a_level_in_an_object():
    assert _ours({"plain": {"enforcementLevel": "advisory"}})["plain"] == PolicySettings(EnforcementLevel.ADVISORY, {})


def test_a_policy_entry_with_a_level_and_properties_merges_over_the_defaults():
    settings = _ours({"tuned": {"enforcementLevel": "remediate", "names": ["a"]}})
    assert settings["tuned"] == PolicySettings(EnforcementLevel.REMEDIATE, {"limit": 3, "names": ["a"]})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tuned": "blocking"}, f"policy.test.json: tuned: enforcement level 'blocking' is not one of {LEVEL_NAMES}"),
        (
            {"tuned": {"enforcementLevel": 2}},
            f"policy.test.json: tuned: enforcement level 2 is not one of {LEVEL_NAMES}",
        ),
        ({"all": {}}, f"policy.test.json: all: enforcement level None is not one of {LEVEL_NAMES}"),
        ({"all": ["mandatory"]}, f"policy.test.json: all: enforcement level ['mandatory'] is not one of {LEVEL_NAMES}"),
        (
            {"all": {"enforcementLevel": "advisory", "b": 1, "a": 2}},
            "policy.test.json: 'all' only takes enforcementLevel, not a, b",
        ),
        ({"nope": "advisory"}, "policy.test.json: no policy named 'nope' in this pack (known: plain, strict, tuned)"),
        ({"tuned": None}, "policy.test.json: tuned: expected an enforcement level or an object, got None"),
        (
            {"tuned": {"z": 1, "y": 2}},
            "policy.test.json: tuned: unknown config y, z (this policy takes: limit, mode, names)",
        ),
        ({"plain": {"x": 1}}, "policy.test.json: plain: unknown config x (this policy takes: none)"),
        ({"tuned": {"limit": 0}}, "policy.test.json: tuned.limit: 0 is less than the minimum of 1"),
        ({"tuned": {"names": ["a", 3]}}, "policy.test.json: tuned.names.1: 3 is not of type 'string'"),
        # The first error by path: `limit` before `names`, whatever order the validator found them in.
        ({"tuned": {"names": [1], "limit": 0}}, "policy.test.json: tuned.limit: 0 is less than the minimum of 1"),
        # Sorted by path, not in the schema's order (names is declared before mode).
        ({"tuned": {"names": [1], "mode": 3}}, "policy.test.json: tuned.mode: 3 is not of type 'string'"),
        ({"strict": {"tier": "a"}}, "policy.test.json: strict: 'zone' is a required property"),
        (
            {"tuned": {"waivers": [{"resource": "db"}]}},
            "policy.test.json: tuned: waivers[0]: the waiver of 'db' has no reason: say why this finding is accepted",
        ),
    ],
)
def test_each_refusal_names_the_file_the_policy_and_the_fault(given, message):
    assert _refused(given) == message


def test_the_default_source_is_policy_config():
    with pytest.raises(PolicyConfigError) as err:
        reconcile(OURS, EnforcementLevel.ADVISORY, {"nope": "advisory"})
    assert str(err.value).startswith("policy config: no policy named 'nope'")


def test_waivers_are_accepted_and_kept_as_properties():
    waivers = [{"resource": "db", "reason": "kept on purpose", "expires": "2999-01-01"}]
    assert _ours({"tuned": {"waivers": waivers}})["tuned"].properties == {"limit": 3, "waivers": waivers}


def test_an_unreadable_file_is_named(tmp_path):
    missing = tmp_path / "policy.json"
    with pytest.raises(PolicyConfigError) as err:
        read_policy_config(missing)
    assert str(err.value) == f"{missing}: cannot be read: No such file or directory"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PolicyConfigError) as err:
        read_policy_config(bad)
    assert (
        str(err.value)
        == f"{bad}: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
    array = tmp_path / "array.json"
    array.write_text("[]", encoding="utf-8")
    with pytest.raises(PolicyConfigError) as err:
        read_policy_config(array)
    assert str(err.value) == f"{array}: a policy config file is a JSON object keyed by policy name"


def test_a_file_is_read_as_utf8(tmp_path):
    path = tmp_path / "policy.json"
    path.write_bytes(json.dumps({"tuned": {"mode": "é"}}, ensure_ascii=False).encode("utf-8"))
    assert read_policy_config(path) == {"tuned": {"mode": "é"}}


def test_a_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path):
    path = tmp_path / "policy.json"
    path.write_bytes('{"tuned": {"mode": "é"}}'.encode("latin-1"))
    with pytest.raises(PolicyConfigError) as err:
        read_policy_config(path)
    assert str(err.value) == f"{path}: not UTF-8 text"

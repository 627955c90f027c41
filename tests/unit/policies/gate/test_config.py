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

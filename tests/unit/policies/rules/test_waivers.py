"""Waivers (policies/rules/waivers.py) and the pack's adapter honouring them (rules/_core.py)."""

from __future__ import annotations

import datetime

import pytest
from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs

from policies.rules import RULES_BY_NAME, waivers
from policies.rules._core import DOCS_BASE_URL
from policies.rules.waivers import Waiver, WaiverError, decide, parse_waivers

URN = "urn:pulumi:dev::site::aws:s3/bucketAclV2:BucketAclV2::site-bucket"
ON = datetime.date(2027, 6, 30)


def test_a_waiver_matches_a_logical_name_a_urn_or_a_glob_over_either():
    assert Waiver("site-bucket", "r").matches(URN, "site-bucket")
    assert Waiver(URN, "r").matches(URN, "site-bucket")
    assert Waiver("site-*", "r").matches(URN, "site-bucket")
    assert Waiver("urn:pulumi:dev::site::*BucketAclV2::*", "r").matches(URN, "site-bucket")
    assert not Waiver("site", "r").matches(URN, "site-bucket")
    assert not Waiver("urn:pulumi:prod::*", "r").matches(URN, "site-bucket")
    # Case matters on every platform: a name is not a path.
    assert not Waiver("SITE-*", "r").matches(URN, "site-bucket")


def test_parse_reads_reason_and_date():
    (waiver,) = parse_waivers([{"resource": "site-*", "reason": " public website ", "expires": "2027-06-30"}])
    assert waiver == Waiver("site-*", "public website", ON)
    assert parse_waivers(None) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([{"resource": "site-bucket"}], "waivers[0]: the waiver of 'site-bucket' has no reason"),
        ([{"resource": "site-bucket", "reason": "  "}], "has no reason"),
        ([{"reason": "public"}], "waivers[0]: a waiver needs a resource"),
        ([{"resource": "a", "reason": "r", "expires": "30/06/2027"}], "expires '30/06/2027' is not a date"),
        ([{"resource": "a", "reason": "r", "expires": "2027-02-30"}], "is not a date"),
        ([{"resource": "a", "reason": "r", "until": "2027-01-01"}], "unknown key until"),
        ({"resource": "a"}, "waivers is a list"),
        (["a"], "a waiver is an object"),
    ],
)
def test_bad_waivers_are_named(value, fragment):
    with pytest.raises(WaiverError) as err:
        parse_waivers(value, "stacks/policy.dev.json: s3-no-public-access")
    assert str(err.value).startswith("stacks/policy.dev.json: s3-no-public-access")
    assert fragment in str(err.value)


def test_a_waiver_holds_through_its_expiry_date_and_not_a_day_longer():
    waiver = [Waiver("site-bucket", "public website", ON)]
    assert decide(waiver, URN, "site-bucket", "public ACL", ON).waived
    late = decide(waiver, URN, "site-bucket", "public ACL", ON + datetime.timedelta(days=1))
    assert not late.waived and late.waiver == waiver[0]
    assert late.message == "public ACL (waiver expired on 2027-06-30: public website)"
    other = decide(waiver, URN.replace("site-bucket", "logs"), "logs", "public ACL", ON)
    assert (other.waived, other.waiver, other.message) == (False, None, "public ACL")


def test_a_live_waiver_wins_over_an_expired_one():
    both = [Waiver("site-*", "old", datetime.date(2020, 1, 1)), Waiver("site-bucket", "renewed", ON)]
    assert decide(both, URN, "site-bucket", "m", ON).waiver == both[1]


def test_every_policy_declares_waivers_and_its_page():
    for rule in RULES_BY_NAME.values():
        policy = rule.policy()
        assert isinstance(policy.config_schema, PolicyConfigSchema)
        assert policy.config_schema.properties["waivers"] == waivers.WAIVERS_SCHEMA
        assert policy.url == f"{DOCS_BASE_URL}{rule.name}.md"


def _resource_args(config: dict | None) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        "aws:s3/bucketAclV2:BucketAclV2", {"acl": "public-read"}, URN, "site-bucket", None, None, config, {}
    )


def _validate(policy, args) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))
    return found


def test_the_pack_adapter_skips_a_waived_finding_and_reports_an_expired_one():
    policy = RULES_BY_NAME["s3-no-public-access"].policy()
    assert _validate(policy, _resource_args(None)), "the compliant-breaking resource must be a finding"
    live = {"waivers": [{"resource": "site-*", "reason": "public website, reviewed", "expires": "2999-12-31"}]}
    assert _validate(policy, _resource_args(live)) == []
    expired = {"waivers": [{"resource": "site-bucket", "reason": "public website, reviewed", "expires": "2020-01-01"}]}
    ((message, _),) = _validate(policy, _resource_args(expired))
    assert message.endswith("(waiver expired on 2020-01-01: public website, reviewed)")
    other = {"waivers": [{"resource": "logs", "reason": "r"}]}
    assert _validate(policy, _resource_args(other)) == _validate(policy, _resource_args(None))


def test_the_pack_adapter_waives_stack_findings_by_resource():
    from policies.gate.evaluate import _policy_resources
    from policies.gate.records import Resource

    bucket_urn = "urn:pulumi:dev::site::aws:s3/bucket:Bucket::site-bucket"
    bucket = Resource(bucket_urn, "aws:s3/bucket:Bucket", "site-bucket", {"bucket": "b"}, None, (), {}, None)
    resources = _policy_resources([bucket], "site", "dev", {bucket_urn: bucket})
    policy = RULES_BY_NAME["s3-versioning"].policy()
    bare = _validate(policy, StackValidationArgs(resources, None, {}))
    assert [urn for _, urn in bare] == [bucket_urn]
    waived = {"waivers": [{"resource": "site-bucket", "reason": "scratch bucket"}]}
    assert _validate(policy, StackValidationArgs(resources, waived, {})) == []


def test_rules_never_see_the_waivers_as_a_knob():
    rule = RULES_BY_NAME["rds-backups-enabled"]
    assert rule.settings({"waivers": [], "minRetentionDays": 7}) == {"minRetentionDays": 7}


def test_a_waiver_as_reported():
    assert Waiver("r", "why", datetime.date(2027, 6, 30)).as_json() == {"reason": "why", "expires": "2027-06-30"}
    assert Waiver("r", "why").as_json() == {"reason": "why", "expires": None}


def test_without_waivers_keeps_the_knobs():
    assert waivers.without_waivers({"waivers": [], "ports": [22]}) == {"ports": [22]}
    config = {"ports": [22]}
    assert waivers.without_waivers(config) is config
    assert waivers.without_waivers(None) is None
    assert waivers.without_waivers(["waivers"]) == ["waivers"]


def test_name_of_is_the_last_part_of_a_urn():
    assert waivers.name_of(URN) == "site-bucket"
    assert waivers.name_of("urn:pulumi:dev::site::aws:s3/bucket:Bucket::a::b") == "b"
    assert waivers.name_of("site-bucket") == "site-bucket"
    assert waivers.name_of("") == ""


def test_errors_name_where_the_waiver_is_even_without_a_location():
    from policies.rules.waivers import waivers_of

    with pytest.raises(WaiverError) as err:
        parse_waivers([{"resource": "a", "reason": "r", "owner": "x", "ticket": "y"}])
    assert str(err.value) == "waivers: waivers[0]: unknown key owner, ticket (a waiver takes resource, reason, expires)"
    with pytest.raises(WaiverError) as err:
        waivers_of({"waivers": [{"resource": "a"}]})
    assert str(err.value).startswith("waivers: waivers[0]: the waiver of 'a' has no reason")
    for odd in (20270630, "2027-6-30", ["2027-06-30"]):
        with pytest.raises(WaiverError) as err:
            parse_waivers([{"resource": "a", "reason": "r", "expires": odd}], "policy.json: rule")
        assert str(err.value) == f"policy.json: rule: waivers[0]: expires {odd!r} is not a date (YYYY-MM-DD)"


def test_a_decision_keeps_the_message_and_says_plainly_whether_it_waives():
    live = Waiver("site", "reviewed", datetime.date(2027, 6, 30))
    on = datetime.date(2026, 12, 7)
    kept = decide([live], "urn:pulumi:dev::p::t::site", "site", "bucket is public", on)
    assert (kept.waiver, kept.waived, kept.message) == (live, True, "bucket is public")
    gone = decide([live], "urn:pulumi:dev::p::t::site", "site", "bucket is public", datetime.date(2027, 7, 1))
    assert gone.waived is False and gone.message.startswith("bucket is public (waiver expired on 2027-06-30")


def test_today_is_the_utc_date(monkeypatch):
    """Waivers expire on the UTC date, so a CI runner and a laptop agree."""
    from types import SimpleNamespace

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            # 23:30 on 2030-01-01 in UTC is already 2030-01-02 east of it.
            if tz is datetime.UTC:
                return datetime.datetime(2030, 1, 1, 23, 30, tzinfo=datetime.UTC)
            return datetime.datetime(2030, 1, 2, 1, 30)

    monkeypatch.setattr(waivers, "datetime", SimpleNamespace(datetime=Clock, UTC=datetime.UTC))
    assert waivers.today() == datetime.date(2030, 1, 1)

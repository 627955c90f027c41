"""The report formats on verdicts built in this process (policies/gate/report/): levels, waivers,
remediation, locations that always exist, the JSON report's version 2 shape."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from pulumi_policy import EnforcementLevel

from policies.gate import GateResult
from policies.gate.config import reconcile
from policies.gate.evaluate import evaluate, unmatched_waivers
from policies.gate.records import Resource
from policies.gate.report import as_github, as_json_many, as_sarif, as_text_many
from policies.gate.report.common import STDIN_URI
from policies.gate.report.github import escape_data, escape_property
from policies.pack import PACK_ENFORCEMENT, POLICIES, RULE_FOR_POLICY
from policies.rules._core import DOCS_BASE_URL
from tests.unit.policies.gate.helpers import valid_report, valid_sarif

PROJECT = "site"
ACL = "aws:s3/bucketAclV2:BucketAclV2"


def acl(name: str, source: tuple[str, int] | None = None) -> Resource:
    return Resource(
        urn=f"urn:pulumi:dev::{PROJECT}::{ACL}::{name}",
        type=ACL,
        name=name,
        inputs={"acl": "public-read", "bucket": name},
        parent=None,
        dependencies=(),
        property_dependencies={},
        provider=None,
        source=source,
    )


def verdict(
    program: Path,
    given: dict | None = None,
    resources: list[Resource] | None = None,
    *,
    main_file: str = "__main__.py",
    policy_config: Path | None = None,
    stack: str = "dev",
) -> GateResult:
    if not any((d / ".git").exists() for d in (program, *program.parents)):
        (program / ".git").mkdir()
    (program / "__main__.py").write_text("import pulumi\n\n\nbucket = ...\n", encoding="utf-8")
    found = resources if resources is not None else [acl("site-bucket", (str(program / "__main__.py"), 4))]
    settings = reconcile(POLICIES, PACK_ENFORCEMENT, given, "policy.dev.json")
    violations = evaluate(found, POLICIES, settings, PROJECT, stack)
    return GateResult(
        PROJECT,
        stack,
        program,
        main_file,
        found,
        violations,
        settings,
        policy_config,
        unmatched_waivers=unmatched_waivers(settings, violations),
    )


WAIVED = {"s3-no-public-access": {"waivers": [{"resource": "site-*", "reason": "public website, reviewed"}]}}


def test_a_remediate_finding_is_an_error_in_sarif_not_a_warning(tmp_path):
    result = verdict(tmp_path, {"s3-no-public-access": "remediate"})
    assert result.settings["s3-no-public-access"].enforcement == EnforcementLevel.REMEDIATE
    run = valid_sarif(as_sarif([result], POLICIES, RULE_FOR_POLICY))["runs"][0]
    (finding,) = [r for r in run["results"] if r["ruleId"] == "s3-no-public-access"]
    assert finding["level"] == "error"
    (rule,) = [r for r in run["tool"]["driver"]["rules"] if r["id"] == "s3-no-public-access"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert result.exit_code == 1


def test_every_rule_has_its_help_uri(tmp_path):
    run = valid_sarif(as_sarif([verdict(tmp_path)], POLICIES, RULE_FOR_POLICY))["runs"][0]
    assert {r["id"]: r["helpUri"] for r in run["tool"]["driver"]["rules"]} == {
        p.name: f"{DOCS_BASE_URL}{p.name}.md" for p in POLICIES
    }


def test_a_waived_finding_is_shown_suppressed_and_does_not_fail(tmp_path):
    result = verdict(tmp_path, WAIVED)
    assert result.exit_code == 0 and result.violations
    (finding,) = [v for v in result.violations if v.policy == "s3-no-public-access"]
    assert finding.waived is not None and finding.waived.reason == "public website, reviewed"

    run = valid_sarif(as_sarif([result], POLICIES, RULE_FOR_POLICY))["runs"][0]
    (sarif,) = [r for r in run["results"] if r["ruleId"] == "s3-no-public-access"]
    assert sarif["suppressions"] == [{"kind": "external", "justification": "public website, reviewed"}]

    doc = valid_report(as_json_many([result]))
    (item,) = [v for v in doc["violations"] if v["policy"] == "s3-no-public-access"]
    assert item["waived"] == {"reason": "public website, reviewed", "expires": None}
    assert doc["summary"]["mandatory"] == 0 and doc["summary"]["waived"] == 1

    text = as_text_many([result])
    assert "[mandatory, waived] s3-no-public-access: canned ACL public-read makes the content public" in text
    assert "      waived: public website, reviewed" in text
    assert text.splitlines()[-1].startswith("PASS stateless-guard site/dev:")


def test_an_expired_waiver_fails_and_says_so(tmp_path):
    expired = {
        "s3-no-public-access": {"waivers": [{"resource": "site-bucket", "reason": "r", "expires": "2020-01-01"}]}
    }
    result = verdict(tmp_path, expired)
    assert result.exit_code == 1
    (finding,) = [v for v in result.violations if v.policy == "s3-no-public-access"]
    assert finding.waived is None and finding.message.endswith("(waiver expired on 2020-01-01: r)")
    assert result.unmatched_waivers == []


def test_a_waiver_that_matches_nothing_is_reported(tmp_path):
    stale = {"s3-no-public-access": {"waivers": [{"resource": "old-site", "reason": "moved away"}]}}
    result = verdict(tmp_path, stale, policy_config=tmp_path / "policy.dev.json")
    assert [(u.policy, u.waiver.resource) for u in result.unmatched_waivers] == [("s3-no-public-access", "old-site")]
    doc = valid_report(as_json_many([result]))
    assert doc["stacks"][0]["unmatchedWaivers"] == [
        {"policy": "s3-no-public-access", "resource": "old-site", "reason": "moved away", "expires": None}
    ]
    assert (
        "note: the waiver of 'old-site' for s3-no-public-access in policy.dev.json matches no finding"
        in as_text_many([result])
    )
    assert "::warning file=policy.dev.json,title=waiver::note: the waiver of 'old-site'" in as_github([result])


def test_text_and_json_carry_the_remediation(tmp_path):
    result = verdict(tmp_path)
    remediation = next(p for p in POLICIES if p.name == "s3-no-public-access").remediation_steps
    assert remediation
    assert f"      fix: {remediation}" in as_text_many([result])
    doc = valid_report(as_json_many([result]))
    assert {v["remediation"] for v in doc["violations"] if v["policy"] == "s3-no-public-access"} == {remediation}


def test_no_policy_config_is_said(tmp_path):
    result = verdict(tmp_path)
    assert "policy config: none applies" in as_text_many([result])
    assert valid_report(as_json_many([result]))["stacks"][0]["policyConfig"] is None
    run = valid_sarif(as_sarif([result], POLICIES, RULE_FOR_POLICY))["runs"][0]
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolConfigurationNotifications"]]
    assert notes == ["policy config: none applies: every rule at its default enforcement, no waivers"]


def test_json_is_version_2_with_the_single_stack_keys_copied_for_one_release(tmp_path):
    one = valid_report(as_json_many([verdict(tmp_path)]))
    assert one["schemaVersion"] == 2 and len(one["stacks"]) == 1
    assert one["stack"] == "dev" and one["violations"] == one["stacks"][0]["violations"]
    two = valid_report(as_json_many([verdict(tmp_path), verdict(tmp_path, stack="prod")]))
    assert [s["stack"] for s in two["stacks"]] == ["dev", "prod"]
    assert "stack" not in two and "violations" not in two


def test_a_finding_without_a_source_position_still_has_a_location(tmp_path):
    # A document read from standard input, outside any project: no declaring line, no file.
    bare = tmp_path / "elsewhere"
    bare.mkdir()
    result = verdict(bare, resources=[acl("site-bucket")], main_file="")
    (bare / "__main__.py").unlink()
    run = valid_sarif(as_sarif([result], POLICIES, RULE_FOR_POLICY))["runs"][0]
    assert run["results"]
    for item in run["results"]:
        assert item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == STDIN_URI
    # With the project file beside it, the finding points there.
    (bare / "Pulumi.yaml").write_text("name: site\nruntime: python\n", encoding="utf-8")
    run = valid_sarif(as_sarif([result], POLICIES, RULE_FOR_POLICY))["runs"][0]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]} == {"Pulumi.yaml"}


def test_github_annotations_point_at_the_declaring_line_with_the_level_of_each_finding(tmp_path):
    program = tmp_path / "infra"
    program.mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    result = verdict(program, {"s3-no-public-access": "advisory"})
    lines = as_github([result]).splitlines()
    (line,) = [x for x in lines if "title=s3-no-public-access" in x]
    assert line.startswith("::warning file=infra/__main__.py,line=4,title=s3-no-public-access::")
    assert "%0Afix: " in line and "\n" not in line
    waived = as_github([verdict(program, WAIVED)]).splitlines()
    assert next(x for x in waived if "title=s3-no-public-access" in x).startswith("::notice ")
    failing = as_github([verdict(program)]).splitlines()
    assert next(x for x in failing if "title=s3-no-public-access" in x).startswith("::error ")
    assert failing[-1].startswith("FAIL stateless-guard site/dev:")


def test_github_escaping_is_the_runners():
    # actions/toolkit packages/core/src/command.ts escapeData / escapeProperty
    assert escape_data("50% a\r\nb: c, d") == "50%25 a%0D%0Ab: c, d"
    assert escape_property("50% a\r\nb: c, d") == "50%25 a%0D%0Ab%3A c%2C d"


def test_sarif_locations_are_relative_and_every_result_has_one(tmp_path):
    result = verdict(tmp_path)
    doc = json.loads(as_sarif([result], POLICIES, RULE_FOR_POLICY))
    for item in doc["runs"][0]["results"]:
        physical = item["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "__main__.py", "uriBaseId": "%SRCROOT%"}
        assert physical["region"] == {"startLine": 4}


def test_what_the_run_could_not_see_is_shown_with_its_verdict(tmp_path):
    # A run that could not see everything passes "PASS (incomplete)", never a bare PASS.
    base = verdict(tmp_path, WAIVED)
    result = dataclasses.replace(base, notes=["2 apply callbacks did not run"], incomplete=True)
    assert result.verdict == "PASS (incomplete)" and result.exit_code == 0
    text = as_text_many([result]).splitlines()
    assert "2 apply callbacks did not run" in text
    assert text[-1].startswith("PASS (incomplete) stateless-guard site/dev:")
    doc = valid_report(as_json_many([result]))["stacks"][0]
    assert (doc["verdict"], doc["notes"]) == ("PASS (incomplete)", ["2 apply callbacks did not run"])
    assert "::warning title=not judged::2 apply callbacks did not run" in as_github([result]).splitlines()
    assert valid_report(as_json_many([base]))["stacks"][0]["verdict"] == "PASS"


def test_a_message_that_names_its_resource_is_not_prefixed_twice():
    from policies.gate.evaluate import Violation
    from policies.gate.report.common import headline

    db = "aws:rds/instance:Instance"
    own = Violation("no-data-loss-on-change", "mandatory", "urn", db, "app-db", f"{db} app-db would be deleted: x")
    assert headline(own) == f"{db} app-db would be deleted: x"
    # Any other message gets its subject; so does one that opens with the type and a longer name.
    other = dataclasses.replace(own, message="backups are off")
    assert headline(other) == f"{db} app-db: backups are off"
    longer = dataclasses.replace(own, name="app", message=f"{db} app-db would be deleted: x")
    assert headline(longer) == f"{db} app: {db} app-db would be deleted: x"
    bare = dataclasses.replace(own, message=f"{db} app-db")
    assert headline(bare) == f"{db} app-db: {db} app-db"

# ----------------------------------------------------------------------------- exact text and JSON

import datetime  # noqa: E402

from policies.gate.evaluate import UnmatchedWaiver, Violation  # noqa: E402
from policies.gate.report import as_json  # noqa: E402
from policies.gate.report.common import repository_root, summary  # noqa: E402
from policies.gate.report.text import as_text  # noqa: E402
from policies.rules.waivers import Waiver  # noqa: E402

U1 = f"urn:pulumi:dev::{PROJECT}::{ACL}::one"
U2 = f"urn:pulumi:dev::{PROJECT}::{ACL}::two"


def _v(policy, enforcement="mandatory", urn=U1, **kw):
    return Violation(policy, enforcement, urn, ACL, urn.rsplit("::", 1)[-1], f"{policy} says no", **kw)


MIXED = [
    _v("z-advisory", "advisory", remediation="fix z"),
    _v("b-waived", waived=Waiver("one", "accepted", datetime.date(2030, 1, 2))),
    _v("c-baselined", baselined=True),
    _v("a-mandatory"),
    _v("d-waived-forever", "advisory", waived=Waiver("one", "kept")),
    _v("y-other", urn=U2),
    _v("e-both", waived=Waiver("one", "both"), baselined=True),
]


def test_the_summary_counts_only_what_decides_the_verdict():
    assert summary([acl("one"), acl("two")], MIXED) == {
        "resources": 2,
        "mandatory": 2,
        "advisory": 1,
        "waived": 3,
        "baselined": 1,
    }


def test_the_text_report_line_by_line():
    text = as_text(PROJECT, "dev", [acl("one"), acl("two"), acl("three")], MIXED, unjudged=1, notes=["note: n"])
    assert text.splitlines() == [
        f"{ACL}  one",
        f"  {U1}",
        "  [mandatory] a-mandatory: a-mandatory says no",
        "  [advisory] z-advisory: z-advisory says no",
        "      fix: fix z",
        "  [mandatory, waived] b-waived: b-waived says no",
        "      waived: accepted (until 2030-01-02)",
        "  [mandatory, baselined] c-baselined: c-baselined says no",
        "  [mandatory, waived] e-both: e-both says no",
        "      waived: both",
        "  [advisory, waived] d-waived-forever: d-waived-forever says no",
        "      waived: kept",
        "",
        f"{ACL}  two",
        f"  {U2}",
        "  [mandatory] y-other: y-other says no",
        "",
        "note: n",
        f"FAIL stateless-guard {PROJECT}/dev: 2 resources judged, 1 component(s) not judged, 2 mandatory, "
        "1 advisory violation(s) (3 waived, 1 baselined)",
    ]


def test_a_clean_text_report_is_one_line_and_a_given_verdict_wins():
    assert as_text(PROJECT, "dev", [acl("one")], []) == (
        f"PASS stateless-guard {PROJECT}/dev: 1 resources judged, 0 component(s) not judged, 0 mandatory, "
        "0 advisory violation(s)"
    )
    only_baselined = as_text(PROJECT, "dev", [], [_v("c", baselined=True)], verdict="PASS (incomplete)")
    assert only_baselined.splitlines()[-1] == (
        f"PASS (incomplete) stateless-guard {PROJECT}/dev: 0 resources judged, 0 component(s) not judged, "
        "0 mandatory, 0 advisory violation(s) (1 baselined)"
    )


def _result(tmp_path, violations, stack="dev", policy_config=None, **kw):
    (tmp_path / ".git").mkdir(exist_ok=True)
    return GateResult(PROJECT, stack, tmp_path, "__main__.py", [acl("one")], violations, {}, policy_config, **kw)


def test_text_notes_policy_config_waivers_and_baseline(tmp_path):
    config = tmp_path / "stacks" / "policy.dev.json"
    unmatched = [UnmatchedWaiver("s3-versioning", Waiver("gone", "r"))]
    result = _result(
        tmp_path,
        [_v("a", baselined=True), _v("b")],
        policy_config=config,
        unmatched_waivers=unmatched,
        baseline_gone=2,
        notes=["engine note"],
        incomplete=True,
    )
    lines = as_text_many([result]).splitlines()
    assert lines[-6:] == [
        "",
        "engine note",
        "policy config: stacks/policy.dev.json",
        "note: the waiver of 'gone' for s3-versioning in stacks/policy.dev.json matches no finding: "
        "remove it, or correct the resource",
        "baseline: 1 recorded finding(s) still there, 2 gone "
        "(fixed or renamed; --write-baseline records the new state)",
        f"FAIL stateless-guard {PROJECT}/dev: 1 resources judged, 0 component(s) not judged, 1 mandatory, "
        "0 advisory violation(s) (1 baselined)",
    ]
    outside = Path("/elsewhere/policy.json")
    bare = _result(tmp_path, [], policy_config=outside, unmatched_waivers=unmatched, incomplete=True)
    assert as_text_many([bare]).splitlines() == [
        "policy config: /elsewhere/policy.json",
        "note: the waiver of 'gone' for s3-versioning in /elsewhere/policy.json matches no finding: "
        "remove it, or correct the resource",
        f"PASS (incomplete) stateless-guard {PROJECT}/dev: 1 resources judged, 0 component(s) not judged, "
        "0 mandatory, 0 advisory violation(s)",
    ]
    none = _result(tmp_path, [], unmatched_waivers=unmatched)
    assert as_text_many([none]).splitlines()[:2] == [
        "policy config: none applies: every rule at its default enforcement, no waivers",
        "note: the waiver of 'gone' for s3-versioning in the policy config matches no finding: "
        "remove it, or correct the resource",
    ]


def test_several_stacks_in_text_end_with_the_stacks_that_failed(tmp_path):
    results = [
        _result(tmp_path, [_v("a")], stack="dev"),
        _result(tmp_path, [], stack="staging"),
        _result(tmp_path, [_v("a")], stack="prod"),
    ]
    text = as_text_many(results)
    lines = text.splitlines()
    assert lines[0] == f"=== {PROJECT}/dev ==="
    assert f"=== {PROJECT}/staging ===" in lines and f"=== {PROJECT}/prod ===" in lines
    assert lines[-2:] == ["", "FAIL (dev, prod) stateless-guard: 3 stacks"]
    assert text.count("\n\n=== ") == 2
    assert as_text_many(results[1:2] * 2).splitlines()[-1] == "PASS stateless-guard: 2 stacks"
    assert as_text_many(results[1:2]).splitlines()[0] == "policy config: " + (
        "none applies: every rule at its default enforcement, no waivers"
    )


def test_the_json_report_exactly(tmp_path):
    waiver = Waiver("one", "accepted", datetime.date(2030, 1, 2))
    violations = [_v("a", remediation="fix"), _v("b", "advisory", waived=waiver), _v("c", baselined=True)]
    result = _result(
        tmp_path,
        violations,
        policy_config=tmp_path / "p.json",
        unmatched_waivers=[UnmatchedWaiver("s3-versioning", Waiver("gone", "r"))],
        baseline_gone=4,
        notes=["n"],
    )
    doc = json.loads(as_json_many([result]))
    stack = {
        "stack": "dev",
        "project": PROJECT,
        "resources": [{"urn": acl("one").urn, "type": ACL, "name": "one"}],
        "violations": [
            {
                "policy": "a",
                "enforcement": "mandatory",
                "urn": U1,
                "type": ACL,
                "name": "one",
                "message": "a says no",
                "remediation": "fix",
            },
            {
                "policy": "b",
                "enforcement": "advisory",
                "urn": U1,
                "type": ACL,
                "name": "one",
                "message": "b says no",
                "remediation": "",
                "waived": {"reason": "accepted", "expires": "2030-01-02"},
            },
            {
                "policy": "c",
                "enforcement": "mandatory",
                "urn": U1,
                "type": ACL,
                "name": "one",
                "message": "c says no",
                "remediation": "",
                "baselined": True,
            },
        ],
        "summary": {"resources": 1, "mandatory": 1, "advisory": 0, "waived": 1, "baselined": 1},
        "verdict": "FAIL",
        "notes": ["n"],
        "policyConfig": "p.json",
        "unmatchedWaivers": [{"policy": "s3-versioning", "resource": "gone", "reason": "r", "expires": None}],
        "baseline": {"matched": 1, "gone": 4},
    }
    legacy = {k: stack[k] for k in ("stack", "project", "resources", "violations", "summary")}
    assert doc == {"schemaVersion": 2, "stacks": [stack], **legacy}
    two = json.loads(as_json_many([result, dataclasses.replace(result, stack="prod", baseline_gone=None)]))
    assert set(two) == {"schemaVersion", "stacks"} and [s["stack"] for s in two["stacks"]] == ["dev", "prod"]
    assert "baseline" not in two["stacks"][1]
    assert as_json_many([result]).startswith('{\n  "schemaVersion": 2,\n  "stacks": [\n    {\n')
    single = json.loads(as_json(PROJECT, "dev", [acl("one")], violations[:1]))
    assert single == {
        "schemaVersion": 2,
        "stacks": [
            {k: v for k, v in legacy.items() if k != "violations" and k != "summary"}
            | {
                "violations": stack["violations"][:1],
                "summary": {"resources": 1, "mandatory": 1, "advisory": 0, "waived": 0, "baselined": 0},
            }
        ],
        **{k: v for k, v in legacy.items() if k != "violations" and k != "summary"},
        "violations": stack["violations"][:1],
        "summary": {"resources": 1, "mandatory": 1, "advisory": 0, "waived": 0, "baselined": 0},
    }
    assert as_json(PROJECT, "dev", [], []).startswith('{\n  "schemaVersion": 2,')


def test_the_repository_root_is_the_nearest_directory_with_git(tmp_path):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert repository_root(inner) == inner
    (tmp_path / ".git").write_text("gitdir: elsewhere")  # a worktree's .git is a file
    assert repository_root(inner) == tmp_path
    (inner / ".git").mkdir()
    assert repository_root(inner) == inner


# ----------------------------------------------------------------------------- exact GitHub annotations

from policies.gate.report.github import command  # noqa: E402


def test_a_workflow_command_skips_empty_properties():
    assert command("error", "a\nb", file="x.py", line=3, title="t:1") == "::error file=x.py,line=3,title=t%3A1::a%0Ab"
    assert command("notice", "m", file=None, line="", title="baseline") == "::notice title=baseline::m"
    assert command("warning", "m") == "::warning::m"
    assert command("warning", "m", line=0) == "::warning line=0::m"


def test_github_annotations_exactly(tmp_path):
    (tmp_path / "__main__.py").write_text("x\n", encoding="utf-8")
    one = dataclasses.replace(acl("one"), source=(str(tmp_path / "__main__.py"), 7))
    violations = [
        _v("a", remediation="fix a"),
        _v("b", "advisory"),
        _v("c", waived=Waiver("one", "ok", datetime.date(2030, 1, 2)), remediation="unused"),
        _v("d", "advisory", waived=Waiver("one", "ok")),
        _v("e", baselined=True),
        _v("f", baselined=True, waived=Waiver("one", "both")),
        _v("g", baselined=True),
        _v("h", "advisory", urn="urn:nowhere"),
    ]
    config = tmp_path / "policy.json"
    unmatched = [UnmatchedWaiver("s3-versioning", Waiver("gone", "r"))]
    result = GateResult(
        PROJECT,
        "dev",
        tmp_path,
        "__main__.py",
        [one],
        violations,
        {},
        config,
        unmatched_waivers=unmatched,
        baseline_gone=3,
        notes=["not seen: x"],
    )
    at = "file=__main__.py,line=7"
    assert as_github([result]).splitlines() == [
        f"::error {at},title=a::{ACL} one: a says no%0Afix: fix a",
        f"::warning {at},title=b::{ACL} one: b says no",
        f"::notice {at},title=c::{ACL} one: c says no%0Awaived: ok, until 2030-01-02",
        f"::notice {at},title=d::{ACL} one: d says no%0Awaived: ok",
        f"::notice {at},title=f::{ACL} one: f says no%0Awaived: both",
        f"::warning file=__main__.py,line=1,title=h::{ACL} urn:nowhere: h says no",
        f"::notice title=baseline::{PROJECT}/dev: 2 finding(s) hidden by the baseline, 3 recorded finding(s) gone",
        "::warning file=policy.json,title=waiver::note: the waiver of 'gone' for s3-versioning in policy.json "
        "matches no finding: remove it, or correct the resource",
        "::warning title=not judged::not seen: x",
        f"FAIL stateless-guard {PROJECT}/dev: 1 resources judged, 0 component(s) not judged, 1 mandatory, "
        "2 advisory violation(s) (3 waived, 2 baselined)",
    ]
    elsewhere = dataclasses.replace(
        result, violations=[], policy_config=Path("/elsewhere/p.json"), baseline_gone=None, notes=[]
    )
    assert as_github([elsewhere, dataclasses.replace(elsewhere, stack="prod", unmatched_waivers=[])]).splitlines() == [
        "::warning title=waiver::note: the waiver of 'gone' for s3-versioning in /elsewhere/p.json "
        "matches no finding: remove it, or correct the resource",
        f"PASS stateless-guard {PROJECT}/dev: 1 resources judged, 0 component(s) not judged, 0 mandatory, "
        "0 advisory violation(s)",
        f"PASS stateless-guard {PROJECT}/prod: 1 resources judged, 0 component(s) not judged, 0 mandatory, "
        "0 advisory violation(s)",
    ]
    unconfigured = dataclasses.replace(elsewhere, policy_config=None, unjudged=1, incomplete=True)
    assert as_github([unconfigured]).splitlines() == [
        "::warning title=waiver::note: the waiver of 'gone' for s3-versioning in the policy config "
        "matches no finding: remove it, or correct the resource",
        f"PASS (incomplete) stateless-guard {PROJECT}/dev: 0 resources judged, 1 component(s) not judged, "
        "0 mandatory, 0 advisory violation(s)",
    ]


# ----------------------------------------------------------------------------- where a finding points

from policies.gate.report.common import declaration, fallback, locate, policy_config_label, relative  # noqa: E402


def _at(urn, source=None, parent=None):
    return dataclasses.replace(acl(urn.rsplit("::", 1)[-1]), urn=urn, source=source, parent=parent)


def test_a_finding_points_at_the_nearest_declaration_in_the_repository(tmp_path):
    main = tmp_path / "infra" / "main.py"
    lib = tmp_path / ".venv" / "lib" / "site-packages" / "pkg" / "x.py"
    dist = tmp_path / "dist-packages" / "y.py"
    top = _at("urn:top", (str(main), 5))
    library = _at("urn:lib", (str(lib), 9), parent="urn:top")
    dist_child = _at("urn:dist", (str(dist), 2), parent="urn:lib")
    outside = _at("urn:out", ("/elsewhere/z.py", 3), parent="urn:top")
    loop_a = _at("urn:a", None, parent="urn:b")
    loop_b = _at("urn:b", None, parent="urn:a")
    orphan = _at("urn:orphan", None, parent="urn:missing")
    by_urn = {r.urn: r for r in (top, library, dist_child, outside, loop_a, loop_b, orphan)}

    def where(urn):
        return declaration(_v("p", urn=urn), by_urn, tmp_path)

    assert where("urn:top") == ("infra/main.py", 5)
    assert where("urn:lib") == ("infra/main.py", 5)
    assert where("urn:dist") == ("infra/main.py", 5)
    assert where("urn:out") == ("infra/main.py", 5)
    assert where("urn:a") is None
    assert where("urn:orphan") is None
    assert where("urn:unknown") is None
    assert relative("/elsewhere/z.py", tmp_path) is None
    assert relative(str(main), tmp_path) == "infra/main.py"


def test_the_fallback_location_of_a_finding(tmp_path):
    (tmp_path / ".git").mkdir()
    program = tmp_path / "prog"
    program.mkdir()

    def result(main_file="main.py", stack_file=None, directory=program):
        return GateResult(PROJECT, "dev", directory, main_file, [], [], {}, None, stack_file=stack_file)

    assert fallback(result(), tmp_path) == ("main.py", 1)  # nothing exists: the main file by name
    assert fallback(result(main_file="sub/doc.json"), tmp_path) == ("doc.json", 1)
    assert fallback(result(main_file=""), tmp_path) == ("stdin", 1)
    (program / "Pulumi.yml").write_text("name: x\n", encoding="utf-8")
    assert fallback(result(main_file=""), tmp_path) == ("prog/Pulumi.yml", 1)
    (program / "Pulumi.yaml").write_text("name: x\n", encoding="utf-8")
    assert fallback(result(main_file=""), tmp_path) == ("prog/Pulumi.yaml", 1)
    stack = tmp_path / "stacks" / "Pulumi.dev.yaml"
    stack.parent.mkdir()
    stack.write_text("config: {}\n", encoding="utf-8")
    assert fallback(result(main_file="", stack_file=stack), tmp_path) == ("stacks/Pulumi.dev.yaml", 1)
    (program / "main.py").write_text("", encoding="utf-8")
    assert fallback(result(stack_file=stack), tmp_path) == ("prog/main.py", 1)
    # Files outside the repository are passed over.
    other = tmp_path.parent / f"{tmp_path.name}-outside"
    other.mkdir(exist_ok=True)
    (other / "main.py").write_text("", encoding="utf-8")
    assert fallback(result(directory=other, stack_file=stack), tmp_path) == ("stacks/Pulumi.dev.yaml", 1)
    declared = _at(U1, (str(program / "main.py"), 8))
    assert locate(_v("p"), result(), {U1: declared}, tmp_path) == ("prog/main.py", 8)
    assert locate(_v("p"), result(main_file=""), {}, tmp_path) == ("prog/Pulumi.yaml", 1)


def test_the_policy_config_label(tmp_path):
    inside = GateResult(PROJECT, "dev", tmp_path, "m.py", [], [], {}, tmp_path / "stacks" / "p.json")
    assert policy_config_label(inside, tmp_path) == "stacks/p.json"
    outside = dataclasses.replace(inside, policy_config=Path("/elsewhere/p.json"))
    assert policy_config_label(outside, tmp_path) == "/elsewhere/p.json"
    assert policy_config_label(dataclasses.replace(inside, policy_config=None), tmp_path) is None

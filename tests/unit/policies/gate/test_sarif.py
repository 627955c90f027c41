"""SARIF for code scanning: every document valid against the official SARIF 2.1.0 schema, each finding
at the line that declares its resource (relative to the repository root), the stack setting behind it
as a related location, and a fingerprint per finding that survives unrelated edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.policies.gate.helpers import PROGRAMS, ROOT, gate, valid_sarif


def _results(doc: dict) -> list[dict]:
    return [result for run in doc["runs"] for result in run["results"]]


def _where(result: dict) -> tuple[str, int]:
    physical = result["locations"][0]["physicalLocation"]
    return physical["artifactLocation"]["uri"], physical["region"]["startLine"]


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_prod_stack_sarif_is_valid_and_rated_for_github():
    out = gate("--stack", "prod", "--format", "sarif")
    assert out.returncode == 0, out.stderr
    doc = valid_sarif(out.stdout)
    (run,) = doc["runs"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"
    severities = {r["id"]: r["properties"]["security-severity"] for r in run["tool"]["driver"]["rules"]}
    assert severities["no-plaintext-secrets"] == "9.5" and severities["lambda-ephemeral-storage"] == "3.0"
    # prod's policy config makes every rule an error, unjudged components included.
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]}
    assert levels["no-unjudged-components"] == "error"


def test_findings_point_at_the_declaring_lines_of_a_program_in_a_subdirectory():
    program = PROGRAMS / "public_bucket"
    main = program / "__main__.py"
    expected = {
        "s3-public-access-block": _line_of(main, 'BucketV2("site")'),
        "s3-versioning": _line_of(main, 'BucketV2("site")'),
        "s3-encryption": _line_of(main, 'BucketV2("site")'),
    }
    for cwd, argument in ((ROOT, str(program.relative_to(ROOT))), (program, ".")):
        out = gate("--stack", "dev", "--program", argument, "--format", "sarif", cwd=cwd)
        assert out.returncode == 1, out.stderr
        results = _results(valid_sarif(out.stdout))
        for result in results:
            uri, line = _where(result)
            assert uri == "tests/fixtures/programs/public_bucket/__main__.py"
            if result["ruleId"] in expected:
                assert line == expected[result["ruleId"]]
        acl = _line_of(main, "BucketAclV2(")
        policy = _line_of(main, "BucketPolicy(")
        public = {_where(r)[1] for r in results if r["ruleId"] == "s3-no-public-access"}
        assert public == {acl, policy}


def test_resources_of_components_point_into_the_component_and_at_the_stack_setting():
    out = gate("--stack", "dev", "--format", "sarif")
    results = {r["ruleId"]: r for r in _results(valid_sarif(out.stdout))}
    multi_az = results["rds-multi-az"]
    uri, line = _where(multi_az)
    assert uri == "infra/components/database.py"
    assert "rds.Instance(" in (ROOT / uri).read_text().splitlines()[line - 1]
    (related,) = multi_az["relatedLocations"]
    stack_file = ROOT / "stacks" / "Pulumi.dev.yaml"
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "stacks/Pulumi.dev.yaml"
    assert related["physicalLocation"]["region"]["startLine"] == _line_of(stack_file, "stateless-stack:dbMultiAz:")
    assert related["message"]["text"] == "stack setting stateless-stack:dbMultiAz"
    # A finding the program derives from other values (no certificate: plain HTTP) names no setting.
    assert "relatedLocations" not in results["alb-https-redirect"]


def test_the_stack_name_in_resource_names_does_not_relate_other_settings():
    # dev-eks names its database dev-eks-db-postgres; eksDeletionProtection is not behind its finding.
    out = gate("--stack", "dev-eks", "--format", "sarif")
    results = {r["ruleId"]: r for r in _results(valid_sarif(out.stdout))}
    related = [r["message"]["text"] for r in results["rds-deletion-protection"]["relatedLocations"]]
    assert related == ["stack setting stateless-stack:dbDeletionProtection"]


def test_two_resources_on_one_line_are_two_alerts():
    out = gate("--stack", "dev", "--program", str(PROGRAMS / "same_line"), "--format", "sarif")
    results = _results(valid_sarif(out.stdout))
    assert len(results) == 2
    assert _where(results[0]) == _where(results[1])
    fingerprints = {r["partialFingerprints"]["primaryLocationLineHash"] for r in results}
    assert len(fingerprints) == 2


def test_fingerprints_survive_unrelated_edits(tmp_path):
    checkout = tmp_path / "repo"
    program = checkout / "deploy"
    shutil.copytree(PROGRAMS / "instance_state", program)
    (checkout / ".git").mkdir()

    def run() -> dict[str, tuple[str, int]]:
        out = gate("--stack", "dev", "--program", str(program), "--format", "sarif")
        return {
            r["partialFingerprints"]["primaryLocationLineHash"]: _where(r) for r in _results(valid_sarif(out.stdout))
        }

    before = run()
    main = program / "__main__.py"
    main.write_text("# An unrelated comment\n# and another\n\n" + main.read_text())
    after = run()
    assert set(before) == set(after) and len(before) >= 4
    for fingerprint, (uri, line) in before.items():
        assert uri == "deploy/__main__.py"
        assert after[fingerprint] == (uri, line + 3)


def test_objects_a_library_component_creates_point_at_the_component():
    # The StatefulSet is registered from inside pulumi_kubernetes (installed in .venv, inside the checkout).
    program = PROGRAMS / "yaml_manifest"
    out = gate("--stack", "dev", "--program", str(program), "--format", "sarif")
    results = _results(valid_sarif(out.stdout))
    expected = {"no-app-statefulsets", "no-k8s-persistent-volumes", "no-datastore-containers"}
    assert {r["ruleId"] for r in results} == expected
    line = _line_of(program / "__main__.py", "ConfigFile(")
    assert {_where(r) for r in results} == {("tests/fixtures/programs/yaml_manifest/__main__.py", line)}


# ----------------------------------------------------------------------------- in process, exactly

import hashlib  # noqa: E402
import json  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Severity  # noqa: E402

from policies.gate import GateResult  # noqa: E402
from policies.gate.config import PolicySettings  # noqa: E402
from policies.gate.evaluate import UnmatchedWaiver, Violation  # noqa: E402
from policies.gate.records import Resource  # noqa: E402
from policies.gate.report.sarif import _level, _settings_behind, _stack_keys, as_sarif  # noqa: E402
from policies.rules.waivers import Waiver  # noqa: E402

DB = "aws:rds/instance:Instance"
URN = f"urn:pulumi:dev::shop::{DB}::dev-app-db"


def _db(inputs: dict, name: str = "dev-app-db") -> Resource:
    return Resource(f"urn:pulumi:dev::shop::{DB}::{name}", DB, name, inputs, None, (), {}, None)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (EnforcementLevel.MANDATORY, "error"),
        (EnforcementLevel.REMEDIATE, "error"),
        (EnforcementLevel.ADVISORY, "warning"),
        (EnforcementLevel.DISABLED, "none"),
        ("mandatory", "error"),
        ("remediate", "error"),
        ("advisory", "warning"),
        (None, "none"),
    ],
)
def test_sarif_levels(level, expected):
    assert _level(level) == expected


def test_stack_keys_are_the_scalars_under_config_with_their_lines(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(
        "secretsprovider: x\nconfig:\n  shop:dbMultiAz: false\n  shop:size: 3\n  shop:list: [1]\n"
        "  shop:obj: {a: 1}\n  shop:name: app\n",
        encoding="utf-8",
    )
    assert _stack_keys(path) == {"shop:dbMultiAz": (False, 3), "shop:size": (3, 4), "shop:name": ("app", 7)}
    assert _stack_keys(None) == {}
    assert _stack_keys(tmp_path / "none.yaml") == {}
    path.write_text("config: [\n", encoding="utf-8")
    assert _stack_keys(path) == {}
    path.write_text("- a\n", encoding="utf-8")
    assert _stack_keys(path) == {}
    path.write_text("config: [a]\nother:\n  k: v\n", encoding="utf-8")
    assert _stack_keys(path) == {}


@pytest.mark.parametrize(
    ("key", "inputs", "message", "name", "expected"),
    [
        ("shop:dbMultiAz", {"multiAz": False}, "multiAz is not true", "dev-app-db", True),
        ("shop:dbMultiAz", {"multiAz": False}, "multi az is not true", "dev-app-db", False),  # not named
        ("shop:dbMultiAz", {"multiAz": 0}, "multiAz is not true", "dev-app-db", False),  # another type
        ("shop:dbMultiAz", {"multiAz": True}, "multiAz is not true", "dev-app-db", False),  # another value
        ("shop:cacheMultiAz", {"multiAz": False}, "multiAz is not true", "dev-app-db", False),  # prefix not in context
        ("shop:multiAz", {"multiAz": False}, "multiAz is not true", "x", True),
        ("shop:dbMultiAzEnabled", {"multiAz": False}, "multiAz is not true", "dev-app-db", True),
        ("shop:dbAz", {"az": False}, "az is not true", "dev-app-db", False),  # too short to be the same name
        ("shop:dbMultiA", {"multiAz": False}, "multiAz is not true", "dev-app-db", True),
        ("shop:dbMulti", {"multiAz": False}, "multiAz is not true", "dev-app-db", False),  # five letters: too short
        ("shop:devMultiAz", {"multiAz": False}, "multiAz is not true", "dev-x", False),  # the stack name only
        ("shop:dbMultiAz", {"nested": [{"multiAz": False}]}, "multiAz is not true", "dev-app-db", True),
        ("shop:dbMultiAz", {"multiAz": [False]}, "multiAz is not true", "dev-app-db", True),
    ],
)
def test_the_stack_setting_behind_a_finding(key, inputs, message, name, expected):
    keys = {"shop:other": ("x", 1), key: (False, 9)}
    found = _settings_behind(_db(inputs, name), message, keys, "dev")
    assert found == ([(key, 9)] if expected else [])


def test_settings_that_are_not_scalars_relate_nothing():
    resource = _db({"tags": {"a": "b"}, "multiAz": None})
    keys = {"shop:dbTags": ({"a": "b"}, 1), "shop:dbMultiAz": (None, 2), "shop:dbList": ([1], 3)}
    assert _settings_behind(resource, "tags multiAz list", keys, "dev") == []


def test_one_setting_is_related_once_and_in_file_order():
    resource = _db({"multiAz": False, "multiAzToo": False})
    keys = {"shop:dbMultiAz": (False, 5), "shop:dbMultiAzToo": (False, 3)}
    assert _settings_behind(resource, "multiAz multiAzToo", keys, "dev") == [
        ("shop:dbMultiAz", 5),
        ("shop:dbMultiAzToo", 3),
    ]


def _policy(name, **kw):
    return ResourceValidationPolicy(name, f"{name} described", validate=lambda a, r: None, **kw)


POLICIES_HERE = [
    _policy(
        "db-multi-az",
        remediation_steps="turn it on",
        severity=Severity.HIGH,
        tags=["availability", "security"],
        url="https://x/u",
    ),
    _policy("plain-rule"),
]
TEXTS = {"db-multi-az": SimpleNamespace(doc_url="https://docs/db", why="because")}


def _run(tmp_path, violations, **kw):
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "__main__.py").write_text("", encoding="utf-8")
    settings = {
        "db-multi-az": PolicySettings(EnforcementLevel.REMEDIATE, {}),
        "plain-rule": PolicySettings(EnforcementLevel.ADVISORY, {}),
    }
    result = GateResult(
        "shop",
        "dev",
        tmp_path,
        "__main__.py",
        [_db({"multiAz": False})],
        violations,
        settings,
        kw.pop("policy_config", None),
        **kw,
    )
    (run,) = json.loads(as_sarif([result], POLICIES_HERE, TEXTS))["runs"]
    return run


def test_sarif_rules_exactly(tmp_path):
    rules = _run(tmp_path, [])["tool"]["driver"]["rules"]
    assert rules == [
        {
            "id": "db-multi-az",
            "name": "DbMultiAz",
            "shortDescription": {"text": "db-multi-az described"},
            "help": {"text": "turn it on"},
            "helpUri": "https://docs/db",
            "defaultConfiguration": {"level": "error"},
            "properties": {
                "tags": ["security", "availability"],
                "precision": "high",
                "severity": "high",
                "security-severity": "8.0",
            },
            "fullDescription": {"text": "because"},
        },
        {
            "id": "plain-rule",
            "name": "PlainRule",
            "shortDescription": {"text": "plain-rule described"},
            "help": {"text": "plain-rule described"},
            "defaultConfiguration": {"level": "warning"},
            "properties": {"tags": ["security"], "precision": "high"},
        },
    ]
    texts = {"db-multi-az": SimpleNamespace(doc_url="", why="")}
    (tmp_path / ".git").mkdir(exist_ok=True)
    result = GateResult(
        "shop",
        "dev",
        tmp_path,
        "m.py",
        [],
        [],
        {p.name: PolicySettings(EnforcementLevel.MANDATORY, {}) for p in POLICIES_HERE},
        None,
    )
    rule = json.loads(as_sarif([result], POLICIES_HERE, texts))["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["helpUri"] == "https://x/u" and "fullDescription" not in rule


def test_sarif_results_exactly(tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  shop:dbMultiAz: false\n", encoding="utf-8")
    violations = [
        Violation("db-multi-az", "mandatory", URN, DB, "dev-app-db", "multiAz is not true", baselined=True),
        Violation(
            "other-rule",
            "advisory",
            "urn:pulumi:dev::shop::pulumi:pulumi:Stack::shop-dev",
            "pulumi:pulumi:Stack",
            "shop-dev",
            "stack",
            waived=Waiver("shop-dev", "fine"),
        ),
    ]
    run = _run(tmp_path, violations, stack_file=stack_file, baseline_gone=0)
    first, second = run["results"]
    assert first == {
        "ruleId": "db-multi-az",
        "level": "error",
        "message": {"text": f"{DB} dev-app-db: multiAz is not true"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": "__main__.py", "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"fullyQualifiedName": URN, "name": "dev-app-db", "kind": "resource"}],
            }
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": hashlib.sha256(f"db-multi-az|{URN}".encode()).hexdigest()[:16] + ":1"
        },
        "ruleIndex": 0,
        "baselineState": "unchanged",
        "relatedLocations": [
            {
                "id": 0,
                "message": {"text": "stack setting shop:dbMultiAz"},
                "physicalLocation": {
                    "artifactLocation": {"uri": "Pulumi.dev.yaml", "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 2},
                },
            }
        ],
    }
    assert second["level"] == "warning" and "ruleIndex" not in second
    assert second["suppressions"] == [{"kind": "external", "justification": "fine"}]
    assert second["baselineState"] == "new" and "relatedLocations" not in second
    assert run["automationDetails"] == {"id": "stateless-guard/shop/dev/"}
    assert run["originalUriBaseIds"] == {
        "%SRCROOT%": {"uri": tmp_path.as_uri() + "/", "description": {"text": "The repository root"}}
    }
    assert run["tool"]["driver"]["name"] == "stateless-guard"
    assert run["tool"]["driver"]["informationUri"] == "https://www.pulumi.com/docs/using-pulumi/crossguard/"
    plain = _run(tmp_path, violations[:1])["results"][0]
    assert "baselineState" not in plain and "relatedLocations" not in plain and "suppressions" not in plain


def test_sarif_notifications(tmp_path):
    unmatched = [UnmatchedWaiver("db-multi-az", Waiver("gone", "r"))]
    invocation = _run(tmp_path, [], unmatched_waivers=unmatched)["invocations"][0]
    assert invocation == {
        "executionSuccessful": True,
        "toolConfigurationNotifications": [
            {
                "level": "note",
                "message": {"text": "policy config: none applies: every rule at its default enforcement, no waivers"},
            },
            {
                "level": "warning",
                "message": {
                    "text": "note: the waiver of 'gone' for db-multi-az in the policy config matches no finding: "
                    "remove it, or correct the resource"
                },
            },
        ],
    }
    configured = _run(tmp_path, [], policy_config=tmp_path / "p.json")["invocations"][0]
    assert configured["toolConfigurationNotifications"] == []
    assert as_sarif([], POLICIES_HERE, TEXTS).startswith('{\n  "$schema": ')
    doc = json.loads(as_sarif([], POLICIES_HERE, TEXTS))
    assert doc == {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": []}


def test_the_project_of_a_setting_is_not_part_of_its_name():
    resource = _db({"multiAz": False})
    assert _settings_behind(resource, "multiAz", {"dbMultiAz": (False, 1)}, "dev") == [("dbMultiAz", 1)]
    # Only the project is cut off: "db:multiAz" is not the property multiAz.
    assert _settings_behind(resource, "multiAz", {"shop:db:MultiAz": (False, 1)}, "dev") == []


def test_a_later_setting_and_a_later_property_are_still_related():
    resource = _db({"other": False, "multiAz": False})
    keys = {"shop:dbTags": ({"a": "b"}, 1), "shop:dbMultiAz": (False, 2)}
    assert _settings_behind(resource, "multiAz is not true", keys, "dev") == [("shop:dbMultiAz", 2)]

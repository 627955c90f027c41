"""Waivers through the gate's command line: in a program's own policy file and with --policy-config,
for programs and for documents (also from standard input), and the one clear error of a waiver
without a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.unit.policies.gate.helpers import PROGRAMS, gate, valid_report, valid_sarif

BUCKET_ACL = "aws:s3/bucketAclV2:BucketAclV2"


def _preview(project: str = "shop") -> str:
    def step(type_: str, name: str, inputs: dict) -> dict:
        urn = f"urn:pulumi:dev::{project}::{type_}::{name}"
        return {
            "op": "create",
            "urn": urn,
            "detailedDiff": None,
            "newState": {"urn": urn, "custom": True, "type": type_, "inputs": inputs, "outputs": inputs},
        }

    return json.dumps(
        {
            "steps": [
                step("pulumi:pulumi:Stack", f"{project}-dev", {}),
                step(BUCKET_ACL, "site-bucket", {"bucket": "site", "acl": "public-read"}),
                step("aws:ebs/volume:Volume", "data", {"size": 8}),
            ]
        }
    )


@pytest.fixture
def program(tmp_path: Path) -> Path:
    target = tmp_path / "public_bucket"
    shutil.copytree(PROGRAMS / "public_bucket", target)
    return target


def _policy(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_the_programs_own_policy_file_waives_and_an_expired_waiver_fails(program):
    waiver = {"resource": "site", "reason": "public website, reviewed", "expires": "2999-06-30"}
    _policy(program / "policy.dev.json", {"s3-no-public-access": {"waivers": [waiver]}, "all": "advisory"})
    out = gate("--stack", "dev", "--program", str(program), "--format", "json")
    doc = valid_report(out.stdout)
    assert out.returncode == 0, out.stderr
    waived = [v for v in doc["violations"] if "waived" in v]
    assert {v["name"] for v in waived} == {"site"} and len(waived) == 2
    assert {json.dumps(v["waived"]) for v in waived} == {
        json.dumps({"reason": "public website, reviewed", "expires": "2999-06-30"})
    }
    # Relative to the repository root (here the program's directory: it is in no repository).
    assert doc["stacks"][0]["policyConfig"] == "policy.dev.json"

    expired = {**waiver, "expires": "2020-06-30"}
    _policy(
        program / "policy.dev.json", {"s3-no-public-access": {"enforcementLevel": "mandatory", "waivers": [expired]}}
    )
    out = gate("--stack", "dev", "--program", str(program))
    assert out.returncode == 1, out.stderr
    assert "(waiver expired on 2020-06-30: public website, reviewed)" in out.stdout


def test_a_waiver_without_a_reason_is_exit_2_naming_the_file_and_the_policy(program):
    path = _policy(program / "policy.dev.json", {"s3-no-public-access": {"waivers": [{"resource": "site"}]}})
    out = gate("--stack", "dev", "--program", str(program))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{path}: s3-no-public-access: waivers[0]: the waiver of 'site' has no reason" in out.stderr
    _policy(path, {"s3-no-public-access": {"waivers": [{"resource": "site", "reason": "r", "expires": "soon"}]}})
    out = gate("--stack", "dev", "--program", str(program))
    assert out.returncode == 2 and "expires 'soon' is not a date (YYYY-MM-DD)" in out.stderr


def test_policy_config_applies_to_a_document_from_standard_input(tmp_path):
    # Another project's preview, judged from a directory that is no project: its SARIF is located.
    out = gate("--preview", "-", "--stack", "dev", "--format", "sarif", stdin=_preview(), cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    run = valid_sarif(out.stdout)["runs"][0]
    assert {r["ruleId"] for r in run["results"]} >= {"s3-no-public-access", "no-ebs-data-volumes"}
    for result in run["results"]:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "stdin"
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolConfigurationNotifications"]]
    assert any(n.startswith("policy config: none applies") for n in notes)

    policy = _policy(
        tmp_path / "policy.json",
        {
            "s3-no-public-access": {"waivers": [{"resource": "site-*", "reason": "public website, reviewed"}]},
            "no-ebs-data-volumes": "advisory",
        },
    )
    args = ("--preview", "-", "--stack", "dev", "--policy-config", str(policy))
    out = gate(*args, "--format", "sarif", stdin=_preview(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run = valid_sarif(out.stdout)["runs"][0]
    (waived,) = [r for r in run["results"] if r["ruleId"] == "s3-no-public-access"]
    assert waived["suppressions"] == [{"kind": "external", "justification": "public website, reviewed"}]
    assert [r["level"] for r in run["results"] if r["ruleId"] == "no-ebs-data-volumes"] == ["warning"]
    doc = valid_report(gate(*args, "--format", "json", stdin=_preview(), cwd=tmp_path).stdout)
    assert doc["stacks"][0]["policyConfig"] == "policy.json"


def test_github_format_points_at_the_declaring_lines(program):
    out = gate("--stack", "dev", "--program", str(program), "--format", "github", cwd=program)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    source = (program / "__main__.py").read_text().splitlines()
    acl_line = next(i for i, line in enumerate(source, 1) if "BucketAclV2(" in line)
    (acl,) = [x for x in lines if "title=s3-no-public-access" in x and "BucketAclV2" in x]
    # The fixture's directory is no repository: paths are relative to the program directory.
    assert acl.startswith(f"::error file=__main__.py,line={acl_line},title=s3-no-public-access::")
    assert lines[-1].startswith("FAIL stateless-guard public_bucket/dev:")

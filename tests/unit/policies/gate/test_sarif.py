"""SARIF for code scanning: every document valid against the official SARIF 2.1.0 schema, each finding
at the line that declares its resource (relative to the repository root), the stack setting behind it
as a related location, and a fingerprint per finding that survives unrelated edits."""

from __future__ import annotations

import shutil
from pathlib import Path

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

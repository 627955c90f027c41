"""The delivery pipeline as code: linted offline with actionlint, and its promotion rules checked."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = ("dev", "staging", "prod")
# Every stack file is gated and previewed; only the three environments are promoted.
GATED = (*STACKS, "dev-eks")


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert found, "actionlint is not installed: `make install` brings it with requirements-dev.txt"
    return found


def lint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", *map(str, files)], capture_output=True, text=True, timeout=60, check=False
    )


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def test_every_workflow_passes_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files
    result = lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = (WORKFLOWS / "pipeline.yml").read_text().replace("needs: [test, gate]", "needs: [tests, gate]", 1)
    target = tmp_path / ".github" / "workflows" / "pipeline.yml"
    target.parent.mkdir(parents=True)
    target.write_text(broken)
    result = lint(target)
    assert result.returncode == 1 and '"tests"' in result.stdout


def test_pull_requests_are_tested_gated_and_previewed_per_stack() -> None:
    pipeline = load("pipeline.yml")
    assert "pull_request" in pipeline["on"]
    jobs = pipeline["jobs"]
    assert "make test" in str(jobs["test"]["steps"])
    assert jobs["gate"]["strategy"]["matrix"]["stack"] == list(GATED)
    gate_steps = str(jobs["gate"]["steps"])
    assert "python -m policies.gate" in gate_steps and "--format sarif" in gate_steps
    assert "upload-sarif" in gate_steps
    preview = jobs["preview"]
    assert preview["strategy"]["matrix"]["stack"] == list(GATED)
    action = next(s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview"
    assert action["with"]["policyPacks"] == "policies"
    assert action["with"]["policyPackConfigs"] == "stacks/policy.${{ matrix.stack }}.json"


def test_every_stack_file_is_gated_and_has_its_policy_config() -> None:
    stack_files = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert sorted(GATED) == stack_files
    assert all((ROOT / "stacks" / f"policy.{s}.json").is_file() for s in stack_files)


def test_main_is_promoted_dev_then_staging_then_prod_behind_environments() -> None:
    jobs = load("pipeline.yml")["jobs"]
    assert jobs["deploy-dev"]["needs"] == ["test", "gate"]
    assert jobs["deploy-staging"]["needs"] == ["deploy-dev"]
    assert jobs["deploy-prod"]["needs"] == ["deploy-staging"]
    assert [jobs[f"deploy-{s}"]["with"]["stack"] for s in STACKS] == list(STACKS)
    deploy = load("deploy.yml")["jobs"]["up"]
    assert deploy["environment"] == "${{ inputs.stack }}"
    action = next(s for s in deploy["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "up"
    assert action["with"]["policyPackConfigs"] == "stacks/policy.${{ inputs.stack }}.json"


@pytest.mark.parametrize("name", ["pipeline.yml", "deploy.yml"])
def test_cloud_access_is_oidc_only_never_stored_keys(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "aws-secret-access-key" not in text
    workflow = load(name)
    for job in workflow["jobs"].values():
        steps = job.get("steps", [])
        if any("configure-aws-credentials" in str(s.get("uses", "")) for s in steps):
            assert job.get("permissions", workflow["permissions"])["id-token"] == "write"
            creds = next(s for s in steps if "configure-aws-credentials" in str(s.get("uses", "")))
            assert creds["with"]["role-to-assume"].startswith("${{ vars.")

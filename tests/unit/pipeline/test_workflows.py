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


def step_using(job: dict, action: str) -> dict:
    steps = [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]
    # pulumi/actions without a command only installs the CLI (deploy.yml uses it before promoting).
    commands = [s for s in steps if "command" in s.get("with", {})]
    return (commands or steps)[0]


def test_pull_requests_are_tested_gated_and_previewed_per_stack() -> None:
    pipeline = load("pipeline.yml")
    assert "pull_request" in pipeline["on"]
    jobs = pipeline["jobs"]
    assert "make test" in str(jobs["test"]["steps"])
    preview = jobs["preview"]
    assert preview["strategy"]["matrix"]["stack"] == list(GATED)
    action = step_using(preview, "pulumi/actions")
    assert action["with"]["command"] == "preview"
    assert action["with"]["policyPacks"] == "policies"
    assert action["with"]["policyPackConfigs"] == "stacks/policy.${{ matrix.stack }}.json"


def test_the_gate_judges_every_stack_in_one_run_and_its_upload_cannot_fail_the_job() -> None:
    gate = load("pipeline.yml")["jobs"]["gate"]
    assert "strategy" not in gate
    runs = [s["run"] for s in gate["steps"] if "policies.gate" in s.get("run", "")]
    assert len(runs) == 1 and runs[0].count("python -m policies.gate") == 1
    assert '--all-stacks "${against[@]}" --format sarif --output gate.sarif' in runs[0]
    upload = step_using(gate, "github/codeql-action/upload-sarif")
    assert upload["continue-on-error"] is True and upload["with"]["sarif_file"] == "gate.sarif"
    kept = step_using(gate, "actions/upload-artifact")
    assert kept["if"] == "always()" and kept["with"]["path"] == "gate.sarif"
    verdict = gate["steps"][-1]
    assert verdict["if"] == "steps.gate.outputs.status != '0'" and "exit 1" in verdict["run"]


def test_pull_requests_from_forks_skip_the_preview() -> None:
    condition = load("pipeline.yml")["jobs"]["preview"]["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition


def cloud_jobs() -> list[tuple[str, dict]]:
    return [
        (name, job)
        for name in ("pipeline.yml", "deploy.yml")
        for job in load(name)["jobs"].values()
        if any(str(s.get("uses", "")).startswith("pulumi/actions@") for s in job.get("steps", []))
    ]


def test_pulumi_cloud_is_reached_through_oidc_with_the_pinned_cli() -> None:
    assert len(cloud_jobs()) == 2
    for name, job in cloud_jobs():
        assert "PULUMI_ACCESS_TOKEN" not in (WORKFLOWS / name).read_text()
        uses = [str(s.get("uses", "")).split("@")[0] for s in job["steps"]]
        assert uses.index("pulumi/auth-actions") < uses.index("pulumi/actions")
        auth = step_using(job, "pulumi/auth-actions")
        assert auth["with"]["organization"] == "${{ steps.org.outputs.name }}"
        assert auth["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
        assert job.get("permissions", load(name).get("permissions"))["id-token"] == "write"
        assert step_using(job, "pulumi/actions")["with"]["pulumi-version-file"] == ".pulumi-version"


def test_the_pinned_cli_is_inside_every_pulumi_sdk_range() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    pinned = Version((ROOT / ".pulumi-version").read_text().strip())
    ranges = [
        Requirement(line)
        for file in ("requirements.txt", "policies/requirements.txt")
        for line in (ROOT / file).read_text().splitlines()
        if line.startswith("pulumi") and Requirement(line).name == "pulumi"
    ]
    assert len(ranges) == 2
    assert all(pinned in r.specifier for r in ranges)


def run_step(script: str, env: dict[str, str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    output = tmp_path / "github-output"
    output.write_text("")
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done, output.read_text()


@pytest.mark.parametrize("name", ["pipeline.yml", "deploy.yml"])
def test_stack_names_cannot_collapse_to_a_bare_stack(name: str, tmp_path: Path) -> None:
    job = next(j for file, j in cloud_jobs() if file == name)
    assert step_using(job, "pulumi/actions")["with"]["stack-name"].startswith("${{ steps.org.outputs.name }}/")
    org = next(s for s in job["steps"] if s.get("id") == "org")
    assert org["env"]["PULUMI_ORG"] == "${{ vars.PULUMI_ORG }}"
    unset, written = run_step(org["run"], {"PULUMI_ORG": ""}, tmp_path)
    assert unset.returncode == 1 and "PULUMI_ORG is not set" in unset.stdout and written == ""
    given, written = run_step(org["run"], {"PULUMI_ORG": "acme"}, tmp_path)
    assert given.returncode == 0 and written == "name=acme\n"


def test_preview_and_deploy_install_only_the_program_and_the_pack() -> None:
    for _, job in cloud_jobs():
        installs = [s["run"] for s in job["steps"] if "make " in s.get("run", "")]
        assert installs == ["make deps-program deps-pack"]
    dry = subprocess.run(
        ["make", "-n", "-B", "deps-program", "deps-pack"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "-r infra/requirements.txt" in dry and "-r policies/requirements.lock" in dry
    assert "requirements-dev" not in dry and "apt-get" not in dry


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
    action = step_using(deploy, "pulumi/actions")
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


def test_the_gate_compares_every_stack_with_the_pull_requests_base() -> None:
    gate = load("pipeline.yml")["jobs"]["gate"]
    checkout = step_using(gate, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0  # the base commit must be there to be planned
    step = next(s for s in gate["steps"] if "policies.gate" in s.get("run", ""))
    assert step["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha || github.event.before }}"
    assert 'against=(--against-rev "$BASE_SHA")' in step["run"]

"""One image per commit: the pipeline hands each stage the image the previous one deployed, the promotion
script copies it by digest and pins the stack to that digest, and the program then runs exactly it.

The promotion script runs here against stand-in `pulumi`, `aws` and `docker` commands that record their
arguments and answer as the real ones do for the calls it makes; the last test feeds the digest it sets
into the program under the mock engine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from policies.gate.mockengine import run_program

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPT = ROOT / ".github" / "scripts" / "promote-image.sh"
DIGEST = "sha256:" + "c3" * 32
SOURCE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/staging-image-repo-1a2b3c4@{DIGEST}"
TARGET_REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod-image-repo-5d6e7f8"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def test_each_stage_is_handed_the_image_the_previous_stage_deployed() -> None:
    jobs = load("pipeline.yml")["jobs"]
    assert "image" not in jobs["deploy-dev"]["with"]
    assert jobs["deploy-staging"]["with"]["image"] == "${{ needs.deploy-dev.outputs.image }}"
    assert jobs["deploy-prod"]["with"]["image"] == "${{ needs.deploy-staging.outputs.image }}"
    assert jobs["deploy-prod"]["needs"] == ["deploy-staging"]


def test_a_deploy_reports_what_its_stack_runs_and_promotes_only_when_given_an_image() -> None:
    deploy = load("deploy.yml")
    call = deploy["on"]["workflow_call"]
    assert call["inputs"]["image"]["default"] == ""
    assert call["outputs"]["image"]["value"] == "${{ jobs.up.outputs.image }}"
    job = deploy["jobs"]["up"]
    assert job["outputs"]["image"] == "${{ steps.deployed.outputs.image }}"
    steps = job["steps"]
    ids = [s.get("id") for s in steps]
    promote = steps[ids.index("promote")]
    assert promote["if"] == "inputs.image != ''"
    assert promote["env"]["SOURCE_IMAGE"] == "${{ inputs.image }}"
    assert promote["run"] == '.github/scripts/promote-image.sh "$STACK" "$SOURCE_IMAGE"'
    # Promote, then `pulumi up`, then read what runs: in that order.
    assert ids.index("promote") < ids.index("pulumi") < ids.index("deployed")
    assert steps[ids.index("deployed")]["env"]["PROMOTED"] == "${{ steps.promote.outputs.digest }}"


def fake_tools(tmp_path: Path, *, repository: str | None, present: bool) -> tuple[dict[str, str], Path]:
    """`pulumi`, `aws` and `docker` stand-ins; every call is appended to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    state = tmp_path / "state.json"
    resources = [] if repository is None else [{
        "urn": "urn:pulumi:prod::stateless-stack::stateless:registry:ImageRepository$aws:ecr/repository:Repository"
               "::prod-image-repo",
        "type": "aws:ecr/repository:Repository", "outputs": {"repositoryUrl": repository},
    }]
    state.write_text(json.dumps({"deployment": {"resources": resources}}))
    created = json.dumps({"deployment": {"resources": [{
        "urn": "urn:pulumi:prod::stateless-stack::stateless:registry:ImageRepository$aws:ecr/repository:Repository"
               "::prod-image-repo",
        "type": "aws:ecr/repository:Repository", "outputs": {"repositoryUrl": TARGET_REPO}}]}})
    (bin_dir / "pulumi").write_text(f"""#!/bin/bash
echo "pulumi $*" >> {log}
case "$1 $2" in
  "stack export") cat {state} ;;
  "up --yes") printf '%s' '{created}' > {state} ;;
esac
""")
    present_marker = tmp_path / "present"
    if present:
        present_marker.write_text("")
    (bin_dir / "aws").write_text(f"""#!/bin/bash
echo "aws $*" >> {log}
case "$2" in
  get-login-password) echo token ;;
  describe-images) [ -e {present_marker} ] ;;
esac
""")
    (bin_dir / "docker").write_text(f"""#!/bin/bash
echo "docker $*" >> {log}
cat > /dev/null
if [ "$2" = imagetools ]; then touch {present_marker}; fi
""")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    output = tmp_path / "github-output"
    output.write_text("")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "HOME": str(tmp_path)}
    return env, log


def promote(tmp_path: Path, source: str = SOURCE, *, repository: str | None = TARGET_REPO,
            present: bool = False) -> tuple[subprocess.CompletedProcess[str], list[str], dict[str, str]]:
    env, log = fake_tools(tmp_path, repository=repository, present=present)
    done = subprocess.run(["bash", str(SCRIPT), "acme/prod", source], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    outputs = dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().splitlines())
    return done, calls, outputs


def test_promotion_copies_the_manifest_unchanged_under_the_digest_and_pins_the_stack(tmp_path: Path) -> None:
    done, calls, outputs = promote(tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"pulumi config set --stack acme/prod imageDigest {DIGEST}" in calls
    copies = [c for c in calls if "imagetools create" in c]
    assert copies == [f"docker buildx imagetools create --prefer-index=false --tag "
                      f"{TARGET_REPO}:sha256-{DIGEST.removeprefix('sha256:')} {SOURCE}"]
    assert outputs == {"digest": DIGEST, "image": f"{TARGET_REPO}@{DIGEST}"}
    assert not any(c.startswith("pulumi up") for c in calls)


def test_a_digest_already_in_the_repository_is_not_pushed_again(tmp_path: Path) -> None:
    done, calls, outputs = promote(tmp_path, present=True)
    assert done.returncode == 0, done.stderr
    assert not any("imagetools create" in c for c in calls)
    assert outputs["digest"] == DIGEST


def test_the_first_deploy_creates_only_the_repository_before_copying(tmp_path: Path) -> None:
    done, calls, outputs = promote(tmp_path, repository=None)
    assert done.returncode == 0, done.stderr
    ups = [c for c in calls if c.startswith("pulumi up")]
    assert ups == ["pulumi up --yes --skip-preview --stack acme/prod --target **::stateless:registry:ImageRepository**"]
    assert calls.index(ups[0]) < next(i for i, c in enumerate(calls) if "imagetools create" in c)
    assert outputs["image"] == f"{TARGET_REPO}@{DIGEST}"


@pytest.mark.parametrize("source", ["repo:latest", f"{SOURCE.split('@')[0]}@sha256:abc", "", f"{SOURCE} extra"])
def test_anything_but_an_image_by_digest_is_refused_before_any_call(tmp_path: Path, source: str) -> None:
    done, calls, outputs = promote(tmp_path, source)
    assert done.returncode == 2 and "sha256:<64 hex>" in done.stdout + done.stderr
    assert calls == [] and outputs == {}


def test_a_copy_that_changed_the_digest_fails_the_promotion(tmp_path: Path) -> None:
    env, log = fake_tools(tmp_path, repository=TARGET_REPO, present=False)
    # A copy that wraps the manifest (another digest) leaves the given digest absent from the repository.
    (Path(env["PATH"].split(":")[0]) / "docker").write_text(f"#!/bin/bash\necho \"docker $*\" >> {log}\n")
    done = subprocess.run(["bash", str(SCRIPT), "acme/prod", SOURCE], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0
    assert Path(env["GITHUB_OUTPUT"]).read_text() == ""


def test_the_deployed_check_refuses_a_stack_that_runs_another_digest(tmp_path: Path) -> None:
    step = next(s for s in load("deploy.yml")["jobs"]["up"]["steps"] if s.get("id") == "deployed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    output = tmp_path / "out"

    def run_with(runs: str, promoted: str) -> subprocess.CompletedProcess[str]:
        (bin_dir / "pulumi").write_text(f"#!/bin/bash\necho '{runs}'\n")
        (bin_dir / "pulumi").chmod(0o755)
        output.write_text("")
        return subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, timeout=30,
                              check=False, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output),
                                                "STACK": "acme/prod", "PROMOTED": promoted})

    good = run_with(f"{TARGET_REPO}@{DIGEST}", DIGEST)
    assert good.returncode == 0 and output.read_text() == f"image={TARGET_REPO}@{DIGEST}\n"
    other = "sha256:" + "d4" * 32
    bad = run_with(f"{TARGET_REPO}@{other}", DIGEST)
    assert bad.returncode == 1 and "not the promoted digest" in bad.stdout and output.read_text() == ""
    first = run_with(f"{TARGET_REPO}@{other}", "")
    assert first.returncode == 0 and output.read_text() == f"image={TARGET_REPO}@{other}\n"


def test_the_digest_staging_deployed_is_the_digest_prod_deploys(tmp_path: Path) -> None:
    done, calls, _ = promote(tmp_path)
    assert done.returncode == 0, done.stderr
    setting = next(c for c in calls if c.startswith("pulumi config set"))
    key, value = setting.split()[-2:]
    run = run_program(ROOT, "prod", config_overrides={key: value})
    digest = SOURCE.split("@", 1)[1]
    assert run.outputs["appImage"].endswith(f"@{digest}")
    functions = run.of_type("aws:lambda/function:Function")
    assert functions and all(fn.inputs["imageUri"].endswith(f"@{digest}") for fn in functions)
    assert run.of_type("docker-build:index:Image") == []
    assert os.path.basename(SCRIPT) in load("deploy.yml")["jobs"]["up"]["steps"][
        [s.get("id") for s in load("deploy.yml")["jobs"]["up"]["steps"]].index("promote")]["run"]


def test_previews_of_promoted_stacks_keep_the_image_they_run(tmp_path: Path) -> None:
    preview = load("pipeline.yml")["jobs"]["preview"]
    step = next(s for s in preview["steps"] if s.get("name") == "Preview a promoted stack against the image it runs")
    assert step["if"] == "matrix.stack == 'staging' || matrix.stack == 'prod'"
    names = [s.get("name") or s.get("uses") for s in preview["steps"]]
    assert names.index(step["name"]) < max(i for i, s in enumerate(preview["steps"])
                                           if s.get("with", {}).get("command") == "preview")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"

    def run_with(output: str | None) -> list[str]:
        answer = f"echo '{output}'" if output is not None else "exit 255"
        (bin_dir / "pulumi").write_text(
            f"#!/bin/bash\necho \"pulumi $*\" >> {log}\nif [ \"$1 $2\" = 'stack output' ]; then {answer}; fi\n")
        (bin_dir / "pulumi").chmod(0o755)
        log.write_text("")
        done = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, timeout=30,
                              check=False, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "STACK": "acme/prod"})
        assert done.returncode == 0, done.stderr
        return log.read_text().splitlines()

    assert run_with(f"{TARGET_REPO}@{DIGEST}")[-1] == f"pulumi config set --stack acme/prod imageDigest {DIGEST}"
    assert not any("config set" in c for c in run_with(None))

"""The pipeline's dev-eks jobs: previewed with the other stacks, deployed beside dev from a runner the
cluster's API endpoint admits, after a preflight that fails in seconds anywhere else."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.pipeline.test_workflows import ROOT, load, step_using


def test_dev_eks_is_deployed_on_main_beside_dev_not_promoted() -> None:
    jobs = load("pipeline.yml")["jobs"]
    job = jobs["deploy-dev-eks"]
    assert job["if"] == jobs["deploy-dev"]["if"]
    assert job["needs"] == ["test", "gate"]
    assert job["uses"] == "./.github/workflows/deploy.yml"
    assert job["with"] == {"stack": "dev-eks", "runner": "${{ vars.EKS_DEPLOY_RUNNER || 'ubuntu-latest' }}"}
    assert all("deploy-dev-eks" not in str(j.get("needs", "")) for j in jobs.values())
    assert "dev-eks" in jobs["preview"]["strategy"]["matrix"]["stack"]


def test_the_deploy_job_runs_where_it_is_told_and_checks_before_it_touches_aws() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["workflow_call"]["inputs"]["runner"]["default"] == "ubuntu-latest"
    job = deploy["jobs"]["up"]
    assert job["runs-on"] == "${{ inputs.runner }}"
    steps = job["steps"]
    [preflight] = [s for s in steps if "infra.eks_preflight" in s.get("run", "")]
    creds = step_using(job, "aws-actions/configure-aws-credentials")
    up = step_using(job, "pulumi/actions")
    assert steps.index(preflight) < steps.index(creds) < steps.index(up)
    assert preflight["env"] == {"STACK": "${{ inputs.stack }}", "DEPLOY_ROLE_ARN": "${{ vars.AWS_DEPLOY_ROLE_ARN }}"}
    assert ('.venv/bin/python -m infra.eks_preflight --stack "$STACK" --address "$address" '
            '--role-arn "$DEPLOY_ROLE_ARN"') in preflight["run"]


def test_the_preflight_the_workflow_names_runs_as_a_module() -> None:
    result = subprocess.run([sys.executable, "-m", "infra.eks_preflight", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0 and "--role-arn" in result.stdout

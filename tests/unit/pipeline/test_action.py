"""The composite GitHub Action (action.yml) and the pre-commit hook (.pre-commit-hooks.yaml) run the
installed `stateless-guard` command with the arguments their inputs say."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def step(step_id: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if s.get("id") == step_id)


def run_gate_step(tmp_path: Path, status: int = 0, **inputs: str) -> tuple[list[str], str, int]:
    """The gate step's script under bash with the action's inputs, and a stand-in for the installed
    command that records its arguments."""
    bin_dir = tmp_path / "stateless-guard" / "bin"
    bin_dir.mkdir(parents=True)
    recorded = tmp_path / "args"
    fake = bin_dir / "stateless-guard"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > {recorded}\nexit {status}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    values = {**defaults, **inputs}
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "output")}
    for key, expression in step("gate")["env"].items():
        name = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expression)
        assert name, expression
        env[key] = values[name.group(1)]
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", step("gate")["run"]], env=env, check=False)
    return recorded.read_text().splitlines(), (tmp_path / "output").read_text(), done.returncode


def test_every_stack_by_default(tmp_path: Path) -> None:
    args, output, code = run_gate_step(tmp_path)
    assert args == ["--all-stacks", "--program", ".", "--format", "text"]
    assert (output, code) == ("exit-code=0\n", 0)


def test_stacks_format_and_extra_arguments(tmp_path: Path) -> None:
    args, _, _ = run_gate_step(
        tmp_path, stacks="dev\nprod staging", program="infra dir", format="github", args="--timeout 60"
    )
    assert args == [
        "--stack", "dev", "--stack", "prod", "--stack", "staging",
        "--program", "infra dir", "--format", "github", "--timeout", "60",
    ]  # fmt: skip


def test_sarif_file_replaces_the_format(tmp_path: Path) -> None:
    args, _, _ = run_gate_step(tmp_path, stacks="prod", **{"sarif-file": "gate.sarif"})
    assert args == ["--stack", "prod", "--program", ".", "--format", "sarif", "--output", "gate.sarif"]


@pytest.mark.parametrize("status", [1, 2])
def test_the_gates_exit_status_is_the_steps_and_an_output(tmp_path: Path, status: int) -> None:
    _, output, code = run_gate_step(tmp_path, status)
    assert (output, code) == (f"exit-code={status}\n", status)


def test_the_action_installs_from_its_own_path_and_uploads_only_when_asked() -> None:
    assert ACTION["runs"]["using"] == "composite"
    install = ACTION["runs"]["steps"][0]["run"]
    assert "-m pip install" in install and '"$GITHUB_ACTION_PATH"' in install
    upload = next(s for s in ACTION["runs"]["steps"] if "upload-sarif" in s.get("uses", ""))
    assert "inputs.upload-sarif == 'true'" in upload["if"]
    assert ACTION["inputs"]["upload-sarif"]["default"] == "false"
    # Inputs reach the script through the environment, never pasted into it.
    assert "${{" not in step("gate")["run"]


def test_the_pre_commit_hook_runs_the_installed_command_on_every_stack() -> None:
    (hook,) = HOOKS
    assert hook["language"] == "python"
    assert hook["entry"] in SCRIPTS
    assert hook["args"] == ["--all-stacks"] and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for path in ("infra/__main__.py", "Pulumi.yaml", "stacks/Pulumi.prod.yaml", "stacks/policy.prod.json"):
        assert files.search(path), path
    for path in ("README.md", "app/static/site.css", "stacks/notes.json"):
        assert not files.search(path), path

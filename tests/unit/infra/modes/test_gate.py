"""Every stack file, whichever modes it selects, passes the offline gate as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.unit.infra.conftest import ROOT, stack_files


def test_the_example_stacks_cover_both_compute_and_ingress_modes() -> None:
    assert {"dev", "staging", "prod", "dev-eks"} <= set(stack_files())
    for stack in stack_files():
        assert (ROOT / "stacks" / f"policy.{stack}.json").is_file(), stack


@pytest.mark.parametrize("stack", stack_files())
def test_gate_passes_with_no_mandatory_violation(stack: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "policies.gate", "--stack", stack, "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    report = json.loads(out.stdout)
    assert report["stack"] == stack and report["summary"]["mandatory"] == 0
    mandatory = [v for v in report["violations"] if v["enforcement"] == "mandatory"]
    assert mandatory == []

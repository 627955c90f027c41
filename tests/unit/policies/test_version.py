"""One version: the package's `__version__`, the pack manifest's `version`, what `--version` prints and
what SARIF names as the tool's version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from policies import __version__
from policies.gate.report import TOOL_VERSION

ROOT = Path(__file__).resolve().parents[3]


def test_the_pack_manifest_has_the_package_version():
    manifest = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert str(manifest["version"]) == __version__ == TOOL_VERSION


def test_the_installable_package_has_the_same_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if "version" in project.get("dynamic", []):
        dynamic = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["dynamic"]
        # Read from the one constant, under whichever name the package is installed.
        assert dynamic["version"]["attr"].endswith(".__version__")
    else:
        assert project["version"] == __version__


def test_version_and_list_rules_need_no_stack():
    out = subprocess.run(
        [sys.executable, "-m", "policies.gate", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert (out.returncode, out.stdout) == (0, f"stateless-guard {__version__}\n")
    out = subprocess.run(
        [sys.executable, "-m", "policies.gate", "--list-rules"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    from policies.pack import POLICIES

    assert len(lines) == len(POLICIES)
    first = lines[0].split(None, 2)
    assert first == [POLICIES[0].name, POLICIES[0].enforcement_level.value, POLICIES[0].description]

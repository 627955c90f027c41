"""The gate runs a fixture program with the interpreter the Pulumi CLI would use: fixture projects
name no virtualenv, so that is the `python3` first on PATH. Every test here runs as a user of this
checkout does, with the test interpreter's virtualenv activated (policies/gate/toolchains/pip.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _activated_virtualenv(monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = Path(sys.executable).parent
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("VIRTUAL_ENV", str(bin_dir.parent))
    monkeypatch.delenv("PYTHONHOME", raising=False)

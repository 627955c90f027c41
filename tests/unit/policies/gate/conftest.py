"""The gate runs a fixture program with the interpreter the Pulumi CLI would use: fixture projects
name no virtualenv, so that is the `python3` first on PATH. Every test here runs as a user of this
checkout does, with the test interpreter's virtualenv activated (policies/gate/toolchains/pip.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _activated_virtualenv() -> Iterator[None]:
    # Session-wide, so that module-scoped fixtures which run the gate see it too.
    bin_dir = Path(sys.executable).parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
        patch.setenv("VIRTUAL_ENV", str(bin_dir.parent))
        patch.delenv("PYTHONHOME", raising=False)
        # bench/mutation's coverage pass: this process records which tests run which function (mutmut
        # keeps the mode in the process as well); a program's interpreter started from here runs the
        # mock engine's mutated copy and could record nothing, nor find the run's configuration.
        if os.environ.get("MUTANT_UNDER_TEST") == "stats":
            patch.delenv("MUTANT_UNDER_TEST")
        yield

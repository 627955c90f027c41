"""`make gate` installs only what the gate needs: no Debian package, none of the app's or the tests'
packages; the program's own (infra/requirements.txt, into the virtualenv Pulumi.yaml names) and the
gate's (the lock of policies/requirements.txt and policies/gate/requirements.txt), in hash-checking mode."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_make_gate_installs_the_program_and_the_gate_alone() -> None:
    # Run from `make test` too: a nested make prints "Entering/Leaving directory" unless told not to.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "gate"], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    ).stdout
    installed = re.findall(r"-r (\S+)", dry)
    assert sorted(installed) == ["infra/requirements.txt", "policies/gate/requirements.lock"]
    assert all("--require-hashes" in line for line in dry.splitlines() if "pip install" in line)
    assert "apt-get" not in dry and "dpkg" not in dry
    assert dry.strip().splitlines()[-1] == ".venv/bin/python -m policies.gate --all-stacks"

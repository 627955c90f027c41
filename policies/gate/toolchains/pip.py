"""pip: the virtualenv Pulumi.yaml names, resolved against the project root; without one, the
`python3` (then `python`) first on PATH, or PULUMI_PYTHON_CMD, in the caller's environment, so an
activated virtualenv is the one used (pulumi/pulumi sdk/python/toolchain/pip.go: newPip and
resolveVirtualEnvironmentPath 55-59, 583-591; Command 178-193; ValidateVenv 241-246 with
NewVirtualEnvError 418-439; CommandPath 304-345)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Interpreter, ToolchainError, activate, is_virtualenv, virtualenv_python

if TYPE_CHECKING:
    from ..toolchain import PythonOptions

NAME = "pip"


def find(options: PythonOptions, environ: Mapping[str, str]) -> Interpreter:
    if options.virtualenv:
        # An absolute path stays itself when joined to a directory (pathlib), as the CLI keeps it.
        venv = options.root / options.virtualenv
        python = virtualenv_python(venv)
        if not is_virtualenv(venv):
            state = "does not exist" if not venv.exists() else "is not a virtual environment (no bin/python)"
            raise ToolchainError(
                f"the 'virtualenv' option in Pulumi.yaml is set to {options.virtualenv!r}, but {venv} {state}; "
                f"create it with `python3 -m venv {venv} && {python} -m pip install -r requirements.txt` "
                "(or `pulumi install`)"
            )
        return Interpreter(
            python,
            NAME,
            f"Pulumi.yaml virtualenv {options.virtualenv}",
            venv,
            activate(environ, venv),
            f"{python} -m pip install -r requirements.txt",
        )
    given = environ.get("PULUMI_PYTHON_CMD")
    commands = [given] if given else (["python", "python3"] if sys.platform == "win32" else ["python3", "python"])
    for command in commands:
        found = shutil.which(command, path=environ.get("PATH"))
        if found:
            return Interpreter(
                Path(found),
                NAME,
                f"{command} on PATH: Pulumi.yaml names no virtualenv",
                None,
                dict(environ),
                f"{found} -m pip install -r requirements.txt (or name a virtualenv in Pulumi.yaml)",
            )
    raise ToolchainError(
        f"Pulumi.yaml names no virtualenv and none of {', '.join(commands)} is on PATH: install Python 3.11 "
        "or newer, or set runtime.options.virtualenv in Pulumi.yaml"
    )

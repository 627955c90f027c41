"""poetry: the virtualenv `poetry env info --path` names, run in the program directory (pulumi/pulumi
sdk/python/toolchain/poetry.go: newPoetry 59-79, Command 261-277, ValidateVenv 316-325,
VirtualEnvPath 338-350). The CLI would create it with `poetry install`; the gate says so instead."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Interpreter, ToolchainError, activate, is_virtualenv, virtualenv_python

if TYPE_CHECKING:
    from ..toolchain import PythonOptions

NAME = "poetry"


def find(options: PythonOptions, environ: Mapping[str, str]) -> Interpreter:
    poetry = shutil.which("poetry", path=environ.get("PATH"))
    if poetry is None:
        raise ToolchainError(
            "the program uses poetry (Pulumi.yaml toolchain, or a poetry.lock) but no `poetry` is on PATH: "
            "install poetry, or set the toolchain option in Pulumi.yaml to `pip`"
        )
    try:
        out = subprocess.run(
            [poetry, "env", "info", "--path"],
            cwd=options.program_dir,
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"`poetry env info --path` failed: {exc}") from None
    path = out.stdout.strip()
    if out.returncode != 0 or not path:
        raise ToolchainError(
            f"poetry has no virtualenv for {options.program_dir}: run `poetry install` there"
        )
    venv = Path(path)
    if not is_virtualenv(venv):
        raise ToolchainError(f"'{venv}' is not a virtualenv: run `poetry install` in {options.program_dir}")
    return Interpreter(
        virtualenv_python(venv),
        NAME,
        f"poetry's virtualenv {venv}",
        venv,
        activate(environ, venv),
        f"poetry install (in {options.program_dir})",
    )

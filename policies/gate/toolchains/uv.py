"""uv: the `virtualenv` of Pulumi.yaml (relative to the project root), else UV_PROJECT_ENVIRONMENT or
`.venv` beside the nearest uv.lock, else beside the nearest pyproject.toml, else in the program
directory (pulumi/pulumi sdk/python/toolchain/toolchain.go ResolveToolchain 143-164; uv.go newUv
57-119, ValidateVenv 294-299, Command 346-382, pythonExecutable 436-442). The CLI runs `uv sync
--inexact` before each run; the gate installs nothing and runs the virtualenv as it is."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Interpreter, ToolchainError, activate, is_virtualenv, searchup, virtualenv_python

if TYPE_CHECKING:
    from ..toolchain import PythonOptions

NAME = "uv"


def virtualenv_of(options: PythonOptions, environ: Mapping[str, str]) -> Path:
    if options.virtualenv:
        # An absolute path stays itself when joined to a directory (pathlib), as the CLI keeps it.
        return options.root / options.virtualenv
    root = options.program_dir
    project_dir = searchup(root, "uv.lock") or searchup(root, "pyproject.toml") or root
    given = environ.get("UV_PROJECT_ENVIRONMENT")
    return project_dir / (given or ".venv")


def find(options: PythonOptions, environ: Mapping[str, str]) -> Interpreter:
    # newUv refuses to start without uv on PATH, whether or not the virtualenv exists.
    if shutil.which("uv", path=environ.get("PATH")) is None:
        raise ToolchainError(
            "the program uses uv (Pulumi.yaml toolchain, or a uv.lock) but no `uv` is on PATH: install uv, "
            "or set the toolchain option in Pulumi.yaml to `pip`"
        )
    venv = virtualenv_of(options, environ)
    if not is_virtualenv(venv):
        raise ToolchainError(f"'{venv}' is not a virtualenv: run `uv sync` in {options.program_dir}")
    return Interpreter(
        virtualenv_python(venv),
        NAME,
        f"uv's virtualenv {venv}",
        venv,
        activate(environ, venv),
        f"uv sync (in {options.program_dir})",
    )

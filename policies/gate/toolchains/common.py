"""What the toolchains share: the interpreter record, the virtualenv checks and the activation of a
virtualenv, as in pulumi/pulumi sdk/python/toolchain/toolchain.go and pip.go."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_BIN = "Scripts" if sys.platform == "win32" else "bin"
_PYTHON = "python.exe" if sys.platform == "win32" else "python"


class ToolchainError(Exception):
    """No interpreter for the program: the message says what to install or create."""


@dataclass(frozen=True)
class Interpreter:
    executable: Path
    toolchain: str  # pip, poetry or uv
    how: str  # how it was found, for messages: "Pulumi.yaml virtualenv .venv", "python3 on PATH"
    virtualenv: Path | None = None
    # The environment to run it with: the caller's, activated for the virtualenv when there is one.
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # What to run to install the program's packages into it (for a missing SDK).
    install_hint: str = ""


def virtualenv_python(venv: Path) -> Path:
    return venv / _BIN / _PYTHON


def is_virtualenv(venv: Path) -> bool:
    """toolchain.IsVirtualEnv (pip.go 292-302): the directory has bin/python."""
    return virtualenv_python(venv).is_file()


def activate(environ: Mapping[str, str], venv: Path) -> dict[str, str]:
    """toolchain.ActivateVirtualEnv (toolchain.go 172-207): the virtualenv's bin first on PATH,
    VIRTUAL_ENV set to it, PYTHONHOME removed."""
    env = {k: v for k, v in environ.items() if k.upper() not in ("PYTHONHOME", "VIRTUAL_ENV")}
    path_key = next((k for k in env if k.upper() == "PATH"), "PATH")
    current = env.get(path_key)
    env[path_key] = str(venv / _BIN) + (os.pathsep + current if current is not None else "")
    env["VIRTUAL_ENV"] = str(venv)
    return env


def searchup(directory: Path, name: str) -> Path | None:
    """The nearest directory at or above `directory` that holds `name` (toolchain.go searchup 271-283)."""
    for candidate in (directory, *directory.parents):
        if (candidate / name).exists():
            return candidate
    return None

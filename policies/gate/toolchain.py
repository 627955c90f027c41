"""Finds the interpreter a Pulumi Python program runs with, the way the Pulumi CLI finds it, and the
environment to run it in. Nothing is installed: where the CLI would create or sync a virtualenv, the
gate says which command does it (exit 2).

The CLI's Python language host reads `runtime.options` of Pulumi.yaml (`virtualenv`, `toolchain`;
pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go parseOptions, lines 233-291) and
resolves a toolchain (sdk/python/toolchain/toolchain.go ResolveToolchain, lines 140-170):
- `toolchain` unset ("auto"): uv when a `uv.lock` is found in the program directory or above it,
  poetry when a `poetry.lock` is, pip otherwise;
- pip (toolchains/pip.py), poetry (toolchains/poetry.py), uv (toolchains/uv.py): one module each,
  each exposing `NAME` and `find(options) -> Interpreter`.
Adding a toolchain is one module and one entry in `_TOOLCHAINS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .toolchains import pip, poetry, uv
from .toolchains.common import Interpreter, ToolchainError, searchup

_TOOLCHAINS = {module.NAME: module for module in (pip, poetry, uv)}


@dataclass(frozen=True)
class PythonOptions:
    """toolchain.PythonOptions: `root` is the directory of Pulumi.yaml, `program_dir` the one `main`
    names (the language host's RootDirectory and ProgramDirectory)."""

    root: Path
    program_dir: Path
    virtualenv: str = ""
    toolchain: str = "auto"


def read_options(root: Path, program_dir: Path, runtime: Any, where: str) -> PythonOptions:
    """The options of a Pulumi.yaml `runtime` entry, refused as parseOptions refuses them."""
    options: Mapping[str, Any] = {}
    if isinstance(runtime, Mapping):
        raw = runtime.get("options") or {}
        if not isinstance(raw, Mapping):
            raise ToolchainError(f"{where}: runtime.options must be a mapping")
        options = raw
    virtualenv = options.get("virtualenv", "")
    if not isinstance(virtualenv, str):
        raise ToolchainError(f"{where}: runtime.options.virtualenv must be a string")
    if "toolchain" not in options:
        return PythonOptions(root, program_dir, virtualenv)
    toolchain = options["toolchain"]
    if not isinstance(toolchain, str):
        raise ToolchainError(f"{where}: runtime.options.toolchain must be a string")
    if toolchain not in _TOOLCHAINS:
        raise ToolchainError(f"{where}: unsupported toolchain option: {toolchain} (pip, poetry or uv)")
    return PythonOptions(root, program_dir, virtualenv, toolchain)


def resolve(options: PythonOptions) -> str:
    """The toolchain's name; "auto" looks for lock files as ResolveToolchain does."""
    if options.toolchain != "auto":
        return options.toolchain
    if searchup(options.program_dir, "uv.lock") is not None:
        return uv.NAME
    if searchup(options.program_dir, "poetry.lock") is not None:
        return poetry.NAME
    return pip.NAME


def for_project(directory: Path) -> Interpreter:
    """The interpreter of the Pulumi project in `directory` (its Pulumi.yaml's runtime options)."""
    import yaml

    path = next((directory / n for n in ("Pulumi.yaml", "Pulumi.yml") if (directory / n).is_file()), None)
    if path is None:
        raise ToolchainError(f"{directory}: no Pulumi.yaml")
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise ToolchainError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(doc, Mapping):
        raise ToolchainError(f"{path}: not a project file")
    main = directory / str(doc.get("main") or ".")
    program_dir = main if main.is_dir() else main.parent
    return find_interpreter(read_options(directory, program_dir, doc.get("runtime"), str(path)))


def find_interpreter(options: PythonOptions, environ: Mapping[str, str] | None = None) -> Interpreter:
    """The interpreter the CLI would run the program with, and its environment."""
    env = dict(os.environ if environ is None else environ)
    module = _TOOLCHAINS[resolve(options)]
    return module.find(options, env)


__all__ = [
    "Interpreter",
    "PythonOptions",
    "ToolchainError",
    "find_interpreter",
    "for_project",
    "read_options",
    "resolve",
]

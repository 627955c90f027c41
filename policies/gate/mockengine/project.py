"""The project and its stack's configuration, read the way the Pulumi CLI reads them: `Pulumi.yaml`
(`main`, `stackConfigDir`, declared config and its defaults) and `Pulumi.<stack>.yaml`; `secure:`
values become placeholder secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDER_SECRET_PREFIX = "mock-secret-"


class ProjectError(Exception):
    """The project, its stack selection or its configuration cannot be used (missing, malformed)."""



@dataclass(frozen=True)
class ConfigDeclaration:
    key: str
    type: str | None
    description: str | None
    default: Any
    has_default: bool
    secret: bool


@dataclass(frozen=True)
class Project:
    name: str
    directory: Path
    main_dir: Path
    stack_config_dir: Path
    declarations: Mapping[str, ConfigDeclaration]
    project_values: Mapping[str, Any]
    entry: Path  # what the language host runs: the main directory (its __main__.py) or a .py file

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class StackConfig:
    values: Mapping[str, Any]
    secret_keys: frozenset[str]
    path: Path | None


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_project(program_dir: Path | str) -> Project:
    directory = Path(program_dir).resolve()
    path = next((directory / n for n in ("Pulumi.yaml", "Pulumi.yml") if (directory / n).is_file()), None)
    if path is None:
        raise ProjectError(f"{directory}: no Pulumi.yaml (is this a Pulumi project directory?)")
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ProjectError(f"{path}: the project file needs a 'name'")
    name = doc["name"]
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(f"{path}: runtime is {runtime_name!r}; only Python programs can be run offline")
    main = directory / str(doc.get("main") or ".")
    if main.is_file():
        entry, main_dir = main, main.parent
    elif (main / "__main__.py").is_file():
        entry, main_dir = main, main
    else:
        given = str(doc.get("main") or ".")
        raise ProjectError(f"{path}: main {given!r} is neither a .py file nor a directory with __main__.py")
    stack_dir = directory / str(doc.get("stackConfigDir") or ".")

    declarations: dict[str, ConfigDeclaration] = {}
    values: dict[str, Any] = {}
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise ProjectError(f"{path}: 'config' must be a mapping of keys")
    for raw_key, spec in config.items():
        key = _qualify(str(raw_key), name)
        is_declaration = isinstance(spec, dict) and (
            {"type", "description", "default", "secret", "items"} & set(spec)
        )
        if is_declaration:
            declarations[key] = ConfigDeclaration(
                key=key,
                type=spec.get("type"),
                description=spec.get("description"),
                default=spec.get("default"),
                has_default="default" in spec,
                secret=bool(spec.get("secret", False)),
            )
        elif isinstance(spec, dict) and "value" in spec:
            values[key] = spec["value"]
        else:
            values[key] = spec
    return Project(name, directory, main_dir, stack_dir, declarations, values, entry)


# libyaml's loader when PyYAML has it: the same safe subset, without the pure-Python scanner's cost
# on every stack of a multi-stack run.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read: {exc.strerror}") from None


_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def load_stack_config(project: Project, stack: str, config_file: Path | str | None = None) -> StackConfig:
    """The stack's configuration as the CLI would hand it to the program.

    A stack with no config file runs on the project's declared defaults, as a new stack would.
    """
    path = Path(config_file) if config_file is not None else project.stack_file(stack)
    if config_file is not None and not path.is_file():
        raise ProjectError(f"{path}: config file not found")
    raw: dict[str, Any] = {}
    if path.is_file():
        doc = _read_yaml(path) or {}
        if not isinstance(doc, dict):
            raise ProjectError(f"{path}: a stack file is a mapping with a 'config' key")
        raw = doc.get("config") or {}
        if not isinstance(raw, dict):
            raise ProjectError(f"{path}: 'config' must be a mapping of keys")

    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for key, decl in project.declarations.items():
        if decl.has_default:
            values[key] = decl.default
    values.update(project.project_values)
    for raw_key, value in raw.items():
        key = _qualify(str(raw_key), project.name)
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = PLACEHOLDER_SECRET_PREFIX + key.split(":", 1)[1]
            secret_keys.add(key)
        else:
            values[key] = value
    for key, decl in project.declarations.items():
        if decl.secret:
            secret_keys.add(key)
        check = _TYPE_CHECKS.get(decl.type or "")
        if key in values and check is not None and key not in secret_keys and not check(values[key]):
            where = path if path.is_file() else "Pulumi.yaml"
            raise ProjectError(f"{where}: {key} is declared as {decl.type} but is {values[key]!r}")
    return StackConfig(values, frozenset(secret_keys), path if path.is_file() else None)

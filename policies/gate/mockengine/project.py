"""The project and its stack's configuration, read the way the Pulumi CLI reads them: `Pulumi.yaml`
(`main`, `stackConfigDir`, declared config and its defaults) and `Pulumi.<stack>.yaml`; `secure:`
values become placeholder secrets."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

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


# libyaml's parser when PyYAML has it (without the pure-Python scanner's cost on every stack of a
# multi-stack run), with the plain-scalar resolution of the CLI's YAML library instead of YAML 1.1's.
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _GoYamlLoader(_BASE_LOADER):
    """Plain scalars resolved as gopkg.in/yaml.v3 resolves them, which is what the CLI reads project and
    stack files with (pulumi/pulumi sdk/go/common/workspace/loaders.go LoadProject/LoadProjectStack ->
    sdk/go/common/encoding/marshal.go yamlMarshaler, `yaml "gopkg.in/yaml.v3"`).

    yaml.v3 follows the YAML 1.2 core schema (resolve.go): only true/false (three spellings each) are
    booleans, so `off`, `on`, `yes`, `no`, `y`, `n` stay strings; null is `~`, `null` or empty; integers
    are strconv.ParseInt(base 0) after dropping underscores (0x, 0o, 0b and a leading 0 for octal);
    floats take the 1.2 pattern plus .inf/.nan; a timestamp-looking value decoded into an untyped
    value stays a string (decode.go, "for backward compatibility")."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}


def _int_go(loader: Any, node: Any) -> int | float:
    text = loader.construct_scalar(node).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits[:2] in ("0x", "0X"):
        return sign * int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return sign * int(digits[2:], 2)
    # A leading 0 is octal, 0o included (int() takes the prefix with base 8). A leading 0 with an 8 or 9
    # in it is no integer to yaml.v3 (strconv.ParseInt base 0 fails) but matches its float pattern, so it
    # reads as a float: `08` is 8.0 (gopkg.in/yaml.v3 resolve.go, resolve: ParseInt, then yamlStyleFloat).
    if len(digits) > 1 and digits.startswith("0"):
        try:
            return sign * int(digits, 8)
        except ValueError:
            return sign * float(digits)
    return sign * int(digits)


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    (
        "tag:yaml.org,2002:int",
        r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
):
    _firsts: list[Any] = [*_first, None] if _tag.endswith("null") else list(_first)
    _GoYamlLoader.add_implicit_resolver(_tag, re.compile(_pattern), _firsts)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _int_go)

_YAML_LOADER: Any = _GoYamlLoader


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read: {exc.strerror}") from None


# A key whose name says it holds a private key or certificate gets a PEM-shaped placeholder: programs
# parse such values (check the BEGIN line, base64-decode the body) before passing them on.
_PEM_NAME = re.compile(r"(private.?key|ssh.?key|\bpem\b|pem$|cert)", re.IGNORECASE)


def placeholder_secret(name: str) -> str:
    """What a `secure:` value decrypts to offline: `mock-secret-<key>`, or for a key named like a
    private key or certificate a PEM block of the same name whose body is that text in base64."""
    text = PLACEHOLDER_SECRET_PREFIX + name
    if not _PEM_NAME.search(name):
        return text
    label = "CERTIFICATE" if "cert" in name.lower() else "RSA PRIVATE KEY"
    body = base64.b64encode(text.encode()).decode()
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def _decrypted(value: Any, name: str) -> tuple[Any, bool]:
    """The value with every `secure:` leaf decrypted to a placeholder, at any depth of a structured
    value (the CLI decrypts nested secure values and marks the whole key secret: pulumi/pulumi
    sdk/go/common/resource/config/value.go Value.Value and Value.Secure, object.go: a secure leaf
    anywhere in an object makes the key secure)."""
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return placeholder_secret(name), True
        pairs = {k: _decrypted(v, str(k)) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_decrypted(v, name) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


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
        plain, secret = _decrypted(value, key.split(":", 1)[1])
        values[key] = plain
        if secret:
            secret_keys.add(key)
    for key, decl in project.declarations.items():
        if decl.secret:
            secret_keys.add(key)
        check = _TYPE_CHECKS.get(decl.type or "")
        if key in values and check is not None and key not in secret_keys and not check(values[key]):
            where = path if path.is_file() else "Pulumi.yaml"
            raise ProjectError(f"{where}: {key} is declared as {decl.type} but is {values[key]!r}")
    return StackConfig(values, frozenset(secret_keys), path if path.is_file() else None)

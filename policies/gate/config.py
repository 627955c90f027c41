"""Policy configuration as `pulumi preview --policy-pack-config FILE` reads it, reconciled the way the
Pulumi engine does before it configures a pack.

File format: a JSON object whose keys are policy names (or `all`); each value is either an
enforcement level string or an object with an optional `enforcementLevel` and the policy's config
properties. Reconciliation: each policy starts from its own level (else the pack's) and its
schema's defaults; `all` then sets every policy's level; a policy's own entry then overrides its
level and properties. Properties are validated against the policy's config schema; a policy's
`waivers` (rules/waivers.py) are checked first, so that a waiver without a reason is named as such.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from ..rules.waivers import WAIVERS_KEY, WaiverError, parse_waivers

LEVELS = {level.value: level for level in EnforcementLevel}


class PolicyConfigError(Exception):
    """The policy config file cannot be used."""


@dataclass(frozen=True)
class PolicySettings:
    enforcement: EnforcementLevel
    properties: dict[str, Any]


def read_policy_config(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyConfigError(f"{path}: not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PolicyConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"{path}: a policy config file is a JSON object keyed by policy name")
    return doc


def _level(value: Any, where: str) -> EnforcementLevel:
    if not isinstance(value, str) or value not in LEVELS:
        raise PolicyConfigError(f"{where}: enforcement level {value!r} is not one of {', '.join(LEVELS)}")
    return LEVELS[value]


def _validate(policy: Policy, properties: Mapping[str, Any], where: str) -> None:
    schema = policy.config_schema
    declared = schema.properties if schema is not None else {}
    unknown = sorted(set(properties) - set(declared))
    if unknown:
        knobs = ", ".join(sorted(k for k in declared if k != WAIVERS_KEY)) or "none"
        raise PolicyConfigError(f"{where}: unknown config {', '.join(unknown)} (this policy takes: {knobs})")
    document = {
        "properties": declared,
        "required": list(schema.required or []) if schema is not None else [],
    }
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema ships with the dev requirements
        return
    errors = sorted(jsonschema.Draft7Validator(document).iter_errors(dict(properties)), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        at = ".".join(str(p) for p in first.absolute_path)
        raise PolicyConfigError(f"{where}{'.' + at if at else ''}: {first.message}")


def reconcile(
    policies: Sequence[Policy],
    pack_level: EnforcementLevel,
    given: Mapping[str, Any] | None,
    source: str = "policy config",
) -> dict[str, PolicySettings]:
    result: dict[str, PolicySettings] = {}
    for policy in policies:
        schema = policy.config_schema
        defaults = {
            k: v["default"] for k, v in (schema.properties.items() if schema is not None else []) if "default" in v
        }
        result[policy.name] = PolicySettings(policy.enforcement_level or pack_level, defaults)
    if not given:
        return result
    names = {p.name: p for p in policies}
    if "all" in given:
        value = given["all"]
        if isinstance(value, dict):
            extra = set(value) - {"enforcementLevel"}
            if extra:
                raise PolicyConfigError(f"{source}: 'all' only takes enforcementLevel, not {', '.join(sorted(extra))}")
            value = value.get("enforcementLevel")
        level = _level(value, f"{source}: all")
        result = {name: PolicySettings(level, s.properties) for name, s in result.items()}
    for name, value in given.items():
        if name == "all":
            continue
        if name not in names:
            raise PolicyConfigError(
                f"{source}: no policy named {name!r} in this pack (known: {', '.join(sorted(names))})"
            )
        current = result[name]
        where = f"{source}: {name}"
        if isinstance(value, str):
            result[name] = PolicySettings(_level(value, where), current.properties)
            continue
        if not isinstance(value, dict):
            raise PolicyConfigError(f"{where}: expected an enforcement level or an object, got {value!r}")
        level = _level(value["enforcementLevel"], where) if "enforcementLevel" in value else current.enforcement
        props = {k: v for k, v in value.items() if k != "enforcementLevel"}
        if WAIVERS_KEY in props:
            try:
                parse_waivers(props[WAIVERS_KEY], where)
            except WaiverError as exc:
                raise PolicyConfigError(str(exc)) from None
        _validate(names[name], props, where)
        merged = dict(current.properties)
        merged.update(props)
        result[name] = PolicySettings(level, merged)
    return result

"""The shape every stateless-guard rule shares, and the helpers rules use to read engine properties.

A rule is a named value around a pure function. Resource rules take
`(resource_type, props, config) -> list[str]`; stack rules take
`(resources: list[StackResource], config) -> list[tuple[urn | None, str]]`. Both see plain Python
data: the adapters unwrap pulumi_policy's proxies first and turn values that are not known yet
(preview) into `UNKNOWN`, which every rule reads as "cannot judge", never as a violation.

The adapters also honour the policy config's `waivers` (see `waivers.py`): a finding a live waiver
covers is not reported to the engine; one whose waiver expired is reported, saying so. Every policy's
config schema declares `waivers`, and carries its documentation page as the policy's `url`.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import ipaddress
import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, _is_unknown

from . import waivers as _waivers

# Where every rule's page (docs/rules/<rule>.md) is published: the repository's docs folder. The one
# place to change when the repository moves; SARIF `helpUri` and the policy's `url` derive from it.
DOCS_BASE_URL = "https://github.com/stateless-stack/stateless-stack/blob/main/docs/rules/"


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()
"""A value the engine does not know yet (computed during preview)."""


def plain(value: Any) -> Any:
    """Deep copy of engine properties as dicts, lists and scalars, unknowns as UNKNOWN.

    Works on pulumi_policy's unknown-checking and secret proxies and on already plain data.
    """
    if isinstance(value, str | bytes):
        return UNKNOWN if isinstance(value, str) and _is_unknown(value) else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                item = value[key]
            except UnknownValueError:
                item = UNKNOWN
            out[key] = plain(item)
        return out
    if isinstance(value, Sequence):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                item = value[i]
            except UnknownValueError:
                item = UNKNOWN
            items.append(plain(item))
        return items
    inner = getattr(value, "value", None)
    if type(value).__name__ == "Secret" and inner is not None:
        return plain(inner)
    return value


def known(value: Any) -> bool:
    return value is not None and value is not UNKNOWN


def get(data: Any, *path: str | int, default: Any = None) -> Any:
    """Walks dict keys / list indexes; UNKNOWN anywhere on the way yields UNKNOWN."""
    cur = data
    for step in path:
        if cur is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return default
            cur = cur[step]
        else:
            if not isinstance(cur, dict) or step not in cur:
                return default
            cur = cur[step]
    return default if cur is None else cur


def items(value: Any) -> list[Any]:
    """A list property as a list (a missing or unknown list has no items to judge)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return False


def falsy(value: Any) -> bool:
    """Explicitly false (a missing or unknown value is not false)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value.strip().lower() == "false"
    return False


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # isdecimal, not isdigit: int() refuses digits such as "²"; one sign only ("--5" is no number).
    if isinstance(value, str) and value.strip().removeprefix("-").isdecimal():
        return int(value.strip())
    return None


def json_value(value: Any) -> Any:
    """A JSON document given either as a string or already structured; None when unreadable."""
    if isinstance(value, dict | list):
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def decoded_texts(value: Any) -> list[str]:
    """User data as the instance will see it: the text itself and, when it is base64 (and maybe
    gzip inside), the decoded text too."""
    if not isinstance(value, str) or not value:
        return []
    texts = [value]
    compact = "".join(value.split())
    # Strict base64 only: validate=True refuses other characters, the length check the excess padding
    # ("QUJD=") b64decode accepts. ValueError covers bad base64 and bad UTF-8; a damaged gzip stream
    # raises OSError, EOFError or zlib.error.
    if len(compact) % 4 == 0:
        with contextlib.suppress(ValueError, OSError, EOFError, zlib.error):
            raw = base64.b64decode(compact, validate=True)
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            if raw:
                texts.append(raw.decode())
    return texts


def is_world_cidr(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0 or any other spelling of "everywhere"."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def type_set(*tokens: str) -> frozenset[str]:
    return frozenset(tokens)


def lb_types(kind: str) -> frozenset[str]:
    """`aws:lb/...` and its `aws:alb/...` alias, plus the module names older providers used."""
    return frozenset(
        f"aws:{module}/{kind[0].lower()}{kind[1:]}:{kind}"
        for module in ("lb", "alb", "applicationloadbalancing", "elasticloadbalancingv2")
    )


@dataclass(frozen=True)
class StackResource:
    """One resource as a stack rule sees it."""

    resource_type: str
    urn: str
    name: str
    props: dict[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The resource's ignoreChanges option (engine property paths); the analyzer hands every resource's
    # options to stack policies (pulumi_policy PolicyResource.opts).
    ignore_changes: tuple[str, ...] = ()


ResourceCheck = Callable[[str, dict[str, Any], dict[str, Any]], list[str]]
StackCheck = Callable[[list[StackResource], dict[str, Any]], list[tuple[str | None, str]]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: Severity
    enforcement: EnforcementLevel
    remediation: str
    why: str
    resource_types: frozenset[str] | Callable[[str], bool] | None = None
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    config: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.check is None) == (self.stack_check is None):
            raise TypeError(f"rule {self.name}: give exactly one of check and stack_check")

    @property
    def is_stack(self) -> bool:
        return self.stack_check is not None

    def settings(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The rule's knobs: schema defaults overlaid with the given policy config."""
        merged = {k: spec["default"] for k, spec in self.config.items() if "default" in spec}
        merged.update({k: v for k, v in (config or {}).items() if k not in ("enforcementLevel", _waivers.WAIVERS_KEY)})
        return merged

    @property
    def doc_url(self) -> str:
        return f"{DOCS_BASE_URL}{self.name}.md"

    def config_schema(self) -> dict[str, dict[str, Any]]:
        """The policy's config schema properties: its knobs and the waivers every policy takes."""
        return {**{k: dict(v) for k, v in self.config.items()}, _waivers.WAIVERS_KEY: dict(_waivers.WAIVERS_SCHEMA)}

    def applies_to(self, resource_type: str) -> bool:
        types = self.resource_types
        if types is None:
            return True
        if callable(types):
            return types(resource_type)
        return resource_type in types

    def evaluate(
        self, resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any] | None = None
    ) -> list[str]:
        if self.check is None or not self.applies_to(resource_type):
            return []
        return self.check(resource_type, plain(props), self.settings(config))

    def evaluate_stack(
        self, resources: Iterable[StackResource], config: Mapping[str, Any] | None = None
    ) -> list[tuple[str | None, str]]:
        if self.stack_check is None:
            return []
        return self.stack_check(list(resources), self.settings(config))

    def policy(self) -> Policy:
        common: dict[str, Any] = {
            "enforcement_level": self.enforcement,
            "config_schema": PolicyConfigSchema(properties=self.config_schema()),
            "severity": self.severity,
            "remediation_steps": self.remediation,
            "url": self.doc_url,
            "tags": list(self.tags) or None,
        }
        if self.stack_check is not None:
            return StackValidationPolicy(
                name=self.name, description=self.description, validate=self._validate_stack, **common
            )
        return ResourceValidationPolicy(
            name=self.name, description=self.description, validate=self._validate_resource, **common
        )

    def _validate_resource(self, args: Any, report_violation: Any) -> None:
        if not self.applies_to(args.resource_type):
            return
        config = args.get_config()
        waivers = _waivers.waivers_of(config, f"policy config: {self.name}")
        on = _waivers.today()
        for message in self.evaluate(args.resource_type, args.props, config):
            decision = _waivers.decide(waivers, args.urn, args.name, message, on)
            if not decision.waived:
                report_violation(decision.message)

    def _validate_stack(self, args: Any, report_violation: Any) -> None:
        resources = [stack_resource(r) for r in args.resources]
        config = args.get_config()
        waivers = _waivers.waivers_of(config, f"policy config: {self.name}")
        on = _waivers.today()
        # A finding without a URN is about the stack itself: it is waived by the stack's name or URN.
        root = next((r.urn for r in resources if r.resource_type == "pulumi:pulumi:Stack"), "")
        for urn, message in self.evaluate_stack(resources, config):
            subject = urn or root
            decision = _waivers.decide(waivers, subject, _waivers.name_of(subject), message, on)
            if not decision.waived:
                report_violation(decision.message, urn)


def resource_keys(resource: StackResource, *names: str) -> set[str]:
    """What other resources may use to name this one: its URN and the given string properties (arn, id, ...)."""
    keys = {resource.urn}
    for name in names:
        value = resource.props.get(name)
        if isinstance(value, str) and value:
            keys.add(value)
    return keys


def linked(
    resource: StackResource,
    prop: str,
    by_key: Mapping[str, StackResource],
    normalize: Callable[[str], str] | None = None,
) -> StackResource | None:
    """The resource that `prop` refers to: by the property's dependencies, else by its value (optionally
    normalized, e.g. an ARN to a name) among `by_key` (see `resource_keys`)."""
    for urn in resource.property_dependencies.get(prop, ()):
        if urn in by_key:
            return by_key[urn]
    value = resource.props.get(prop)
    if not isinstance(value, str):
        return None
    return by_key.get(value) or (by_key.get(normalize(value)) if normalize is not None else None)


def stack_resource(resource: Any) -> StackResource:
    """A pulumi_policy PolicyResource as the plain record stack rules take."""
    parent = getattr(resource, "parent", None)
    return StackResource(
        resource_type=resource.resource_type,
        urn=resource.urn,
        name=resource.name,
        props=plain(resource.props),
        parent=getattr(parent, "urn", None),
        dependencies=tuple(d.urn for d in (getattr(resource, "dependencies", None) or [])),
        property_dependencies={
            k: tuple(d.urn for d in v) for k, v in (getattr(resource, "property_dependencies", None) or {}).items()
        },
        ignore_changes=tuple(getattr(getattr(resource, "opts", None), "ignore_changes", None) or ()),
    )

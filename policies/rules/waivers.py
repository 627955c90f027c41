"""Waivers: one finding accepted on purpose, with a reason, declared in the policy config.

A policy's entry in the config the Pulumi CLI passes to the pack (`--policy-pack-config`,
`stacks/policy.<stack>.json`) may carry

    {"s3-no-public-access": {"waivers": [
        {"resource": "site-bucket", "reason": "public website, reviewed", "expires": "2027-06-30"}]}}

`resource` is a logical name, a URN, or an fnmatch glob over either; `reason` is required; `expires`
is an optional ISO date through which the waiver holds (from the next day, in UTC, the finding is
reported again, saying that the waiver expired). Pure functions, no I/O: the pack's adapter
(`_core.Rule`) and the offline gate use the same ones, so both honour the same waiver.

Defines: `Waiver`, `WaiverError`, `WAIVERS_KEY`, `WAIVERS_SCHEMA` (declared in every policy's config
schema), `parse_waivers`, `matching`, `decide` (waived, or reported with which message), `today`.
"""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WAIVERS_KEY = "waivers"

# Declared in each policy's config schema so that the Pulumi CLI's validation accepts the key and
# checks its shape. The CLI validates the reconciled config of every policy that has a schema with
# gojsonschema against {"type": "object", "properties": ..., "required": ...} (pulumi/pulumi
# pkg/resource/analyzer/config.go validatePolicyPackConfig, validatePolicyConfig, convertSchema).
# Non-empty strings are a `pattern`, not `minLength`: the schema reaches the CLI through a protobuf
# Struct, where every number becomes a float.
_NON_EMPTY = "\\S"
WAIVERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Findings accepted on purpose: resource (logical name, URN or glob), reason, expires (YYYY-MM-DD)",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "pattern": _NON_EMPTY},
            "reason": {"type": "string", "pattern": _NON_EMPTY},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
}


class WaiverError(ValueError):
    """A waiver that cannot be used (no reason, no resource, a date that is not a date)."""


@dataclass(frozen=True)
class Waiver:
    resource: str
    reason: str
    expires: datetime.date | None = None

    def matches(self, urn: str, name: str) -> bool:
        pattern = self.resource
        return pattern in (urn, name) or fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(urn, pattern)

    def expired(self, on: datetime.date) -> bool:
        return self.expires is not None and on > self.expires

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "expires": self.expires.isoformat() if self.expires else None}


def today() -> datetime.date:
    """The date waivers are judged on: UTC, so a CI runner and a laptop agree."""
    return datetime.datetime.now(datetime.UTC).date()


def parse_waivers(value: Any, where: str = "waivers") -> list[Waiver]:
    """The waivers of one policy's config entry (`value` is the entry's `waivers`); `where` names the
    file and policy in errors."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise WaiverError(f"{where}: waivers is a list of {{resource, reason, expires}} objects")
    found = []
    for i, item in enumerate(value):
        at = f"{where}: waivers[{i}]"
        if not isinstance(item, Mapping):
            raise WaiverError(f"{at}: a waiver is an object with resource, reason and optional expires")
        unknown = sorted(set(item) - {"resource", "reason", "expires"})
        if unknown:
            raise WaiverError(f"{at}: unknown key {', '.join(unknown)} (a waiver takes resource, reason, expires)")
        resource, reason, expires = item.get("resource"), item.get("reason"), item.get("expires")
        if not isinstance(resource, str) or not resource.strip():
            raise WaiverError(f"{at}: a waiver needs a resource (logical name, URN or glob)")
        if not isinstance(reason, str) or not reason.strip():
            raise WaiverError(f"{at}: the waiver of {resource!r} has no reason: say why this finding is accepted")
        date = None
        if expires is not None:
            try:
                date = datetime.date.fromisoformat(expires) if isinstance(expires, str) and len(expires) == 10 else None
            except ValueError:
                date = None
            if date is None:
                raise WaiverError(f"{at}: expires {expires!r} is not a date (YYYY-MM-DD)")
        found.append(Waiver(resource, reason.strip(), date))
    return found


def waivers_of(config: Any, where: str = "waivers") -> list[Waiver]:
    """The waivers in a policy's config properties (None or without the key: none)."""
    if not isinstance(config, Mapping):
        return []
    return parse_waivers(config.get(WAIVERS_KEY), where)


def without_waivers(config: Any) -> Any:
    """The policy's own knobs: its config properties without the waivers."""
    if isinstance(config, Mapping) and WAIVERS_KEY in config:
        return {k: v for k, v in config.items() if k != WAIVERS_KEY}
    return config


def matching(waivers: Iterable[Waiver], urn: str, name: str) -> Waiver | None:
    """The waiver that covers the resource: a live one before an expired one, else the first."""
    found = [w for w in waivers if w.matches(urn, name)]
    if not found:
        return None
    return next((w for w in found if w.expires is None), None) or max(
        found, key=lambda w: w.expires or datetime.date.max
    )


@dataclass(frozen=True)
class Decision:
    waiver: Waiver | None  # the waiver that matched, live or expired
    waived: bool  # True: the finding is accepted (the pack does not report it)
    message: str  # what to report when not waived


def expired_message(message: str, waiver: Waiver) -> str:
    assert waiver.expires is not None
    return f"{message} (waiver expired on {waiver.expires.isoformat()}: {waiver.reason})"


def decide(waivers: Sequence[Waiver], urn: str, name: str, message: str, on: datetime.date) -> Decision:
    waiver = matching(waivers, urn, name)
    if waiver is None:
        return Decision(None, False, message)
    if waiver.expired(on):
        return Decision(waiver, False, expired_message(message, waiver))
    return Decision(waiver, True, message)


def name_of(urn: str) -> str:
    """The logical name at the end of a URN."""
    return urn.rpartition("::")[2]

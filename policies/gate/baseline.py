"""Baselines: adopt the gate in a repository that already has findings, and fail only on new ones.

`--write-baseline FILE` records the findings of this run (not the waived ones) as
`{"version": 1, "tool": "stateless-guard", "findings": [{"policy", "urn"}, ...]}`, sorted and
without duplicates, nothing machine-specific (no paths, no dates): the file changes only when the
findings change. `--baseline FILE` marks every finding whose policy and URN are recorded as
`baselined` (shown, not counted toward the exit status), and counts, for each judged stack, the
recorded findings of that stack that this run no longer has.

Defines: `BaselineError`, `read_baseline`, `render_baseline`, `write_baseline`, `apply_baseline`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import GateResult

VERSION = 1
TOOL = "stateless-guard"

Key = tuple[str, str]  # (policy, urn)


class BaselineError(Exception):
    """The baseline file cannot be read or is not a baseline: exit status 2."""


def _stack_of(urn: str) -> tuple[str, str] | None:
    """(stack, project) of `urn:pulumi:<stack>::<project>::...`."""
    if not urn.startswith("urn:pulumi:"):
        return None
    parts = urn[len("urn:pulumi:") :].split("::")
    return (parts[0], parts[1]) if len(parts) >= 3 else None


def read_baseline(path: Path) -> set[Key]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: baseline cannot be read: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"{path}: baseline is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(doc.get("findings"), list):
        raise BaselineError(
            f"{path}: not a baseline of version {VERSION} "
            '(expected {"version": 1, "findings": [{"policy", "urn"}, ...]}, as --write-baseline writes it)'
        )
    found: set[Key] = set()
    for i, item in enumerate(doc["findings"]):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("policy"), str)
            or not isinstance(item.get("urn"), str)
            or _stack_of(item["urn"]) is None
        ):
            raise BaselineError(f'{path}: findings[{i}]: expected {{"policy": NAME, "urn": "urn:pulumi:..."}}')
        found.add((item["policy"], item["urn"]))
    return found


def keys_of(results: Iterable[GateResult]) -> set[Key]:
    """The findings a baseline records: every finding but the waived ones."""
    return {(v.policy, v.urn) for r in results for v in r.violations if v.waived is None}


def render_baseline(keys: Iterable[Key]) -> str:
    findings = [{"policy": p, "urn": u} for u, p in sorted({(u, p) for p, u in keys})]
    return json.dumps({"version": VERSION, "tool": TOOL, "findings": findings}, indent=2) + "\n"


def write_baseline(path: Path, results: Sequence[GateResult]) -> set[Key]:
    keys = keys_of(results)
    try:
        path.write_text(render_baseline(keys), encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: baseline cannot be written: {exc.strerror}") from None
    return keys


def _apply_one(result: GateResult, recorded: set[Key]) -> GateResult:
    violations = [dataclasses.replace(v, baselined=(v.policy, v.urn) in recorded) for v in result.violations]
    present = {(v.policy, v.urn) for v in result.violations}
    mine = {k for k in recorded if _stack_of(k[1]) == (result.stack, result.project)}
    return dataclasses.replace(result, violations=violations, baseline_gone=len(mine - present))


def apply_baseline(results: Sequence[GateResult], recorded: set[Key]) -> list[GateResult]:
    return [_apply_one(r, recorded) for r in results]

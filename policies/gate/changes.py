"""The change guard: what a change would replace or delete among the stateful resources, judged as the
rule `no-data-loss-on-change` (policies/rules/data_loss.py) without the Pulumi CLI or credentials.

Three ways to know the change:
- `--preview FILE`: the steps of `pulumi preview --json` (`delete`, `replace`, `create-replacement`,
  `delete-replaced` on a stateful type; documents.parse_steps);
- `--against-state FILE`: the program's plan against `pulumi stack export` of the deployed stack;
- `--against-rev REV`: the program's plan against the plan of the same program and stack at a git
  revision, checked out with `git worktree add --detach` into a temporary directory.

Plans are paired the way the engine pairs a registration with the old state: by URN, then by the
registration's aliases (pkg/resource/deploy/step_generator.go: `getOldResource`, `generateAliases`,
`collapseAliasToUrn`, `inheritedChildAlias`), so an alias keeps a renamed or re-parented resource and a
URN that disappears without one is a delete plus a create. A paired resource whose replace-forcing input
changed (rules/replacements.py, from the provider) is a replace.

Findings are ordinary violations of `no-data-loss-on-change` at the rule's configured enforcement; a
resource with `retainOnDelete` is left behind instead of deleted, an advisory finding.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_policy import EnforcementLevel

from ..rules import RULES_BY_NAME, data_loss
from ..rules import waivers as waiver_rules
from .evaluate import STACK_TYPE, Violation
from .records import Resource

if TYPE_CHECKING:
    from . import GateResult
    from .documents import Step

ROOT_STACK_TYPE = STACK_TYPE


class ChangeError(Exception):
    """The old side of the comparison cannot be had (bad revision, unreadable export)."""


@dataclass(frozen=True)
class Finding:
    op: str  # "replace", "delete", "delete-create", "retain"
    urn: str
    type: str
    name: str
    message: str
    advisory: bool = False


@dataclass
class ChangeSet:
    findings: list[Finding] = field(default_factory=list)
    # Human lines: what could not be judged (an unknown replace-forcing input, ...).
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- URNs as the engine builds them


def urn_parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name); the name may itself contain '::'
    (sdk/go/common/resource/urn.go: `URN.Stack`, `Project`, `QualifiedType`, `Name`)."""
    body = urn[len("urn:pulumi:") :] if urn.startswith("urn:pulumi:") else urn
    parts = body.split("::", 3)
    if len(parts) != 4:
        raise ChangeError(f"{urn!r} is not a Pulumi URN")
    return parts[0], parts[1], parts[2], parts[3]


def create_urn(name: str, type_: str, parent: str, project: str, stack: str) -> str:
    """resource.CreateURN (sdk/go/common/resource/urn.go): the parent's qualified type, `$`, the type."""
    qualified = f"{urn_parts(parent)[2]}${type_}" if parent and not _is_root(parent) else type_
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _is_root(urn: str) -> bool:
    # As the engine tells the root stack: `parent.QualifiedType() == resource.RootStackType`
    # (pkg/resource/deploy/step_generator.go, generateAliases); the root has no parent to qualify it.
    return bool(urn) and urn_parts(urn)[2] == ROOT_STACK_TYPE


def alias_urns(r: Resource, project: str, stack: str, old_of: Mapping[str, str]) -> list[str]:
    """The URNs an old resource may have had for registration `r`: its aliases collapsed to URNs, and
    the aliases it inherits from an aliased parent (step_generator.go `generateAliases`). `old_of` maps
    a new URN already paired through an alias to the old URN it took."""
    result: list[str] = []

    def add(urn: str) -> None:
        if urn and urn not in result:
            result.append(urn)

    parent = r.parent or ""

    def collapse(alias: Any) -> str:
        if isinstance(alias, str):
            return alias
        name = alias.get("name") or r.name
        type_ = alias.get("type") or r.type
        alias_parent = alias.get("parentUrn") or ""
        if not alias_parent:
            alias_parent = parent
        elif alias_parent in old_of:
            # The parent went by an alias too: its old URN is this resource's old parent.
            alias_parent = old_of[alias_parent]
        # create_urn leaves the root stack out of the type as it leaves out no parent.
        return create_urn(
            name,
            type_,
            "" if alias.get("noParent") else alias_parent,
            alias.get("project") or project,
            alias.get("stack") or stack,
        )

    specs = list(r.options.get("aliases") or [])
    for alias in specs:
        add(collapse(alias))
    if parent and parent in old_of:
        parent_alias = old_of[parent]
        parent_name = urn_parts(parent)[3]

        def inherited(child_type: str, child_name: str) -> str:
            # A child named after its parent ("<parent>-role") follows the parent's old name.
            alias_name = child_name
            if child_name.startswith(parent_name):
                alias_name = urn_parts(parent_alias)[3] + child_name[len(parent_name) :]
            return create_urn(alias_name, child_type, parent_alias, project, stack)

        add(inherited(r.type, r.name))
        for alias in specs:
            child = collapse(alias)
            add(inherited(urn_parts(child)[2].split("$")[-1], urn_parts(child)[3]))
    return result


# ----------------------------------------------------------------------------- plan against plan


def compare(old: Sequence[Resource], new: Sequence[Resource], project: str, stack: str) -> ChangeSet:
    """What replacing the `old` resources by the `new` plan destroys among the stateful ones."""
    olds = {r.urn: r for r in old}
    taken: set[str] = set()  # old URNs paired with a new resource
    old_of: dict[str, str] = {}  # new URN -> old URN, when paired through an alias
    pairs: list[tuple[Resource, Resource]] = []
    news_unpaired: list[Resource] = []
    for r in new:
        urn = r.urn
        match = urn if urn in olds and urn not in taken else None
        if match is None:
            for candidate in alias_urns(r, project, stack, old_of):
                if candidate in olds and candidate not in taken:
                    match = candidate
                    old_of[urn] = candidate
                    break
        if match is None:
            news_unpaired.append(r)
            continue
        taken.add(match)
        pairs.append((olds[match], r))

    out = ChangeSet()
    for before, after in pairs:
        if not data_loss.is_stateful(after.type, after.inputs) and not data_loss.is_stateful(
            before.type, before.inputs
        ):
            continue
        changes, unknown = data_loss.replace_forcing_changes(after.type, before.inputs, after.inputs)
        for path in unknown:
            out.notes.append(f"{after.type} {after.name}: {path} is not known before the update; not judged")
        for line in data_loss.conditional_changes(after.type, before.inputs, after.inputs):
            out.notes.append(f"{after.type} {after.name}: {line}")
        if not changes:
            continue
        reasons = [c.describe() for c in changes]
        dbr = bool(after.options.get("deleteBeforeReplace"))
        out.findings.append(
            Finding(
                "replace",
                after.urn,
                after.type,
                after.name,
                data_loss.replace_message(after.type, after.name, reasons, dbr, before.protect),
            )
        )

    for before in old:
        if before.urn in taken or not data_loss.is_stateful(before.type, before.inputs):
            continue
        successor = _successor(before, news_unpaired)
        if before.options.get("retainOnDelete"):
            what = (
                f"its URN changes to {successor.urn} with no alias"
                if successor is not None
                else "it is no longer in the program"
            )
            out.findings.append(
                Finding(
                    "retain",
                    before.urn,
                    before.type,
                    before.name,
                    data_loss.retained_message(before.type, before.name, what),
                    advisory=True,
                )
            )
        elif successor is not None:
            out.findings.append(
                Finding(
                    "delete-create",
                    before.urn,
                    before.type,
                    before.name,
                    data_loss.moved_message(
                        before.type, before.name, before.urn, successor.urn, before.protect
                    ),
                )
            )
        else:
            out.findings.append(
                Finding(
                    "delete",
                    before.urn,
                    before.type,
                    before.name,
                    data_loss.delete_message(
                        before.type, before.name, "it is no longer in the program", before.protect
                    ),
                )
            )
    return out


def _successor(before: Resource, unpaired: Sequence[Resource]) -> Resource | None:
    """The new resource that most likely stands for `before` under another URN: same type and name
    (moved to another parent, stack or project), else the only new one of its type under the same
    parent (renamed)."""
    same_type = [r for r in unpaired if r.type == before.type]
    same_name = [r for r in same_type if r.name == before.name]
    if len(same_name) == 1:
        return same_name[0]
    parent = before.parent or ""
    siblings = [r for r in same_type if (r.parent or "") == parent]
    if len(siblings) == 1:
        return siblings[0]
    return None


# ----------------------------------------------------------------------------- preview steps

# Steps that destroy the old resource, or create its replacement (pkg/resource/deploy/step.go:2236-2250).
DESTRUCTIVE_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced"})
_REPLACE_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})


def from_steps(steps: Sequence[Step]) -> ChangeSet:
    """Findings of a preview's steps, one per resource.

    A replacement is several steps of one URN (create-replacement, replace, delete-replaced); with
    deleteBeforeReplace the engine emits delete-replaced first (step_generator.go, `generateSteps`
    around lines 2041-2163: DeleteReplacement, then Replace and CreateReplacement), otherwise it
    creates the replacement first and deletes the old one at the end of the update.
    """
    out = ChangeSet()
    by_urn: dict[str, list[Step]] = {}
    for step in steps:
        if step.op in DESTRUCTIVE_OPS:
            by_urn.setdefault(step.urn, []).append(step)
    for urn, group in by_urn.items():
        first = group[0]
        # The step's type is its states' (they share the URN, so the type), else the URN's.
        type_, name = first.type, first.name
        state = first.old or first.new
        if not data_loss.is_stateful(type_, state.inputs if state is not None else {}):
            continue
        ops = [s.op for s in group]
        old = next((s.old for s in group if s.old is not None), None)
        new = next((s.new for s in group if s.new is not None), None)
        protected = bool(old is not None and old.protect)
        retained = bool(old is not None and old.options.get("retainOnDelete"))
        if any(op in _REPLACE_OPS for op in ops):
            reasons = _step_reasons(group, old, new)
            # The old one goes first when delete-replaced comes before any create-replacement.
            first_of = next((op for op in ops if op in ("delete-replaced", "create-replacement")), None)
            dbr = first_of == "delete-replaced"
            message = data_loss.replace_message(type_, name, reasons, dbr, protected)
            out.findings.append(Finding("replace", urn, type_, name, message))
        elif retained:
            message = data_loss.retained_message(type_, name, "the preview deletes it")
            out.findings.append(Finding("retain", urn, type_, name, message, advisory=True))
        else:
            message = data_loss.delete_message(type_, name, "the preview deletes it", protected)
            out.findings.append(Finding("delete", urn, type_, name, message))
    return out


def _step_reasons(group: Sequence[Step], old: Resource | None, new: Resource | None) -> list[str]:
    """The properties that cause the replacement, as the engine writes them: `replaceReasons`, else the
    `detailedDiff` entries of a `*-replace` kind (pkg/display/json.go:51-76); with their old and new
    values when the states carry them."""
    keys: list[str] = []
    for step in group:
        for key in step.replace_reasons:
            if key not in keys:
                keys.append(key)
    if not keys:
        for step in group:
            for key, diff in step.detailed_diff.items():
                if str(diff.get("kind")).endswith("-replace") and key not in keys:
                    keys.append(key)
    reasons = []
    for key in keys:
        if old is not None and new is not None:
            # An absent path reads as (False, None): shown as unset.
            had, before = data_loss._lookup(old.inputs, key)
            has, after = data_loss._lookup(new.inputs, key)
            if (had or has) and not data_loss.is_unknown(after):
                reasons.append(data_loss.PropertyChange(key, before, after).describe())
                continue
        reasons.append(f"{key} changes")
    return reasons


# ----------------------------------------------------------------------------- judging


def violations(changes: ChangeSet, settings: Mapping[str, Any]) -> list[Violation]:
    """The findings as violations of `no-data-loss-on-change` at its configured enforcement, each decided
    against the policy's waivers as every other finding is (evaluate.py): an intended replacement is
    waived with a reason, like any finding."""
    current = settings.get(data_loss.POLICY)
    level = current.enforcement if current is not None else EnforcementLevel.MANDATORY
    if level == EnforcementLevel.DISABLED:
        return []
    if level == EnforcementLevel.REMEDIATE:
        level = EnforcementLevel.MANDATORY
    waivers = waiver_rules.waivers_of(current.properties, f"policy config: {data_loss.POLICY}") if current else []
    remediation = RULES_BY_NAME[data_loss.POLICY].remediation
    on = waiver_rules.today()
    out = []
    for f in changes.findings:
        enforcement = EnforcementLevel.ADVISORY.value if f.advisory else level.value
        decision = waiver_rules.decide(waivers, f.urn, waiver_rules.name_of(f.urn), f.message, on)
        out.append(
            Violation(
                data_loss.POLICY,
                enforcement,
                f.urn,
                f.type,
                f.name,
                decision.message,
                remediation,
                decision.waiver if decision.waived else None,
            )
        )
    return out


def judged(result: GateResult, changes: ChangeSet) -> GateResult:
    """`result` with the change findings among its violations, its notes and its unmatched waivers
    (a waiver of a change finding matches nothing until the change is judged)."""
    from .evaluate import unmatched_waivers

    extra = violations(changes, result.settings)
    everything = [*result.violations, *extra]
    return dataclasses.replace(
        result,
        violations=everything,
        notes=[*result.notes, *changes.notes],
        unmatched_waivers=unmatched_waivers(result.settings, everything),
    )


def against_state(result: GateResult, source: str) -> tuple[GateResult, ChangeSet]:
    """The plan of `result` against a `pulumi stack export` document of the deployed stack."""
    from .documents import DocumentError, parse_state, read_json

    try:
        where, doc = read_json(source)
        # Only the resources are compared: no source positions, no project name needed.
        old = parse_state(doc, result.stack, where)
    except DocumentError as exc:
        raise ChangeError(str(exc)) from exc
    changes = compare(old.resources, result.resources, result.project, result.stack)
    return judged(result, changes), changes


def against_rev(
    result: GateResult, rev: str, plan_at: Callable[[Path], GateResult | None]
) -> tuple[GateResult, ChangeSet]:
    """The plan of `result` against the plan of the same program at git revision `rev`.

    `plan_at(program_dir)` runs the gate's plan for the same stack in the checked-out revision's copy
    of the program (the same path relative to the repository root); None when the stack did not exist
    at `rev` (nothing deployed from there to lose). It runs with assets="lenient": the revision's
    plan reconstructs what is deployed, so an asset path missing there (`run.missing_assets`) is a
    note, not a failure.
    """
    repo = _git_root(result.program_dir)
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", what=f"revision {rev!r}")
    relative = result.program_dir.resolve().relative_to(repo)
    scratch = Path(tempfile.mkdtemp(prefix="stateless-guard-rev-"))
    tree = scratch / "tree"
    try:
        # A commit id is checked out detached (no branch is made); --quiet leaves only the error in
        # what _git reports.
        _git(repo, "worktree", "add", "--quiet", str(tree), commit, what="git worktree add")
        program = tree / relative
        if not program.is_dir():
            raise ChangeError(f"{relative} does not exist at {rev} ({commit[:12]})")
        old = plan_at(program)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        # The checkout forgets a worktree whose directory is gone.
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True, check=False)
    changes = compare(old.resources if old is not None else [], result.resources, result.project, result.stack)
    if old is not None and old.run is not None:
        for asset in old.run.missing_assets:
            changes.notes.append(
                f"at {rev}: {asset} (not in the revision's files, e.g. a build output git does not keep); "
                "the base plan is compared without it"
            )
    return judged(result, changes), changes


def _git_root(directory: Path) -> Path:
    return Path(_git(directory, "rev-parse", "--show-toplevel", what="--against-rev needs a git checkout")).resolve()


def _git(directory: Path, *args: str, what: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChangeError(f"{what}: git could not run: {exc}") from None
    if done.returncode != 0:
        detail = " ".join(done.stderr.split()) or "unknown revision"
        raise ChangeError(f"{what}: {detail}")
    return done.stdout.strip()

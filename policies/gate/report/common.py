"""What every report format shares: the tool's name and version, the summary counts, and where a
finding is located (the declaring file and line, relative to the repository root, with a fallback
that always exists, so that SARIF and GitHub annotations are never without a location)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pulumi_policy import EnforcementLevel

from ... import __version__
from ..evaluate import Violation
from ..records import Resource

if TYPE_CHECKING:
    from .. import GateResult

TOOL_NAME = "stateless-guard"
TOOL_VERSION = __version__
# Where a finding of a document read from standard input points when nothing else locates it: no file
# of the repository produced it, and SARIF consumers (GitHub code scanning) need a location with an
# artifact URI on every result. `--program DIR` with the document's project gives its Pulumi.yaml.
STDIN_URI = "stdin"


def summary(resources: Sequence[Resource], violations: Sequence[Violation]) -> dict[str, int]:
    """Counts of the findings that decide the verdict; waived and baselined ones are counted apart."""
    return {
        "resources": len(resources),
        "mandatory": sum(1 for v in violations if v.counts and v.enforcement == EnforcementLevel.MANDATORY.value),
        "advisory": sum(1 for v in violations if v.counts and v.enforcement == EnforcementLevel.ADVISORY.value),
        "waived": sum(1 for v in violations if v.waived is not None),
        "baselined": sum(1 for v in violations if v.waived is None and v.baselined),
    }


def headline(v: Violation) -> str:
    """The finding as one line naming its resource: "<type> <name>: <message>", except for a message
    that already opens with the type and name (the data-loss guard's "<type> <name> would be
    replaced: ..."), which is not prefixed twice."""
    subject = f"{v.type} {v.name}"
    if v.message.startswith(subject + " "):
        return v.message
    return f"{subject}: {v.message}"


def repository_root(start: Path) -> Path:
    """The checkout that holds `start` (the nearest directory with .git), else `start` itself."""
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def relative(path: str | Path, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _library(path: str) -> bool:
    """Installed packages (a virtualenv may sit inside the checkout): not where a user declared anything."""
    parts = Path(path).parts
    return "site-packages" in parts or "dist-packages" in parts


def declaration(violation: Violation, by_urn: Mapping[str, Resource], root: Path) -> tuple[str, int] | None:
    """File (relative to the repository root) and line where the resource, or its nearest ancestor
    declared in the repository, was declared (a library component's children point at the line that
    declared the component)."""
    seen: set[str] = set()
    urn: str | None = violation.urn
    while urn and urn in by_urn and urn not in seen:
        seen.add(urn)
        resource = by_urn[urn]
        if resource.source is not None and not _library(resource.source[0]):
            rel = relative(resource.source[0], root)
            if rel is not None:
                return rel, resource.source[1]
        urn = resource.parent
    return None


def fallback(result: GateResult, root: Path) -> tuple[str, int]:
    """Where a finding nothing else locates points: the program's main file (for a document: the
    project's Pulumi.yaml, else the document), the stack file, the project file of --program; a
    document outside the repository by its file name; standard input as STDIN_URI."""
    # Without a main file this is the directory itself, which is no file.
    candidates = [result.program_dir / result.main_file]
    if result.stack_file is not None:
        candidates.append(result.stack_file)
    candidates += [result.program_dir / "Pulumi.yaml", result.program_dir / "Pulumi.yml"]
    for candidate in candidates:
        if candidate.is_file():
            rel = relative(candidate, root)
            if rel is not None:
                return rel, 1
    if result.main_file:
        return Path(result.main_file).name, 1
    return STDIN_URI, 1


def locate(violation: Violation, result: GateResult, by_urn: Mapping[str, Resource], root: Path) -> tuple[str, int]:
    return declaration(violation, by_urn, root) or fallback(result, root)


def policy_config_label(result: GateResult, root: Path) -> str | None:
    """The policy config the stack was judged with, relative to the repository when inside it."""
    if result.policy_config is None:
        return None
    return relative(result.policy_config, root) or str(result.policy_config)


NO_POLICY_CONFIG = "none applies: every rule at its default enforcement, no waivers"

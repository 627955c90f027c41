"""The offline gate: runs a Pulumi Python program under the mock engine (or reads what the Pulumi
CLI wrote about a stack of any language) and judges every resource with the stateless-guard pack,
without the Pulumi CLI or cloud credentials.

    python -m policies.gate --stack STACK [--stack STACK ...] | --all-stacks
                            [--program DIR] [--config-file FILE]
                            [--format text|json|sarif|github] [--output FILE]
                            [--policy-config FILE] [--stack-reference NAME=FILE ...]
                            [--timeout SECONDS] [--debug]
                            [--baseline FILE | --write-baseline FILE]
                            [--against-state FILE | --against-rev REV]
    python -m policies.gate --state FILE|-   --stack NAME [...]   # `pulumi stack export`
    python -m policies.gate --preview FILE|- --stack NAME [...]   # `pulumi preview --json`
    python -m policies.gate --list-rules | --version

A program runs as `pulumi preview` runs it: what only a provider could compute is unknown and not
judged; apply callbacks that did not run, unanswered invokes and stack references without supplied
outputs are reported as notes, and a pass with any of them is "PASS (incomplete)".

The program runs in its own interpreter, found as the Pulumi CLI finds it (toolchain.py), in a child
process (program_process.py). Installed (`pip install .`, `pipx install`), the package is
`stateless_guard` and the command `stateless-guard`.

Exit status 0: no mandatory violation; 1: at least one; 2: the program, its config, its interpreter,
the document, the policy config or the arguments are broken, or the program ran past --timeout (one
message on stderr; --debug adds the traceback).
With several stacks the status is the worst one. Waived findings (policy config `waivers`) and
findings recorded in the --baseline are reported but never counted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import PolicySettings
    from .evaluate import UnmatchedWaiver, Violation
    from .mockengine import ProgramRun
    from .program_process import InterpreterUsed
    from .records import Resource

UNJUDGED_POLICY = "no-unjudged-components"
# Policies judged only when a change is (a --preview document's steps, --against-state/--against-rev).
CHANGE_POLICIES = frozenset({"no-data-loss-on-change"})
DEFAULT_TIMEOUT = 300.0
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def __getattr__(name: str) -> Any:
    # The judging side (pulumi_policy) is imported when it is first needed, so that a run can start
    # the program's interpreter before paying for it (bench/README.md, bench.gate).
    if name == "Violation":
        from .evaluate import Violation

        return Violation
    if name == "PolicySettings":
        from .config import PolicySettings

        return PolicySettings
    if name == "Resource":
        from .records import Resource

        return Resource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class GateError(Exception):
    """Anything that makes the verdict impossible: exit status 2. `detail` is what --debug shows
    besides the traceback (the program's own traceback, from its interpreter)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class GateResult:
    project: str
    stack: str
    program_dir: Path
    main_file: str  # relative to program_dir: where SARIF points a finding nothing else locates
    resources: list[Resource]
    violations: list[Violation]
    settings: Mapping[str, PolicySettings]
    policy_config: Path | None
    unjudged: int = 0
    stack_file: Path | None = None
    # The mock engine's run the verdict was given on (stack outputs, config); None for a document.
    run: ProgramRun | None = None
    # The interpreter the program ran with (path, Python and Pulumi package versions); None for a document.
    interpreter: InterpreterUsed | None = None
    # Waivers of the policy config that covered no finding.
    unmatched_waivers: list[UnmatchedWaiver] = field(default_factory=list)
    # Recorded findings of --baseline that this run no longer has (for this stack).
    baseline_gone: int | None = None
    # What the run could not see, one line each (run_notes, changes); the report prints them.
    notes: list[str] = field(default_factory=list)
    # Something the verdict depends on was not seen (run_notes): a pass is "PASS (incomplete)".
    incomplete: bool = False

    @property
    def mandatory(self) -> int:
        """Mandatory findings that count: a waived or baselined one is shown, never counted."""
        return sum(1 for v in self.violations if v.enforcement == "mandatory" and v.counts)

    @property
    def verdict(self) -> str:
        """FAIL on a mandatory violation; a pass on a run that could not see everything is never bare."""
        if self.mandatory:
            return "FAIL"
        return "PASS (incomplete)" if self.incomplete else "PASS"

    @property
    def exit_code(self) -> int:
        return 1 if self.mandatory else 0


def _with_remote_types(
    settings: Mapping[str, PolicySettings], resources: Sequence[Resource]
) -> dict[str, PolicySettings]:
    """The unjudged-components rule also covers every type the program registered with remote=True.

    Under the CLI the analyzer cannot tell a remote registration apart (the engine hands it the
    component the provider registered, with its children); the mock engine can, so the gate passes
    those types to the rule as configuration and any provider's component is covered.
    """
    current = settings.get(UNJUDGED_POLICY)
    remote = sorted({r.type for r in resources if r.remote})
    if current is None or not remote:
        return dict(settings)
    known = list(current.properties.get("componentTypes") or [])
    extra = [t for t in remote if t not in known]
    if not extra:
        return dict(settings)
    properties = {**current.properties, "componentTypes": known + extra}
    from .config import PolicySettings

    return {**settings, UNJUDGED_POLICY: PolicySettings(current.enforcement, properties)}


def count_unjudged(resources: Sequence[Resource], settings: Mapping[str, PolicySettings]) -> int:
    """Components whose contents were not judged, whatever the rule's enforcement (even disabled)."""
    from ..rules import RULES_BY_NAME, StackResource
    from ..rules.components import unjudged_components

    current = settings.get(UNJUDGED_POLICY)
    config = dict(current.properties) if current is not None else RULES_BY_NAME[UNJUDGED_POLICY].settings()
    stack = [StackResource(r.type, r.urn, r.name, dict(r.inputs), r.parent) for r in resources]
    return len(unjudged_components(stack, config))


def judge(
    resources: Sequence[Resource],
    policies: Sequence[Any],
    settings: Mapping[str, PolicySettings],
    project: str,
    stack: str,
    providers: Sequence[Resource] = (),
) -> tuple[list[Violation], dict[str, PolicySettings], int]:
    """Violations, the settings they were judged with, and the number of unjudged components."""
    from .evaluate import PolicyCrash, evaluate

    effective = _with_remote_types(settings, resources)
    try:
        violations = evaluate(resources, policies, effective, project, stack, providers)
    except PolicyCrash as exc:
        raise GateError(str(exc)) from exc
    return violations, effective, count_unjudged(resources, effective)


def run_notes(run: ProgramRun) -> tuple[list[str], bool]:
    """Human lines for what a preview run could not see, and whether that makes a pass incomplete:
    apply callbacks that did not run, unanswered invokes, stack references without outputs."""
    notes: list[str] = []
    if run.unrun_callbacks:
        n = run.unrun_callbacks
        notes.append(f"{n} apply callback{'s' if n != 1 else ''} did not run: resources they create are not judged")
    for invoke in run.unanswered_invokes:
        notes.append(
            f"invoke {invoke['token']} unanswered ({invoke['count']} call(s)): values that depend on it are "
            "unknown and not judged"
        )
    missing = [ref["name"] for ref in run.stack_references if not ref["supplied"]]
    for name in missing:
        notes.append(
            f"stack reference {name}: outputs unknown and not judged (supply them with --stack-reference {name}=FILE)"
        )
    incomplete = bool(notes)
    if run.unknown_inputs:
        n = len(run.unknown_inputs)
        notes.append(
            f"{n} resource{'s' if n != 1 else ''} with inputs unknown during preview: those properties are not judged"
        )
    return notes, incomplete


def default_policy_config(stack_config_dir: Path, stack: str) -> Path | None:
    candidate = stack_config_dir / f"policy.{stack}.json"
    return candidate if candidate.is_file() else None


def _settings(pack: Sequence[Any], policy_path: Path | None) -> dict[str, Any]:
    """Each policy's enforcement level and properties: the pack's defaults, with the policy config file
    (when there is one) applied over them."""
    from ..pack import PACK_ENFORCEMENT
    from .config import PolicyConfigError, read_policy_config, reconcile

    if policy_path is None:
        return reconcile(pack, PACK_ENFORCEMENT, None)
    if not policy_path.is_file():
        raise GateError(f"{policy_path}: policy config file not found")
    try:
        return reconcile(pack, PACK_ENFORCEMENT, read_policy_config(policy_path), str(policy_path))
    except PolicyConfigError as exc:
        raise GateError(str(exc)) from exc


def check_stack_name(stack: str) -> None:
    if not _STACK_NAME.match(stack):
        raise GateError(f"invalid stack name {stack!r}: use letters, digits, '-', '_' or '.'")


def stack_names(program_dir: Path | str = ".") -> list[str]:
    """Every stack of the project: the names of its <stackConfigDir>/Pulumi.<stack>.yaml files."""
    program = Path(program_dir).resolve()
    path = next((program / n for n in ("Pulumi.yaml", "Pulumi.yml") if (program / n).is_file()), None)
    if path is None:
        # The engine's own message for a directory without a project.
        from . import mockengine

        try:
            mockengine.load_project(program)
        except mockengine.ProjectError as exc:
            raise GateError(str(exc)) from exc
    _, stack_config_dir = _project_layout(program)
    names = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in stack_config_dir.glob("Pulumi.*.yaml") if p.is_file()
    )
    if not names:
        raise GateError(f"--all-stacks: {stack_config_dir} has no Pulumi.<stack>.yaml files")
    return names


def _check_stack(project: Any, stack: str, config_file: Path | None) -> None:
    check_stack_name(stack)
    if config_file is not None or project.stack_file(stack).is_file():
        return
    # A project without any stack file runs on its declared defaults; one that has stack files but
    # none for this name was most likely given a typo.
    known = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in project.stack_config_dir.glob("Pulumi.*.yaml") if p.is_file()
    )
    if known:
        raise GateError(
            f"unknown stack {stack!r}: {project.stack_config_dir} has no Pulumi.{stack}.yaml "
            f"(stacks: {', '.join(known)})"
        )


def run_gate(
    stack: str,
    program_dir: Path | str = ".",
    *,
    config_file: Path | str | None = None,
    policy_config: Path | str | None = None,
    policies: Sequence[Any] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    debug: bool = False,
    interpreter: Any | None = None,
    assets: str = "strict",
) -> GateResult:
    """One stack of a program, run in the program's own interpreter (run_gates)."""
    return run_gates(
        [stack],
        program_dir,
        config_file=config_file,
        policy_config=policy_config,
        policies=policies,
        stack_references=stack_references,
        timeout=timeout,
        debug=debug,
        interpreter=interpreter,
        assets=assets,
    )[0]


def _interpreter(program: Path) -> Any:
    """The program's interpreter as the Pulumi CLI finds it; a broken project file is reported by the
    engine's own project reader, which has the better message."""
    from .toolchain import ToolchainError, for_project

    try:
        return for_project(program)
    except ToolchainError as exc:
        _load_project(program)  # a project error first, if there is one
        raise GateError(str(exc)) from exc


def _load_project(program: Path) -> Any:
    from . import mockengine

    try:
        return mockengine.load_project(program)
    except mockengine.ProjectError as exc:
        raise GateError(str(exc)) from exc


def run_gates(
    stacks: Sequence[str],
    program_dir: Path | str = ".",
    *,
    config_file: Path | str | None = None,
    policy_config: Path | str | None = None,
    policies: Sequence[Any] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    debug: bool = False,
    interpreter: Any | None = None,
    assets: str = "strict",
) -> list[GateResult]:
    """Several stacks of one program, run in the program's own interpreter (toolchain.py) by one child
    process (program_process.py; later stacks in processes forked from it, mockengine/stack_workers.py):
    the SDK is imported once, the provider modules once for all but a second stack started ahead
    on another core; the program itself
    runs afresh for each stack (mockengine.run_program re-imports its modules and resets the runtime's
    settings, config and mocks). The child starts first; this process prepares the judging side
    (policy pack, policy config) while the program runs. `interpreter` (a toolchains Interpreter)
    replaces the one the project names: the same program at another git revision (--against-rev) runs
    with the checkout's interpreter, since a revision's tree has no virtualenv of its own."""
    for stack in stacks:
        check_stack_name(stack)
    program = Path(program_dir).resolve()
    cfg_file = Path(config_file) if config_file is not None else None
    # As `pulumi preview` runs it; StackReference outputs only as supplied (--stack-reference).
    # `assets`: "strict" as the engine reads them; "lenient" for a git revision's plan (--against-rev),
    # whose build outputs git does not keep (mockengine/assets.py).
    options: dict[str, Any] = {"preview": True, "stack_references": dict(stack_references or {}), "assets": assets}
    if cfg_file is not None:
        options["config_file"] = str(cfg_file.resolve())
    from .program_process import ProgramProcess, ProgramProcessError

    interpreter = interpreter or _interpreter(program)
    try:
        process = ProgramProcess.start(interpreter, program, stacks, options=options, timeout=timeout, debug=debug)
    except ProgramProcessError as exc:
        raise GateError(str(exc), exc.detail) from exc
    try:
        from ..pack import POLICIES
        from . import mockengine

        pack = list(policies) if policies is not None else POLICIES
        project = _load_project(program)
        prepared: dict[str, tuple[Path | None, Any]] = {}
        for stack in stacks:
            _check_stack(project, stack, cfg_file)
            policy_path = (
                Path(policy_config)
                if policy_config is not None
                else default_policy_config(project.stack_config_dir, stack)
            )
            prepared[stack] = (policy_path, _settings(pack, policy_path))
        try:
            main_file = str((project.main_dir / "__main__.py").relative_to(program))
        except ValueError:
            main_file = "__main__.py"
        # Each stack is judged as soon as its run arrives, while the child runs the next one.
        judged: list[tuple[str, Any, Path | None, Any, list[Any], int]] = []
        try:
            for stack, run in process.runs(mockengine.ProgramRun):
                policy_path, settings = prepared[stack]
                violations, effective, unjudged = judge(run.resources, pack, settings, run.project, stack)
                judged.append((stack, run, policy_path, effective, violations, unjudged))
        except ProgramProcessError as exc:
            raise GateError(str(exc), exc.detail) from exc
    finally:
        process.stop()

    from .evaluate import unmatched_waivers

    results = []
    for stack, run, policy_path, effective, violations, unjudged in judged:
        notes, incomplete = run_notes(run)
        results.append(
            GateResult(
                run.project,
                stack,
                program,
                main_file,
                run.resources,
                violations,
                effective,
                policy_path,
                unjudged,
                run.config.path,
                run,
                interpreter=process.used,
                unmatched_waivers=unmatched_waivers(effective, violations, not_judged=CHANGE_POLICIES),
                notes=notes,
                incomplete=incomplete,
            )
        )
    return results


def _project_layout(program: Path) -> tuple[str, Path]:
    """(project name, stack config dir) of the project file in `program`, in any language; ("", program)
    without one."""
    import yaml

    path = next((program / n for n in ("Pulumi.yaml", "Pulumi.yml") if (program / n).is_file()), None)
    if path is None:
        return "", program
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GateError(f"{path}: cannot be read as a project file: {exc}") from None
    if not isinstance(doc, dict):
        return "", program
    return str(doc.get("name") or ""), program / str(doc.get("stackConfigDir") or ".")


def run_document(
    kind: str,
    source: str,
    stack: str,
    program_dir: Path | str = ".",
    *,
    policy_config: Path | str | None = None,
    policies: Sequence[Any] | None = None,
) -> GateResult:
    """Judges a `pulumi stack export` (kind "state") or `pulumi preview --json` (kind "preview")
    document; `program_dir` is the project it came from (policy config default, source positions)."""
    from ..pack import POLICIES
    from .documents import DocumentError, parse_preview, parse_state, read_json
    from .evaluate import unmatched_waivers

    check_stack_name(stack)
    pack = list(policies) if policies is not None else POLICIES
    program = Path(program_dir).resolve()
    project_name, stack_config_dir = _project_layout(program)
    try:
        where, doc = read_json(source)
        parse = parse_state if kind == "state" else parse_preview
        parsed = parse(doc, stack, where, program, project_name)
    except DocumentError as exc:
        raise GateError(str(exc)) from exc
    # The project's stack and policy files apply only to its own stacks' documents.
    same_project = bool(project_name) and parsed.project == project_name
    policy_path = (
        Path(policy_config)
        if policy_config is not None
        else (default_policy_config(stack_config_dir, stack) if same_project else None)
    )
    settings = _settings(pack, policy_path)
    violations, settings, unjudged = judge(
        parsed.resources, pack, settings, parsed.project, stack, parsed.providers
    )
    if kind == "preview":
        # What the steps replace or delete (policies/gate/changes.py): the analyzer never sees it.
        from .changes import from_steps
        from .changes import violations as change_violations
        from .documents import parse_steps

        try:
            steps = parse_steps(doc, stack, where, program)
        except DocumentError as exc:
            raise GateError(str(exc)) from exc
        violations = [*violations, *change_violations(from_steps(steps), settings)]
    stack_file = stack_config_dir / f"Pulumi.{stack}.yaml"
    # Where SARIF points a finding whose resource has no source position: the project file, else
    # the document itself.
    if same_project and (program / "Pulumi.yaml").is_file():
        fallback_file = "Pulumi.yaml"
    else:
        fallback_file = os.path.relpath(Path(source).resolve(), program) if source != "-" else ""
    return GateResult(
        parsed.project,
        stack,
        program,
        fallback_file,
        parsed.resources,
        violations,
        settings,
        policy_path,
        unjudged,
        stack_file if same_project and stack_file.is_file() else None,
        unmatched_waivers=unmatched_waivers(
            settings, violations, not_judged=CHANGE_POLICIES if kind == "state" else ()
        ),
    )


__all__ = ["GateError", "GateResult", "Resource", "Violation", "run_document", "run_gate", "run_gates", "stack_names"]

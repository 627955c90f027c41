"""Command line of the offline gate (see the package docstring for usage and exit statuses)."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

EXIT_BROKEN = 2
# Installed, the package is `stateless_guard` and the command `stateless-guard`; in the checkout it is
# `python -m policies.gate`.
_INSTALLED = (__package__ or "").startswith("stateless_guard")
PROG = "stateless-guard" if _INSTALLED else "python -m policies.gate"
_ERROR_PREFIX = "stateless-guard" if _INSTALLED else "policies.gate"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Judge a Pulumi program (run under the mock engine), a `pulumi stack export` or a "
        "`pulumi preview --json` document with stateless-guard.",
    )
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        help="stack name (reads <stackConfigDir>/Pulumi.<stack>.yaml); repeat it to judge several stacks in one run",
    )
    parser.add_argument(
        "--all-stacks", action="store_true", help="judge every <stackConfigDir>/Pulumi.<stack>.yaml of the program"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--state", metavar="FILE|-", help="judge a `pulumi stack export` document (any language)")
    source.add_argument("--preview", metavar="FILE|-", help="judge `pulumi preview --json` output (any language)")
    parser.add_argument("--program", default=".", help="project directory with Pulumi.yaml (default: cwd)")
    parser.add_argument("--config-file", help="stack config file to use instead of Pulumi.<stack>.yaml")
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="github: workflow-command annotations at the declaring lines",
    )
    parser.add_argument("--output", help="write the report to this file instead of stdout")
    parser.add_argument(
        "--policy-config",
        help="policy config JSON as for `pulumi preview --policy-pack-config` "
        "(default: <stackConfigDir>/policy.<stack>.json when present)",
    )
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument(
        "--baseline", metavar="FILE", help="fail only on findings not recorded in FILE (see --write-baseline)"
    )
    baseline.add_argument(
        "--write-baseline", metavar="FILE", help="record this run's findings in FILE; they no longer fail a run"
    )
    parser.add_argument("--list-rules", action="store_true", help="print every rule: id, default enforcement, summary")
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument(
        "--stack-reference",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="outputs of a stack the program reads with StackReference(NAME): the JSON of "
        "`pulumi stack output --json --show-secrets` (without it those outputs are unknown, as in a preview)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="stop a program that runs longer than this, with exit status 2 and where it was waiting (default 300)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    against = parser.add_mutually_exclusive_group()
    against.add_argument(
        "--against-state",
        metavar="FILE|-",
        help="data-loss guard: compare the program's plan with a `pulumi stack export` of the deployed stack",
    )
    against.add_argument(
        "--against-rev",
        metavar="REV",
        help="data-loss guard: compare the program's plan with its plan at git revision REV (e.g. the pull "
        "request's base)",
    )
    return parser


def _list_rules() -> str:
    from ..pack import PACK_ENFORCEMENT, POLICIES

    width = max(len(p.name) for p in POLICIES)
    return "\n".join(
        f"{p.name:<{width}}  {(p.enforcement_level or PACK_ENFORCEMENT).value:<9}  {p.description}" for p in POLICIES
    )


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    document = args.state or args.preview
    if args.all_stacks and args.stack:
        parser.error("give either --stack (one or more) or --all-stacks, not both")
    if not args.all_stacks and not args.stack:
        parser.error("one of --stack or --all-stacks is required")
    if len(args.stack) != len(set(args.stack)):
        parser.error("a stack is given twice")
    if document and (args.all_stacks or len(args.stack) != 1):
        parser.error(f"{'--state' if args.state else '--preview'} judges one document: give exactly one --stack")
    if document and args.config_file:
        parser.error("--config-file applies to programs, not to --state/--preview documents")
    if document and (args.against_state or args.against_rev):
        parser.error(
            "--against-state/--against-rev compare a program's plan; a --preview document carries its own "
            "changes and a --state document has none"
        )
    if args.against_state and (args.all_stacks or len(args.stack) != 1):
        parser.error("--against-state compares one stack's export: give exactly one --stack")
    if args.config_file and (args.all_stacks or len(args.stack) != 1):
        parser.error("--config-file replaces one stack's file: give exactly one --stack")
    if args.policy_config and (args.all_stacks or len(args.stack) != 1):
        parser.error(
            "--policy-config applies to one stack: give exactly one --stack (several stacks use their "
            "own <stackConfigDir>/policy.<stack>.json)"
        )


def _stack_references(given: list[str]) -> dict[str, dict[str, object]]:
    """NAME=FILE pairs read into {name: outputs}; a bad pair or file is the caller's error (exit 2)."""
    import json

    from . import GateError

    references: dict[str, dict[str, object]] = {}
    for pair in given:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            raise GateError(f"--stack-reference {pair!r}: expected NAME=FILE")
        if name in references:
            raise GateError(f"--stack-reference {name}: given twice")
        try:
            outputs = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise GateError(f"--stack-reference {name}: cannot read {file}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise GateError(f"--stack-reference {name}: {file} is not JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(outputs, dict):
            raise GateError(
                f"--stack-reference {name}: {file} must be an object of outputs "
                "(`pulumi stack output --json --show-secrets`)"
            )
        references[name] = outputs
    return references


def _one_line(message: str) -> str:
    # SDK errors sometimes carry a hint on a second line; CI logs read better with one.
    return " ".join(part.strip() for part in message.strip().splitlines() if part.strip())


def _against(result: Any, args: argparse.Namespace) -> Any:
    """The result with the data-loss guard's findings (policies/gate/changes.py); notes on stderr."""
    from . import GateError, _interpreter, run_gate
    from .changes import ChangeError, against_rev, against_state

    def plan_at(program: Path) -> Any:
        # The revision's own stack file; a stack that did not exist there has nothing deployed to lose.
        if not any((program / n).is_file() for n in ("Pulumi.yaml", "Pulumi.yml")):
            raise GateError(f"--against-rev {args.against_rev}: no Pulumi.yaml in the program's directory there")
        # The checkout's interpreter (the head's run has just found it): the revision's tree has no
        # virtualenv of its own.
        interpreter = _interpreter(Path(args.program).resolve())
        try:
            # The base is a reconstruction of what is deployed: build outputs git does not keep (a
            # Lambda layer's directory) are left unread there, with a note; the head stays strict.
            return run_gate(
                result.stack,
                program,
                stack_references=_stack_references(args.stack_reference),
                timeout=args.timeout,
                interpreter=interpreter,
                assets="lenient",
            )
        except GateError as exc:
            if str(exc).startswith(f"unknown stack {result.stack!r}"):
                return None
            raise GateError(f"--against-rev {args.against_rev}: {exc}") from exc

    try:
        if args.against_state:
            judged, changes = against_state(result, args.against_state)
        else:
            judged, changes = against_rev(result, args.against_rev, plan_at)
    except ChangeError as exc:
        raise GateError(str(exc)) from exc
    for note in changes.notes:
        print(f"note: {result.project}/{result.stack}: {note}", file=sys.stderr)
    return judged


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version or args.list_rules:
        from .. import __version__

        sys.stdout.write((f"stateless-guard {__version__}" if args.version else _list_rules()) + "\n")
        return 0
    _check_arguments(parser, args)
    if not args.debug:
        warnings.simplefilter("ignore")
    # A short-lived process over a large, long-lived heap (the SDK and provider modules): the cyclic
    # collector's frequent passes cost a third of a program run and free little that reference
    # counting does not. Collections become rare, not absent (bench/README.md has the figures).
    gc.set_threshold(50_000, 20, 1_000)
    # The judging side (pack, reports) is imported after the program's interpreter has started.
    from . import GateError, run_document, run_gates, stack_names
    from .baseline import BaselineError, apply_baseline, read_baseline, write_baseline

    try:
        if args.state or args.preview:
            kind = "state" if args.state else "preview"
            results = [
                run_document(
                    kind, args.state or args.preview, args.stack[0], args.program, policy_config=args.policy_config
                )
            ]
        else:
            references = _stack_references(args.stack_reference)
            stacks = stack_names(args.program) if args.all_stacks else args.stack
            results = run_gates(
                stacks,
                args.program,
                config_file=args.config_file,
                policy_config=args.policy_config,
                stack_references=references,
                timeout=args.timeout,
                debug=args.debug,
            )
            # What a run could not see goes to stderr too, whatever the report format.
            for result in results:
                for note in result.notes:
                    print(f"{_ERROR_PREFIX}: {result.project}/{result.stack}: {note}", file=sys.stderr)
            if args.against_state or args.against_rev:
                results = [_against(result, args) for result in results]
        if args.write_baseline:
            # What is recorded no longer fails: the report shows this run as judged against it.
            results = apply_baseline(results, write_baseline(Path(args.write_baseline), results))
        elif args.baseline:
            results = apply_baseline(results, read_baseline(Path(args.baseline)))
    except (GateError, BaselineError) as exc:
        if args.debug:
            traceback.print_exception(exc)
            detail = getattr(exc, "detail", "")
            if detail:
                print(detail.rstrip(), file=sys.stderr)
        print(f"{_ERROR_PREFIX}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BROKEN
    except Exception as exc:  # a defect in the gate itself still gets one clear line
        if args.debug:
            traceback.print_exception(exc)
        print(f"{_ERROR_PREFIX}: error: {exc.__class__.__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BROKEN

    if args.debug:
        used = next((r.interpreter for r in results if r.interpreter is not None), None)
        if used is not None:
            packages = ", ".join(f"{name} {version}" for name, version in sorted(used.packages.items()))
            print(f"program ran with {used.executable} (Python {used.python}; {packages})", file=sys.stderr)

    from ..pack import POLICIES, RULE_FOR_POLICY
    from .report import as_github, as_json_many, as_sarif, as_text_many

    if args.format == "json":
        report = as_json_many(results)
    elif args.format == "sarif":
        report = as_sarif(results, POLICIES, RULE_FOR_POLICY)
    elif args.format == "github":
        report = as_github(results)
    else:
        report = as_text_many(results)
    exit_code = max(r.exit_code for r in results)

    if args.output:
        try:
            Path(args.output).write_text(report + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"{_ERROR_PREFIX}: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_BROKEN
        for result in results:
            counted = sum(1 for v in result.violations if v.counts)
            print(
                f"{result.verdict} {result.project}/{result.stack}: {counted} violation(s), "
                f"{result.mandatory} mandatory; report in {args.output}",
                file=sys.stderr,
            )
    else:
        sys.stdout.write(report + "\n")
        sys.stdout.flush()
    return exit_code


def command() -> None:
    """The installed command and `python -m`: main(), then the process ends without the interpreter's
    teardown, which frees the pack's and the reports' modules one object at a time for nothing
    (bench/README.md, bench.gate). Output is flushed first; a reader that went away loses nothing
    the exit status does not say."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's usage errors, --help
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BROKEN)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    command()

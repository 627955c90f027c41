"""Command line of the offline gate (see the package docstring for usage and exit statuses)."""

from __future__ import annotations

import argparse
import gc
import sys
import traceback
import warnings
from pathlib import Path

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
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--output", help="write the report to this file instead of stdout")
    parser.add_argument(
        "--policy-config",
        help="policy config JSON as for `pulumi preview --policy-pack-config` "
        "(default: <stackConfigDir>/policy.<stack>.json when present)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="stop a program that runs longer than this, with exit status 2 and where it was waiting (default 300)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    return parser


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
    if args.config_file and (args.all_stacks or len(args.stack) != 1):
        parser.error("--config-file replaces one stack's file: give exactly one --stack")
    if args.policy_config and (args.all_stacks or len(args.stack) != 1):
        parser.error(
            "--policy-config applies to one stack: give exactly one --stack (several stacks use their "
            "own <stackConfigDir>/policy.<stack>.json)"
        )


def _one_line(message: str) -> str:
    # SDK errors sometimes carry a hint on a second line; CI logs read better with one.
    return " ".join(part.strip() for part in message.strip().splitlines() if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    if not args.debug:
        warnings.simplefilter("ignore")
    # A short-lived process over a large, long-lived heap (the SDK and provider modules): the cyclic
    # collector's frequent passes cost a third of a program run and free little that reference
    # counting does not. Collections become rare, not absent (bench/README.md has the figures).
    gc.set_threshold(50_000, 20, 1_000)
    # The judging side (pack, reports) is imported after the program's interpreter has started.
    from . import GateError, run_document, run_gates, stack_names

    try:
        if args.state or args.preview:
            kind = "state" if args.state else "preview"
            results = [
                run_document(
                    kind, args.state or args.preview, args.stack[0], args.program, policy_config=args.policy_config
                )
            ]
        else:
            stacks = stack_names(args.program) if args.all_stacks else args.stack
            results = run_gates(
                stacks,
                args.program,
                config_file=args.config_file,
                policy_config=args.policy_config,
                timeout=args.timeout,
                debug=args.debug,
            )
    except GateError as exc:
        if args.debug:
            traceback.print_exception(exc)
            if exc.detail:
                print(exc.detail.rstrip(), file=sys.stderr)
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
    from .report import as_json_many, as_sarif, as_text_many

    if args.format == "json":
        report = as_json_many(results)
    elif args.format == "sarif":
        report = as_sarif(results, POLICIES, RULE_FOR_POLICY)
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
            verdict = "FAIL" if result.exit_code else "PASS"
            print(
                f"{verdict} {result.project}/{result.stack}: {len(result.violations)} violation(s), "
                f"{result.mandatory} mandatory; report in {args.output}",
                file=sys.stderr,
            )
    else:
        sys.stdout.write(report + "\n")
        sys.stdout.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

"""Command line of the offline gate (see the package docstring for usage and exit statuses)."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

EXIT_BROKEN = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m policies.gate",
        description="Run a Pulumi Python program under the mock engine and judge it with stateless-guard.",
    )
    parser.add_argument("--stack", required=True, help="stack name (reads <stackConfigDir>/Pulumi.<stack>.yaml)")
    parser.add_argument("--program", default=".", help="project directory with Pulumi.yaml (default: cwd)")
    parser.add_argument("--config-file", help="stack config file to use instead of Pulumi.<stack>.yaml")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--output", help="write the report to this file instead of stdout")
    parser.add_argument(
        "--policy-config",
        help="policy config JSON as for `pulumi preview --policy-pack-config` "
        "(default: <stackConfigDir>/policy.<stack>.json when present)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    return parser


def _one_line(message: str) -> str:
    # SDK errors sometimes carry a hint on a second line; CI logs read better with one.
    return " ".join(part.strip() for part in message.strip().splitlines() if part.strip())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.debug:
        warnings.simplefilter("ignore")
    from policies.gate import GateError, run_gate
    from policies.gate.report import as_json, as_sarif, as_text
    from policies.pack import POLICIES, RULE_FOR_POLICY

    try:
        result = run_gate(
            args.stack,
            args.program,
            config_file=args.config_file,
            policy_config=args.policy_config,
        )
    except GateError as exc:
        if args.debug:
            traceback.print_exception(exc)
        print(f"policies.gate: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BROKEN
    except Exception as exc:  # a defect in the gate itself still gets one clear line
        if args.debug:
            traceback.print_exception(exc)
        print(f"policies.gate: error: {exc.__class__.__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BROKEN

    if args.format == "json":
        report = as_json(result.project, result.stack, result.resources, result.violations)
    elif args.format == "sarif":
        report = as_sarif(
            result.project,
            result.stack,
            result.violations,
            POLICIES,
            result.settings,
            RULE_FOR_POLICY,
            result.main_file,
        )
    else:
        report = as_text(result.project, result.stack, result.resources, result.violations, result.unjudged)

    if args.output:
        try:
            Path(args.output).write_text(report + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"policies.gate: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_BROKEN
        verdict = "FAIL" if result.exit_code else "PASS"
        print(
            f"{verdict} {result.project}/{result.stack}: {len(result.violations)} violation(s), "
            f"{result.mandatory} mandatory; report in {args.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(report + "\n")
        sys.stdout.flush()
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())

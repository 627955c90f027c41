"""Mutation testing of the modules whose promises are the product: prints the kill rate per module and
writes bench/results/mutation.json.

mutmut (3.x) changes one small thing at a time in a module (an operator, a constant, a condition, a
string, an argument) and runs the tests that cover the changed function; a mutant the tests do not
notice "survived". Each group below runs in a scratch copy of the repository (mutmut writes its
mutated tree to `mutants/` beside the configuration it reads), with the tests of that group only.

A surviving mutant is either a missing test or *equivalent*: a change no behaviour can reveal (a
cache that only saves time, a default that is always overridden). Equivalent mutants are listed in
bench/README.md ("Equivalent mutants"), each with one line of why; the kill rate leaves them out:

    kill rate = killed / (mutants - equivalent)

A mutant that no test runs ("not covered") counts as not killed: it is a gap like a survivor, and is
printed beside it. (A test that runs the gate in a subprocess covers nothing here: mutmut sees only
the tests' own process: the gate's command-line tests call its `main` in process, and the one test
of the entry point as a child process is marked `process` and left out.)

The results file keeps one row per module, the latest measurement of it, with the commit and date it
was measured at: a run over one module (`--only`) replaces that module's row and keeps the others. The
standing printed at the end marks every module below the goal or changed since it was measured.

A run stopped before its end (Ctrl-C, or a time limit of one's own) loses nothing it measured when its
scratch copy was kept (`--keep DIR`): `--score DIR` records the modules it reached, each row saying how
many of its mutants were not reached (`mutmut run` inside that copy goes on where it stopped).

Usage: python -m bench.mutation [--group rules|gate|app ...] [--only GLOB ...] [--keep DIR]
       python -m bench.mutation --score DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results_file import write_results

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "mutation.json"
README = ROOT / "bench" / "README.md"


@dataclass(frozen=True)
class Group:
    name: str
    modules: tuple[str, ...]  # globs of files to mutate, relative to the repository root
    tests: tuple[str, ...]  # pytest arguments that select the group's tests
    # One Redis for the whole run, its URL in TEST_REDIS_URL (tests/app/conftest.py `redis_url`),
    # for the tests marked `redis`: starting one per mutant would cost more than the tests.
    redis: bool = False


GROUPS = (
    Group("rules", ("policies/rules/*.py",), ("tests/unit/policies/rules",)),
    # Without the tests marked `process`: they run only the gate's command in a child process, which
    # no mutant's test run can see, so they cannot kill one and only lengthen the coverage pass.
    Group(
        "gate",
        ("policies/gate/*.py", "policies/gate/*/*.py"),
        ("tests/unit/policies/gate", "-m", "not process"),
    ),
    # The app's security modules, with the tests that need no server or Redis only: a mutant run
    # starts a fresh pytest session per mutant, and starting PostgreSQL and moto for each would take
    # hours.
    Group(
        "app",
        ("app/security.py", "app/throttle.py", "app/passwords.py", "app/edge.py"),
        ("tests/app", "-m", "not e2e and (not services or redis)"),
        redis=True,
    ),
)

# The goal: at least this share of non-equivalent mutants killed in every module (bench/README.md).
GOAL = 0.95

# mutmut's outcome for each exit status of a mutant's test run (mutmut/stats.py status_by_exit_code).
KILLED, SURVIVED, NO_TESTS, TIMEOUT = "killed", "survived", "no tests", "timeout"
NOT_CHECKED = "not checked"  # a run stopped before it reached the mutant
# The tests' process ended as no passing pytest run ends: a status pytest never gives ("suspicious",
# e.g. a mutant that let a forked worker return into the test session, which then exited with the
# worker's status) or a signal ("segfault", which mutmut also names a SIGKILL). The tests did not pass,
# so the mutant was noticed: it counts as killed, like a timeout.
ENDED_OTHERWISE = frozenset({"suspicious", "segfault"})
# mutmut's CPU limit per mutant is (its tests' usual seconds + 1) x multiplier x 2.
TIMEOUT_MULTIPLIER = 5


def equivalent_mutants(readme: Path = README) -> dict[str, str]:
    """`mutant name -> why` from the README's "Equivalent mutants" section: lines `- \\`name\\`: why`."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(r"^## Equivalent mutants\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if not match:
        return {}
    found: dict[str, str] = {}
    for line in match.group(1).splitlines():
        item = re.match(r"^- `([\w.]+)`: (.+)$", line.strip())
        if item:
            found[item.group(1)] = item.group(2)
    return found


def module_of(mutant: str, root: Path = ROOT) -> str:
    """`policies.rules.s3.x_check__mutmut_3` -> `policies/rules/s3.py`; a package's own functions
    (`policies.gate.x_run_gate__mutmut_1`: mutmut leaves `__init__` out of the name) -> its `__init__.py`."""
    dotted = mutant.split(".x", 1)[0] if ".x_" in mutant else mutant.rsplit(".", 1)[0]
    path = dotted.replace(".", "/")
    return f"{path}/__init__.py" if (root / path).is_dir() else f"{path}.py"


def score(outcomes: dict[str, str], equivalent: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per module: counts by outcome, the equivalent mutants left out, the kill rate and the survivors.
    Mutants a stopped run did not reach are counted apart (`not_reached`) and left out of the rate: it
    is the rate of those measured, and the row says how many were not."""
    by_module: dict[str, list[tuple[str, str]]] = {}
    for mutant, outcome in outcomes.items():
        by_module.setdefault(module_of(mutant), []).append((mutant, outcome))
    report: dict[str, dict[str, Any]] = {}
    for module, mutants in sorted(by_module.items()):
        counts = Counter(outcome for _, outcome in mutants)
        survivors = sorted(m for m, outcome in mutants if outcome == SURVIVED and m not in equivalent)
        listed = sum(1 for m, outcome in mutants if outcome == SURVIVED and m in equivalent)
        judged = len(mutants) - listed - counts[NOT_CHECKED]
        killed = counts[KILLED] + counts[TIMEOUT] + sum(counts[outcome] for outcome in ENDED_OTHERWISE)
        report[module] = {
            "mutants": len(mutants),
            "killed": killed,
            "survived": len(survivors),
            "equivalent": listed,
            "not_covered": counts[NO_TESTS],
            "not_reached": counts[NOT_CHECKED],
            "other": len(mutants) - killed - counts[SURVIVED] - counts[NO_TESTS] - counts[NOT_CHECKED],
            "kill_rate": round(killed / judged, 4) if judged else None,
            "survivors": survivors,
        }
    return report


def _copy_tree(workdir: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    for name in files:
        source = ROOT / name
        if not source.is_file():
            continue
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # The gate's tests check SARIF against the official schema, kept beside the checkout (in the nearest
    # directory above it with shared/schemas, tests/unit/policies/gate/helpers.py): put it beside the copy.
    schemas = next((d / "shared" / "schemas" for d in ROOT.parents if (d / "shared" / "schemas").is_dir()), None)
    if schemas is not None:
        shutil.copytree(schemas, workdir / "shared" / "schemas")
    # The root Pulumi.yaml names `virtualenv: .venv`, and the gate's tests judge the repository's own
    # stacks from mutants/ (where mutmut runs them): the checkout's virtualenv is linked there, not
    # copied (mutmut keeps an existing mutants/ and copies `also_copy` into it by following links).
    # The gate's reports locate findings relative to the checkout (the nearest directory with .git):
    # mutants/ is made one, empty.
    mutants = workdir / "mutants"
    mutants.mkdir()
    subprocess.run(["git", "init", "--quiet", str(mutants)], check=True)
    venv = ROOT / ".venv"
    if venv.exists():
        (mutants / ".venv").symlink_to(venv.resolve(), target_is_directory=True)


def merge_results(
    previous: dict[str, Any], groups: dict[str, Any], commit: str, date: str, changed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The results file after this run: each module measured now replaces its earlier row and carries
    the commit and date it was measured at (`+` when the working tree changed that module); modules
    this run did not measure keep theirs. A group's
    `seconds` is that of its last run over the whole group (an `--only` run is not one)."""
    merged: dict[str, Any] = {"tool": "mutmut", "groups": {}}
    for name, group in (previous.get("groups") or {}).items():
        merged["groups"][name] = {
            "seconds": group.get("seconds"),
            "modules": dict(group.get("modules") or {}),
        }
    for name, group in groups.items():
        target = merged["groups"].setdefault(name, {"seconds": None, "modules": {}})
        if not group.get("partial"):
            target["seconds"] = group["seconds"]
        for module, row in group["modules"].items():
            at = commit + ("+" if module in changed else "")
            target["modules"][module] = {**row, "commit": at, "measured": date}
        target["modules"] = dict(sorted(target["modules"].items()))
    return merged


def _read_results(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _commit() -> tuple[str, frozenset[str]]:
    """The commit measured and the files the working tree changes against it (a module among them is
    recorded as `<commit>+`)."""
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    changed = subprocess.run(["git", "diff", "--name-only", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return (head.stdout.strip() or "unknown"), frozenset(changed.stdout.split())


def _changed_since(commit: str, module: str) -> bool:
    base = commit.rstrip("+")
    if commit.endswith("+") or base == "unknown":
        return True
    done = subprocess.run(["git", "diff", "--quiet", base, "--", module], cwd=ROOT, capture_output=True)
    return done.returncode != 0


def _percent(rate: float | None) -> str:
    """A rate to one decimal, rounded down: 94.97 % is not shown as the 95.0 % it misses."""
    return "-" if rate is None else f"{math.floor(rate * 1000) / 10:.1f} %"


def _print_standing(results: dict[str, Any]) -> None:
    """Every module on record, below 95 % or changed since it was measured marked."""
    print("standing (every module on record):")
    for name, group in results.get("groups", {}).items():
        for module, row in group.get("modules", {}).items():
            rate = row.get("kill_rate")
            marks = []
            if rate is None or rate < GOAL:
                marks.append(f"below {GOAL:.0%}")
            if row.get("not_reached"):
                marks.append(f"{row['not_reached']} of {row.get('mutants')} not reached")
            if _changed_since(str(row.get("commit", "unknown")), module):
                marks.append("changed since measured")
            shown = _percent(rate)
            print(f"  {name:<5} {module:<42} {shown:>8}  {row.get('commit', '?')} {'; '.join(marks)}")


def _configure(workdir: Path, group: Group, only: list[str]) -> None:
    roots = sorted({glob.split("/")[0] + "/" for glob in group.modules})
    # mutmut runs the tests inside mutants/, where it copies only the source paths and tests/: the rest
    # of the checkout (the root Pulumi.yaml, stacks/, infra/ that the gate's tests judge) goes too.
    copied = {"mutants", "tests", "shared", *(r.rstrip("/") for r in roots)}
    others = sorted(p.name for p in workdir.iterdir() if p.name not in copied)
    settings = [
        "",
        "[tool.mutmut]",
        f"source_paths = {json.dumps(roots)}",
        f"also_copy = {json.dumps(others)}",
        f"only_mutate = {json.dumps(only or list(group.modules))}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(group.tests))}",
        # The processes tests start do not inherit mutmut's stats mode (children.py); a mutant's covering
        # tests run with its module's own tests first, then fastest first (order.py).
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", "-p", "bench.mutation.children", '
        '"-p", "bench.mutation.order"]',
        # A mutant whose tests take ten times their usual CPU time (plus 2 s) has changed what the code
        # does: it counts as killed (a timeout) then, not after mutmut's default thirty times, which
        # spends minutes on each mutant that makes an archive walk a whole directory tree.
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}",
        "",
    ]
    with (workdir / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n".join(settings))


def _outcomes(workdir: Path) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    outcomes: dict[str, str] = {}
    for meta in (workdir / "mutants").rglob("*.meta"):
        doc = json.loads(meta.read_text(encoding="utf-8"))
        for mutant, code in doc.get("exit_code_by_key", {}).items():
            outcomes[mutant] = status_by_exit_code[code]
    return outcomes


MEASURED_AT = "measured-at.json"  # in a scratch copy: the commit it was copied from, for --score


def kept_runs(directory: Path) -> list[tuple[str, Path]]:
    """The scratch copies under `directory` (or `directory` itself), with their group's name."""
    names = {group.name for group in GROUPS}
    found = []
    for path in [directory, *sorted(directory.glob("mutation-*"))]:
        match = re.fullmatch(r"mutation-(\w+)-\w+", path.name)
        if match and match.group(1) in names and (path / "mutants").is_dir() and (path / MEASURED_AT).is_file():
            found.append((match.group(1), path))
    return found


def score_kept(directory: Path, equivalent: dict[str, str]) -> tuple[dict[str, Any], str, frozenset[str]]:
    """The groups measured in kept scratch copies (finished or stopped), as `main` records a run, and the
    commit they were copied from."""
    runs = kept_runs(directory)
    if not runs:
        raise SystemExit(f"no kept mutation run under {directory} (python -m bench.mutation --keep DIR makes one)")
    groups: dict[str, Any] = {}
    commits = set()
    changed: set[str] = set()
    for name, path in runs:
        measured = json.loads((path / MEASURED_AT).read_text(encoding="utf-8"))
        commits.add(measured["commit"])
        changed.update(measured["changed"])
        # A module the run never reached (left out by --only, or not begun) keeps its earlier row.
        scored = score(_outcomes(path), equivalent)
        modules = {module: row for module, row in scored.items() if row["not_reached"] < row["mutants"]}
        groups[name] = {"seconds": None, "modules": modules, "partial": True}
    if len(commits) != 1:
        raise SystemExit(f"the kept runs under {directory} were copied from different commits: {sorted(commits)}")
    return groups, commits.pop(), frozenset(changed)


def run_group(
    group: Group, keep: Path | None, only: list[str], commit: str = "unknown", changed: frozenset[str] = frozenset()
) -> tuple[dict[str, str], float]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"mutation-{group.name}-", dir=keep))
    try:
        _copy_tree(workdir)
        _configure(workdir, group, only)
        (workdir / MEASURED_AT).write_text(json.dumps({"commit": commit, "changed": sorted(changed)}), encoding="utf-8")
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        log = workdir / "mutmut.log"
        started = time.monotonic()
        with contextlib.ExitStack() as stack:
            if group.redis:
                from local.services import start_redis

                env["TEST_REDIS_URL"] = stack.enter_context(start_redis(workdir / "services")).url
            with log.open("w", encoding="utf-8") as out:
                done = subprocess.run(
                    [sys.executable, "-m", "mutmut", "run", "--max-children", str(os.cpu_count() or 2)],
                    cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
                )
        elapsed = time.monotonic() - started
        outcomes = _outcomes(workdir)
        if done.returncode != 0 or not outcomes:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SystemExit(f"mutmut failed on group {group.name} (exit {done.returncode}):\n{tail}")
        return outcomes, elapsed
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _print_group(name: str, modules: dict[str, dict[str, Any]]) -> None:
    header = ("module", "mutants", "killed", "survived", "equiv.", "no test", "not reached", "kill rate")
    print(f"  {name}")
    print("  {:<42} {:>7} {:>6} {:>8} {:>6} {:>7} {:>11} {:>9}".format(*header))
    for module, row in modules.items():
        rate = _percent(row["kill_rate"])
        print(
            f"  {module:<42} {row['mutants']:>7} {row['killed']:>6} {row['survived']:>8} "
            f"{row['equivalent']:>6} {row['not_covered']:>7} {row['not_reached']:>11} {rate:>9}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", action="append", choices=[g.name for g in GROUPS], help="default: all")
    parser.add_argument("--keep", type=Path, help="keep the scratch copies (and mutmut's results) under DIR")
    parser.add_argument(
        "--score", type=Path, metavar="DIR",
        help="record what the runs kept under DIR measured (also runs stopped before their end); runs nothing",
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="GLOB",
        help="mutate only these files of the group (e.g. policies/rules/s3.py); their rows in the results "
        "file are replaced, the others kept",
    )
    args = parser.parse_args(argv)
    chosen = [g for g in GROUPS if not args.group or g.name in args.group]
    # The commit of the tree the scratch copies are made from, before anything can move HEAD.
    commit, changed = _commit()
    equivalent = equivalent_mutants()

    groups: dict[str, Any] = {}
    if args.score is not None:
        groups, commit, changed = score_kept(args.score, equivalent)
        for name, group_result in groups.items():
            _print_group(name, group_result["modules"])
        chosen = []
    for group in chosen:
        print(f"mutating {group.name}: {', '.join(group.modules)} against {' '.join(group.tests)}", flush=True)
        only = [g for g in args.only if any(Path(g).match(m) or g.startswith(m.split("*")[0]) for m in group.modules)]
        if args.only and not only:
            continue
        outcomes, elapsed = run_group(group, args.keep, only, commit, changed)
        modules = score(outcomes, equivalent)
        groups[group.name] = {"seconds": round(elapsed, 1), "modules": modules, "partial": bool(only)}
        print(f"  {len(outcomes)} mutants in {elapsed:.0f} s")
        _print_group(group.name, modules)

    merged = merge_results(_read_results(RESULTS), groups, commit, time.strftime("%Y-%m-%d"), changed)
    merged["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    write_results(RESULTS, merged)
    _print_standing(merged)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m demo`: the main job, end to end on one machine.

1. the offline plan and policy verdict for every stack (the gate under the mock engine), and the
   prod stack's resource graph drawn with Graphviz;
2. the local environment: PostgreSQL, Redis, moto, 3 app replicas, the worker, HAProxy in front;
3. a scripted scenario through the load balancer, with one replica killed by SIGKILL mid-traffic;
4. teardown of everything step 2 started, also on Ctrl-C, SIGTERM or failure.

Exit status: 0 every step passed; 1 a step failed (the message says which); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from demo import graph as graphs
from demo import plan as plans
from demo.client import ScenarioError
from demo.report import render_table, verdicts_cell
from demo.scenario import run_scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")


class StepFailed(RuntimeError):
    """A step of the demo failed; the message names the step and the cause."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; raised in the main thread so that every finally block runs."""


class Progress:
    """Numbered steps with elapsed times, flushed as they happen."""

    def __init__(self, total: int, out: Any = None) -> None:
        self.total = total
        self.out = out or sys.stdout
        self.started = time.monotonic()
        self.step = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def header(self, title: str, step: int | None = None) -> None:
        self.step = step if step is not None else self.step + 1
        print(f"\n[{self.step}/{self.total}] {title}  (t={self.elapsed():.1f}s)", file=self.out, flush=True)

    def say(self, message: str) -> None:
        for line in message.splitlines():
            print(f"  {line}", file=self.out, flush=True)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into an exception in the main thread while the demo runs."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Teardown must finish: a second Ctrl-C while it runs is ignored."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def step_plans(
    progress: Progress, stacks: Sequence[str], program: Path, graph_stack: str
) -> tuple[Any, list[plans.PlanSummary]]:
    """Gate every stack once and print its summary; returns the mock run the gate judged for
    `graph_stack` (for the graph) and the summaries."""
    kept = None
    failed = []
    summaries = []
    for stack in stacks:
        started = time.monotonic()
        try:
            result = plans.gate_result(stack, program=program)
        except plans.ReportError as exc:
            raise StepFailed(f"offline gate: {exc}") from exc
        summary = plans.summary_of(result)
        summaries.append(summary)
        progress.say(plans.render_summary(summary) + f"\n  ({time.monotonic() - started:.1f}s)")
        if result.exit_code != 0 or not summary.passed:
            failed.append(f"{stack} ({summary.mandatory} mandatory)")
        if stack == graph_stack:
            kept = result.run
    if failed:
        raise StepFailed(f"offline gate: mandatory violations in {', '.join(failed)}; the plan may not ship")
    return kept, summaries


def step_graph(progress: Progress, stack: str, program: Path, outputs: Sequence[Path], run: Any = None) -> None:
    from policies.gate.mockengine import ProgramError, ProjectError, run_program

    try:
        if run is None:
            run = run_program(program, stack)
        graph = graphs.build_graph(run.resources)
        title = f"{run.project} / {stack}: {len(graph.nodes)} resources in {len(graph.clusters)} components"
        dot_text = graphs.to_dot(graph, title=title)
        for output in outputs:
            graphs.render(dot_text, output)
    except (graphs.GraphError, ProgramError, ProjectError) as exc:
        raise StepFailed(f"resource graph: {exc}") from exc
    shown = ", ".join(str(_relative(p)) for p in outputs)
    progress.say(f"{stack} resource graph: {len(graph.nodes)} resources, {len(graph.edges)} dependencies -> {shown}")


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        return path


def run_demo(args: argparse.Namespace, progress: Progress) -> list[tuple[str, str]]:
    from local import env
    from local.environment import LocalEnvironment

    program = Path(args.program).absolute()
    progress.header("offline plan and policy verdict for every stack (mock engine, no cloud)")
    kept, summaries = step_plans(progress, args.stacks, program, args.graph_stack)
    step_graph(progress, args.graph_stack, program, args.graph_output, kept)

    progress.header(f"local environment: {args.replicas} replicas behind HAProxy")
    state_dir = Path(args.state_dir).absolute()
    running: LocalEnvironment | None = None
    teardown_error = None
    try:
        try:
            running = LocalEnvironment.up(replicas=args.replicas, state_dir=state_dir, progress=progress.say)
        except (env.UpError, env.AlreadyUpError, ValueError) as exc:
            raise StepFailed(f"local environment: {exc}") from exc
        run = running.run
        progress.say(f"ready at {run.lb_url}: " + ", ".join(f"{r.id} (pid {r.pid})" for r in run.replicas))

        progress.header("scripted scenario through the load balancer")
        try:
            result = run_scenario(run, kill=running.kill_replica, say=progress.say)
        except ScenarioError as exc:
            raise StepFailed(f"scenario: {exc}") from exc
        except Exception as exc:  # a transport error, a refused connection: still a failed step
            raise StepFailed(f"scenario: {type(exc).__name__}: {exc}") from exc
    finally:
        with shielded():
            progress.header("teardown", step=progress.total)
            if running is not None or (state_dir / "run.json").exists():
                try:
                    for line in env.down(state_dir=state_dir):
                        progress.say(line)
                except Exception as exc:  # reported, without hiding an earlier failure
                    teardown_error = f"{type(exc).__name__}: {exc}"
                    progress.say(f"teardown incomplete: {teardown_error}; run `python -m local down`")
            else:
                progress.say("nothing left to stop")
    if teardown_error is not None:
        raise StepFailed(f"teardown: {teardown_error}")
    rows = [("offline verdicts", verdicts_cell(summaries)), *result.rows()]
    if result.failed or result.lost_sessions:
        raise StepFailed(
            f"scenario: {result.failed} failed request(s), {result.lost_sessions} lost session(s) after the SIGKILL\n"
            + render_table(rows)
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", nargs="+", default=list(STACKS), help="stacks to plan and judge")
    parser.add_argument("--program", default=str(REPO_ROOT), help="Pulumi project directory")
    parser.add_argument("--replicas", type=int, default=3, help="app replicas behind HAProxy (at least 2)")
    parser.add_argument("--state-dir", default=str(REPO_ROOT / ".local"), help="the local environment's state")
    parser.add_argument("--graph-stack", default="prod", help="stack whose resource graph is drawn")
    parser.add_argument(
        "--graph-output",
        nargs="+",
        type=Path,
        default=[REPO_ROOT / ".local" / "stack-graph.svg"],
        help="files the graph is rendered to (.svg, .png, .dot)",
    )
    args = parser.parse_args(argv)
    if args.replicas < 2:
        parser.error("--replicas must be at least 2: one of them is killed during the scenario")

    progress = Progress(total=4)
    print(
        "stateless-stack demo: plan and verdict offline, then the app on real services with a replica killed",
        flush=True,
    )
    try:
        with interrupts_raise():
            rows = run_demo(args, progress)
    except StepFailed as exc:
        print(f"\nFAILED after {progress.elapsed():.1f}s: {exc}", file=sys.stderr, flush=True)
        return 1
    except (Interrupted, KeyboardInterrupt) as exc:
        print(f"\ninterrupted ({exc or 'SIGINT'}) after {progress.elapsed():.1f}s; everything was torn down",
              file=sys.stderr, flush=True)
        return 130
    rows.append(("wall time", f"{progress.elapsed():.1f} s"))
    print("\n" + render_table(rows, title="scenario through HAProxy"), flush=True)
    print("demo passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Failover benchmark: prints figures and writes bench/results/failover.json.

Against one local environment (3 replicas behind HAProxy), closed-loop users each keep changing and
reading their own cart (checking it every time) through HAProxy:
- baseline: no fault, for reference;
- SIGKILL: one replica killed mid-traffic (then started again);
- rolling restart: every replica in turn gets SIGTERM and is replaced once the new one is in rotation.
For each: requests, failed requests, lost sessions, p50/p99 overall and p99 in the seconds right after
the fault.

Usage: python -m bench.failover [--users 4] [--seconds 5]
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.results_file import write_results
from demo.client import Traffic, TrafficReport, percentile
from demo.environment import machine
from demo.report import render_table
from local.environment import LocalEnvironment, throwaway

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "failover.json"
WINDOW_S = 2.0


def window_p99(report: TrafficReport, start: float, length: float = WINDOW_S) -> float:
    """p99 (ms) of the requests that started within `length` seconds after `start` (traffic-relative)."""
    return round(percentile((s.latency for s in report.samples if start <= s.at < start + length), 0.99) * 1000, 1)


def baseline(stack: LocalEnvironment, users: int, seconds: float) -> dict[str, Any]:
    traffic = Traffic(stack.lb, users=users, pause=0).start()
    time.sleep(seconds)
    return traffic.stop().figures()


def sigkill(stack: LocalEnvironment, users: int, seconds: float) -> dict[str, Any]:
    victim = stack.run.replicas[0].id
    traffic = Traffic(stack.lb, users=users, pause=0).start()
    try:
        time.sleep(seconds / 2)
        at = time.monotonic() - traffic.started_at
        stack.kill_replica(victim, signal.SIGKILL)
        time.sleep(seconds / 2)
    finally:
        report = traffic.stop()
    stack.start_replica(victim)
    stack.heal()
    return {**report.figures(), "victim": victim, "p99_ms_after_fault": window_p99(report, at)}


def rolling(stack: LocalEnvironment, users: int, seconds: float) -> dict[str, Any]:
    traffic = Traffic(stack.lb, users=users, pause=0).start()
    windows: list[float] = []
    try:
        time.sleep(seconds / 2)
        back = stack.rolling_restart(
            lambda replica_id, since: traffic.wait_served_by(replica_id, since=since, timeout=60),
            before_each=lambda _replica_id: windows.append(time.monotonic() - traffic.started_at),
        )
        time.sleep(seconds / 2)
    finally:
        report = traffic.stop()
    return {
        **report.figures(),
        "back_in_rotation_s": back,
        "p99_ms_after_fault": max(window_p99(report, at) for at in windows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=4, help="concurrent closed-loop users")
    parser.add_argument("--seconds", type=float, default=5.0, help="traffic around each fault")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    host = machine()
    print(
        f"bench.failover: {args.users} closed-loop users through HAProxy to 3 replicas; "
        f"{host['cpus']} CPUs shared by the users, HAProxy, the replicas, Redis and PostgreSQL",
        flush=True,
    )
    started = time.monotonic()
    scenarios: dict[str, dict[str, Any]] = {}
    with throwaway(replicas=3, prefix="stateless-bench-failover-") as stack:
        for name, run in (("baseline", baseline), ("sigkill", sigkill), ("rolling_restart", rolling)):
            scenarios[name] = run(stack, args.users, args.seconds)
            print(f"  {name}: {scenarios[name]}", flush=True)
    keys = ("requests", "failed", "lost_sessions", "rps", "p50_ms", "p99_ms", "p99_ms_after_fault")
    rows = [(f"{name} {key}", str(figures.get(key, "-"))) for name, figures in scenarios.items() for key in keys]
    print(render_table(rows, title="bench.failover"))
    document = {
        "benchmark": "failover",
        "machine": host,
        "load": {"users": args.users, "pause_s": 0, "seconds_per_scenario": args.seconds, "window_s": WINDOW_S},
        "scenarios": scenarios,
        "wall_s": round(time.monotonic() - started, 1),
    }
    write_results(args.output, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())

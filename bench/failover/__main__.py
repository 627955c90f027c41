"""Failover benchmark: prints figures and writes bench/results/failover.json.

Against one local environment (3 replicas behind HAProxy), closed-loop users each keep changing and
reading their own cart (checking it every time) through HAProxy:
- baseline: no fault, for reference;
- SIGKILL: one replica killed mid-traffic (then started again);
- rolling restart: every replica in turn gets SIGTERM and is replaced once the new one is in rotation;
- SIGSTOP: one replica frozen for 25 s (every process of it), then thawed: how long until HAProxy
  takes it out of rotation (the target group's health checks), what that costs clients without
  retries and clients with the demo's timeouts and retries, and how long until it is back.
For each: requests, failed requests, lost sessions, p50/p99 overall and p99 in the seconds right after
the fault.

Usage: python -m bench.failover [--users 4] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.results_file import write_results
from demo.client import Traffic, TrafficReport, percentile
from demo.environment import machine
from demo.report import render_table
from local import procs
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


FROZEN_S = 25.0


def sigstop(stack: LocalEnvironment, users: int, seconds: float) -> dict[str, Any]:
    victim = stack.run.replicas[1]
    pids = procs.process_tree(victim.pid)
    timeout = httpx.Timeout(2.0, connect=2.0)
    bare = Traffic(stack.lb, users=max(1, users // 2), pause=0, timeout=timeout, attempts=1).start()
    traffic = Traffic(stack.lb, users=users, pause=0, timeout=timeout).start()

    def state(word: str) -> bool:
        return bool(stack.log_tail("haproxy", lines=1, containing=(f"{victim.id} is {word}",)).strip())

    try:
        time.sleep(seconds / 2)
        stopped = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        down = None
        try:
            while time.monotonic() < stopped + FROZEN_S:
                if down is None and state("DOWN"):
                    down = time.monotonic()
                time.sleep(0.05)
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        thawed = time.monotonic()
        up = None
        while up is None and time.monotonic() < thawed + 60:
            if state("UP"):
                up = time.monotonic()
            time.sleep(0.05)
        time.sleep(seconds / 2)
    finally:
        bare_report = bare.stop()
        report = traffic.stop()
    stop_at = stopped - bare.started_at
    failed = [s.at for s in bare_report.samples if s.failed]
    return {
        **report.figures(),
        "victim": victim.id,
        "frozen_s": FROZEN_S,
        "out_of_rotation_after_s": round(down - stopped, 1) if down else None,
        "back_in_rotation_after_thaw_s": round(up - thawed, 1) if up else None,
        "no_retry_requests": bare_report.sent,
        "no_retry_failed": len(failed),
        "no_retry_failing_for_s": round(max(failed) + 2.0 - stop_at, 1) if failed else 0.0,
        "p99_ms_after_fault": window_p99(report, stopped - traffic.started_at),
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
        scenario_runs = (
            ("baseline", baseline), ("sigkill", sigkill), ("rolling_restart", rolling), ("sigstop", sigstop),
        )
        for name, run in scenario_runs:
            scenarios[name] = run(stack, args.users, args.seconds)
            print(f"  {name}: {scenarios[name]}", flush=True)
    keys = (
        "requests", "failed", "failed_first_attempt", "lost_sessions", "rps", "p50_ms", "p99_ms", "p99_ms_after_fault",
        "out_of_rotation_after_s", "no_retry_failed", "no_retry_failing_for_s", "back_in_rotation_after_thaw_s",
    )
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

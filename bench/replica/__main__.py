"""Replica benchmark: prints figures and writes bench/results/replica.json.

- cold start: a new replica process (`python -m app`) on a free port against the running stores,
  from process start to the first /readyz 200 (median, min, max over --runs);
- resident memory (VmRSS from /proc/<pid>/status) of a replica just after it became ready, of the
  running replicas after some traffic, and of the worker, HAProxy, Redis, the PostgreSQL postmaster
  and moto for comparison.

Usage: python -m bench.replica [--runs 5]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.results_file import write_results
from demo.client import Traffic
from demo.environment import machine, rss_kib
from demo.report import render_table
from local.environment import LocalEnvironment, throwaway

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "replica.json"


def cold_start(stack: LocalEnvironment, index: int, timeout: float = 60.0) -> dict[str, Any]:
    from local import app_process, probe, procs

    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = stack.state_dir / "logs" / f"cold-{index}.log"
    began = time.monotonic()
    proc = procs.spawn(
        app_process.replica_command(),
        log_path=log_path,
        env=app_process.replica_environment(stack.app_env(), f"cold-{index}", port),
        cwd=app_process.REPO_ROOT,
    )
    try:
        while not probe.ready(url, timeout=1):
            if proc.poll() is not None:
                raise RuntimeError(f"the replica exited with {proc.returncode}:\n{procs.tail(log_path)}")
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"the replica was not ready within {timeout:.0f}s:\n{procs.tail(log_path)}")
            time.sleep(0.01)
        ready = time.monotonic() - began
        rss = rss_kib(proc.pid)
    finally:
        procs.stop_group(proc.pid, first=signal.SIGTERM, timeout=30)
        proc.wait(5)
    return {"ready_s": round(ready, 3), "rss_mib": round(rss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts to measure")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    host = machine()
    print(f"bench.replica: {args.runs} cold starts, RSS per process; {host['cpus']} CPUs shared", flush=True)
    started = time.monotonic()
    with throwaway(replicas=3, prefix="stateless-bench-replica-") as stack:
        starts = []
        for index in range(args.runs):
            starts.append(cold_start(stack, index))
            print(f"  cold start {index + 1}: {starts[-1]}", flush=True)
        traffic = Traffic(stack.lb, users=2, pause=0).start()
        time.sleep(3)
        warmed = traffic.stop()
        memory = {r.id: round(rss_kib(r.pid) / 1024, 1) for r in stack.run.replicas}
        memory["worker"] = round(rss_kib(stack.run.worker_pid) / 1024, 1)
        for name in ("haproxy", "redis", "postgres", "moto"):
            memory[name] = round(rss_kib(int(stack.run.services[name]["pid"])) / 1024, 1)
    ready = [s["ready_s"] for s in starts]
    cold_rss = [s["rss_mib"] for s in starts]
    replicas_rss = [memory[r] for r in memory if r.startswith("replica-")]
    summary = {
        "cold_start_s": {
            "median": round(statistics.median(ready), 3),
            "min": round(min(ready), 3),
            "max": round(max(ready), 3),
        },
        "rss_mib_at_ready_median": round(statistics.median(cold_rss), 1),
        "rss_mib_per_replica_after_traffic_median": round(statistics.median(replicas_rss), 1),
    }
    rows = [
        ("cold start to /readyz 200 (median)", f"{summary['cold_start_s']['median']:.3f} s"),
        ("cold start (min / max)", f"{summary['cold_start_s']['min']:.3f} / {summary['cold_start_s']['max']:.3f} s"),
        ("RSS of a replica at ready (median)", f"{summary['rss_mib_at_ready_median']} MiB"),
    ]
    rows += [(f"RSS {name} (after {warmed.sent} requests)", f"{value} MiB") for name, value in memory.items()]
    print(render_table(rows, title="bench.replica"))
    document = {
        "benchmark": "replica",
        "machine": host,
        "cold_starts": starts,
        "rss_mib": memory,
        "warm_up_requests": warmed.sent,
        "summary": summary,
        "wall_s": round(time.monotonic() - started, 1),
    }
    write_results(args.output, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""App benchmark through HAProxy: prints figures and writes bench/results/app.json.

For 1 and then 3 replicas (one local environment each, the same run), `wrk` drives
- GET /healthz: no state touched, the floor of the stack's cost per request;
- PUT /cart/items/{sku}: authenticated, one Redis round trip, the cost of keeping state off the instance;
and reports throughput and p50/p99 latency, the ratio cart/healthz and the ratio 3-replica/1-replica.

Usage: python -m bench.app [--duration 5] [--threads 2] [--connections 32] [--warmup 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.results_file import write_results
from demo.client import AppClient
from demo.environment import machine, throwaway
from demo.report import render_table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "app.json"
SCRIPT = Path(__file__).with_name("wrk_report.lua")
MARKER = "BENCH_JSON "
TARGETS = {
    "healthz": {"method": "GET", "path": "/healthz", "body": ""},
    "cart": {"method": "PUT", "path": "/cart/items/bench-sku", "body": '{"quantity": 2}'},
}


class BenchError(RuntimeError):
    pass


def run_wrk(url: str, *, method: str, body: str, token: str, duration: float, threads: int, connections: int) -> dict:
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchError("wrk is not installed: run `apt-get install wrk`")
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_TOKEN": token}
    seconds = max(1, round(duration))
    argv = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(SCRIPT), url]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 60, check=False)
    if result.returncode != 0:
        raise BenchError(f"wrk failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    for line in result.stdout.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise BenchError(f"wrk printed no {MARKER.strip()} line:\n{result.stdout}")
    seconds = raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(raw["latency_us"]["max"] / 1000, 2),
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }


def measure(replicas: int, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with throwaway(replicas=replicas, prefix="stateless-bench-app-") as stack:
        user = AppClient(stack.lb).sign_up()
        user.put_item("bench-sku", 1)
        token = user.token or ""
        user.close()
        for name, target in TARGETS.items():
            options = {"method": target["method"], "body": target["body"], "token": token}
            url = stack.lb + target["path"]
            if args.warmup > 0:
                run_wrk(url, duration=args.warmup, threads=args.threads, connections=args.connections, **options)
            figures[name] = run_wrk(
                url, duration=args.duration, threads=args.threads, connections=args.connections, **options
            )
            print(f"  {replicas} replica(s) {name:<8} {_line(figures[name])}", flush=True)
    return figures


def _line(f: dict[str, Any]) -> str:
    return (
        f"{f['rps']:>8.1f} req/s  p50 {f['p50_ms']:>6.2f} ms  p99 {f['p99_ms']:>7.2f} ms  "
        f"non-2xx {f['non_2xx']}  socket errors {f['socket_errors']}"
    )


def ratios(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for replicas, figures in runs.items():
        out[f"cart_over_healthz_rps_{replicas}r"] = round(figures["cart"]["rps"] / figures["healthz"]["rps"], 3)
        out[f"cart_over_healthz_p99_{replicas}r"] = round(figures["cart"]["p99_ms"] / figures["healthz"]["p99_ms"], 3)
    if "1" in runs and "3" in runs:
        for name in TARGETS:
            out[f"{name}_rps_3r_over_1r"] = round(runs["3"][name]["rps"] / runs["1"][name]["rps"], 3)
            out[f"{name}_p99_3r_over_1r"] = round(runs["3"][name]["p99_ms"] / runs["1"][name]["p99_ms"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="whole seconds of unmeasured load first (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--replicas", default="1,3", help="replica counts, comma-separated")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    counts = [int(part) for part in args.replicas.split(",") if part.strip()]
    host = machine()
    print(
        f"bench.app: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s through HAProxy; "
        f"{host['cpus']} CPUs shared by wrk, HAProxy, the replicas, Redis and PostgreSQL",
        flush=True,
    )
    started = time.monotonic()
    runs: dict[str, dict[str, Any]] = {}
    try:
        for count in counts:
            runs[str(count)] = measure(count, args)
    except BenchError as exc:
        print(f"bench.app: {exc}", file=sys.stderr)
        return 1
    found = ratios(runs)
    rows = [(f"{r} replica(s) {name}", _line(runs[r][name])) for r in runs for name in TARGETS]
    rows += [(key, f"{value:.3f}") for key, value in found.items()]
    print(render_table(rows, title="bench.app"))
    document = {
        "benchmark": "app",
        "machine": host,
        "load": {"tool": "wrk", "threads": args.threads, "connections": args.connections, "duration_s": args.duration},
        "runs": runs,
        "ratios": found,
        "wall_s": round(time.monotonic() - started, 1),
    }
    write_results(args.output, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())

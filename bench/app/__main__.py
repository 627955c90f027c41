"""App benchmark against its floor: prints figures and writes bench/results/app.json.

One local environment (one replica behind HAProxy) and, beside it on the same Redis, the floor
(bench/app/floor.py: the least a server on the app's own stack can do for the same routes) behind a
second HAProxy rendered by the same code. `wrk` drives, in alternating rounds so both servers see the
same machine load,
- GET /healthz: no state touched;
- PUT /cart/items/{sku}: RS256 bearer token verified, the body validated, the Redis work;
directly (replica, floor) and through each one's load balancer, and reports req/s, p50, p99 and the
ratios app/floor. Then, against the replica directly:
- logins per second (argon2id) while the cart route is loaded too, and the cart's p99 meanwhile;
- checkouts per second (PostgreSQL: the order, its outbox row and the user check), closed loop.

Usage: python -m bench.app [--rounds 3] [--duration 5] [--threads 2] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.results_file import write_results
from demo.client import AppClient, percentile
from demo.environment import machine
from demo.report import render_table
from local.environment import LocalEnvironment, throwaway

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "app.json"
SCRIPT = Path(__file__).with_name("wrk_report.lua")
MARKER = "BENCH_JSON "
TARGETS = {
    "healthz": {"method": "GET", "path": "/healthz", "body": ""},
    "cart": {"method": "PUT", "path": "/cart/items/bench-sku", "body": '{"quantity": 2}'},
}
SERVERS = ("app", "floor")
PATHS = ("direct", "lb")


class BenchError(RuntimeError):
    pass


def _wrk_argv(url: str, duration: float, threads: int, connections: int) -> list[str]:
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchError("wrk is not installed: run `apt-get install wrk`")
    seconds = max(1, round(duration))
    return [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(SCRIPT), url]


def start_wrk(
    url: str, *, method: str, body: str, token: str, duration: float, threads: int, connections: int
) -> subprocess.Popen[str]:
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_TOKEN": token}
    argv = _wrk_argv(url, duration, threads, connections)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish_wrk(proc: subprocess.Popen[str], duration: float) -> dict[str, Any]:
    try:
        stdout, stderr = proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise BenchError("wrk did not finish in time") from None
    if proc.returncode != 0:
        raise BenchError(f"wrk failed (exit {proc.returncode}): {stderr.strip() or stdout.strip()}")
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            raw = json.loads(line[len(MARKER) :])
            break
    else:
        raise BenchError(f"wrk printed no {MARKER.strip()} line:\n{stdout}")
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


def run_wrk(url: str, *, duration: float, **options: Any) -> dict[str, Any]:
    return finish_wrk(start_wrk(url, duration=duration, **options), duration)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(url: str, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not _ready(url):
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not answer 200 at {url} within {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def floor_server(stack: LocalEnvironment, work_dir: Path) -> Iterator[dict[str, Any]]:
    """The floor on a loopback port beside the replica, on the same Redis, behind its own HAProxy."""
    from local import procs
    from local.haproxy import HealthCheck, Server, start_haproxy

    app_env = stack.app_env("floor")
    replica = stack.run.replicas[0]
    port = procs.free_port()
    argv = [
        sys.executable,
        "-m",
        "bench.app.floor",
        "--port",
        str(port),
        "--redis-url",
        str(stack.run.services["redis"]["url"]),
        "--jwks-url",
        f"{replica.url}/.well-known/jwks.json",
        "--issuer",
        app_env["APP_JWT_ISSUER"],
        "--audience",
        app_env["APP_JWT_AUDIENCE"],
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with ExitStack() as cleanup:
        proc = procs.spawn(argv, log_path=work_dir / "floor.log", env=env)
        cleanup.callback(procs.stop_group, proc.pid, timeout=10)
        _wait(f"http://127.0.0.1:{port}/healthz", "the floor server")
        lb = start_haproxy(
            work_dir / "floor-lb",
            [Server("floor-1", port)],
            port=procs.free_port(),
            health=HealthCheck.from_target_group(),
        )
        cleanup.callback(lb.stop)
        _wait(f"{lb.url}/healthz", "the floor's load balancer")
        yield {"direct": f"http://127.0.0.1:{port}", "lb": lb.url, "pid": proc.pid}


def compare(urls: dict[str, dict[str, Any]], token: str, args: argparse.Namespace) -> dict[str, Any]:
    """Alternating rounds: for every path and route, app then floor, `rounds` times.

    Besides wrk's figures, the server process's own CPU time per request: on a machine shared with
    other work, req/s moves with the load, CPU time per request much less."""
    samples: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        p: {t: {s: [] for s in SERVERS} for t in TARGETS} for p in PATHS
    }
    options = {"threads": args.threads, "connections": args.connections, "token": token}
    for path in PATHS:
        for target in TARGETS.values():
            for server in SERVERS:
                if args.warmup > 0:
                    url = urls[server][path] + target["path"]
                    run_wrk(url, method=target["method"], body=target["body"], duration=args.warmup, **options)
    for round_no in range(1, args.rounds + 1):
        for path in PATHS:
            for name, target in TARGETS.items():
                for server in SERVERS:
                    url = urls[server][path] + target["path"]
                    cpu_before = cpu_seconds(urls[server]["pid"])
                    figures = run_wrk(
                        url, method=target["method"], body=target["body"], duration=args.duration, **options
                    )
                    spent = cpu_seconds(urls[server]["pid"]) - cpu_before
                    figures["cpu_us_per_request"] = round(spent * 1e6 / max(1, figures["requests"]), 1)
                    samples[path][name][server].append(figures)
                    print(f"  round {round_no} {path:<6} {name:<8} {server:<5} {_line(figures)}", flush=True)
    out: dict[str, Any] = {}
    for path in PATHS:
        for name in TARGETS:
            entry: dict[str, Any] = {server: summarize(samples[path][name][server]) for server in SERVERS}
            entry.update(ratios(entry["app"], entry["floor"]))
            out[f"{path}/{name}"] = entry
    return out


def ratios(app: dict[str, Any], floor: dict[str, Any]) -> dict[str, float]:
    """The app against the floor: throughput and p99 as app/floor, CPU per request as floor/app (all
    three are 1.0 at the floor's speed; throughput and CPU below 1 and p99 above 1 are the app's cost)."""
    return {
        "app_over_floor_rps": round(app["rps"] / floor["rps"], 3),
        "app_over_floor_p99": round(app["p99_ms"] / floor["p99_ms"], 3),
        "floor_over_app_cpu_per_request": round(floor["cpu_us_per_request"] / app["cpu_us_per_request"], 3),
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over the rounds of each figure, errors summed."""
    return {
        "rps": round(statistics.median(r["rps"] for r in rounds), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
        "cpu_us_per_request": round(statistics.median(r["cpu_us_per_request"] for r in rounds), 1),
        "requests": sum(r["requests"] for r in rounds),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "rounds": rounds,
    }


def logins_under_load(stack: LocalEnvironment, user: AppClient, token: str, args: argparse.Namespace) -> dict[str, Any]:
    """POST /auth/login (argon2id) on a few connections while the cart route is loaded as in `compare`."""
    replica = stack.run.replicas[0].url
    login_body = json.dumps({"username": user.username, "password": user.password})
    cart = TARGETS["cart"]
    logins = start_wrk(
        replica + "/auth/login",
        method="POST",
        body=login_body,
        token="",
        duration=args.duration,
        threads=1,
        connections=args.login_connections,
    )
    carts = start_wrk(
        replica + cart["path"],
        method=cart["method"],
        body=cart["body"],
        token=token,
        duration=args.duration,
        threads=args.threads,
        connections=args.connections,
    )
    login_figures = finish_wrk(logins, args.duration)
    cart_figures = finish_wrk(carts, args.duration)
    print(f"  logins ({args.login_connections} conn)  {_line(login_figures)}", flush=True)
    print(f"  cart meanwhile       {_line(cart_figures)}", flush=True)
    return {"login": login_figures, "cart_meanwhile": cart_figures, "login_connections": args.login_connections}


async def _checkouts(base_url: str, users: list[AppClient], duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + duration

    async def loop(user: AppClient) -> None:
        headers = {"Authorization": f"Bearer {user.token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10, trust_env=False) as http:
            while time.monotonic() < deadline:
                await http.put("/cart/items/bench-sku", json={"quantity": 1})
                started = time.perf_counter()
                response = await http.post("/orders", headers={"Idempotency-Key": uuid.uuid4().hex})
                latencies.append(time.perf_counter() - started)
                statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(loop(u) for u in users))
    seconds = time.monotonic() - started
    created = statuses.get("201", 0)
    return {
        "users": len(users),
        "seconds": round(seconds, 2),
        "orders": created,
        "orders_per_s": round(created / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "statuses": statuses,
    }


def checkouts(stack: LocalEnvironment, args: argparse.Namespace) -> dict[str, Any]:
    """Closed loop: each user puts a line and checks the cart out, again and again (Python client)."""
    users = [AppClient(stack.lb).sign_up() for _ in range(args.checkout_users)]
    try:
        figures = asyncio.run(_checkouts(stack.run.replicas[0].url, users, args.duration))
    finally:
        for user in users:
            user.close()
    print(
        f"  checkout ({figures['users']} users)  {figures['orders_per_s']:>8.1f} orders/s  "
        f"p50 {figures['p50_ms']:>6.2f} ms  p99 {figures['p99_ms']:>7.2f} ms  statuses {figures['statuses']}",
        flush=True,
    )
    return figures


def _line(f: dict[str, Any]) -> str:
    return (
        f"{f['rps']:>8.1f} req/s  p50 {f['p50_ms']:>6.2f} ms  p99 {f['p99_ms']:>7.2f} ms  "
        f"non-2xx {f['non_2xx']}  socket errors {f['socket_errors']}"
        + (f"  cpu {f['cpu_us_per_request']:.0f} us/req" if "cpu_us_per_request" in f else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per path and route")
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="whole seconds of unmeasured load first (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--login-connections", type=int, default=4)
    parser.add_argument("--checkout-users", type=int, default=8)
    parser.add_argument("--compare-only", action="store_true", help="skip the login and checkout figures")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    host = machine()
    print(
        f"bench.app: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} alternating rounds; "
        f"{host['cpus']} CPUs shared by wrk, HAProxy, the replica, the floor, Redis and PostgreSQL; "
        f"load average {host['load_average_1m']}",
        flush=True,
    )
    started = time.monotonic()
    try:
        with (
            throwaway(replicas=1, prefix="stateless-bench-app-") as stack,
            tempfile.TemporaryDirectory(prefix="stateless-bench-floor-") as work,
        ):
            user = AppClient(stack.lb).sign_up()
            user.put_item("bench-sku", 1)
            token = user.token or ""
            with floor_server(stack, Path(work)) as floor_urls:
                replica = stack.run.replicas[0]
                urls = {"app": {"direct": replica.url, "lb": stack.lb, "pid": replica.pid}, "floor": floor_urls}
                comparison = compare(urls, token, args)
            login = logins_under_load(stack, user, token, args) if not args.compare_only else None
            checkout = checkouts(stack, args) if not args.compare_only else None
            user.close()
    except BenchError as exc:
        print(f"bench.app: {exc}", file=sys.stderr)
        return 1
    alone = comparison["direct/cart"]
    if login is None or checkout is None:
        for key, entry in comparison.items():
            print(f"{key:<16} app {_line(entry['app'])}\n{'':<16} floor {_line(entry['floor'])}")
        return 0
    login["cart_p99_over_alone"] = round(login["cart_meanwhile"]["p99_ms"] / alone["app"]["p99_ms"], 3)
    login["cart_p99_over_floor"] = round(login["cart_meanwhile"]["p99_ms"] / alone["floor"]["p99_ms"], 3)
    checkout["over_floor_cart_rps"] = round(checkout["orders_per_s"] / alone["floor"]["rps"], 3)
    rows: list[tuple[str, str]] = []
    for key, entry in comparison.items():
        for server in SERVERS:
            rows.append((f"{key} {server}", _line(entry[server])))
        ratio = (
            f"req/s {entry['app_over_floor_rps']:.2f}  p99 {entry['app_over_floor_p99']:.2f}  "
            f"cpu per request {1 / entry['floor_over_app_cpu_per_request']:.2f}"
        )
        rows.append((f"{key} app/floor", ratio))
    rows.append(("logins (argon2id), direct", _line(login["login"])))
    rows.append(("cart while logging in", _line(login["cart_meanwhile"])))
    orders = f"{checkout['orders_per_s']:.1f} orders/s  p99 {checkout['p99_ms']:.2f} ms"
    rows.append(("checkout (PostgreSQL), direct", orders))
    print(render_table(rows, title="bench.app (app / floor)"))
    host["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    document = {
        "benchmark": "app",
        "machine": host,
        "load": {
            "tool": "wrk",
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
        },
        "comparison": comparison,
        "logins_under_load": login,
        "checkout": checkout,
        "wall_s": round(time.monotonic() - started, 1),
    }
    write_results(args.output, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())

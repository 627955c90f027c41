"""`python -m local up [--replicas N] [--port PORT] | status | down | rotate-db-password [--terminate-sessions]`:
the local environment's CLI.

Exit status: 0 done; 1 a part failed to start, is down (status), or could not be stopped; 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from local import env, procs, rotation, runinfo


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=env.DEFAULT_STATE_DIR,
        help="where run.json, logs and service data live (default: .local/ at the repository root)",
    )
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run the reference app on one machine on real PostgreSQL, Redis, moto and HAProxy.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{up,status,down,rotate-db-password}")
    up = commands.add_parser("up", parents=[common], help="start everything and wait until it answers")
    up.add_argument(
        "--replicas",
        type=int,
        default=env.DEFAULT_REPLICAS,
        help=f"number of app replicas behind HAProxy (default {env.DEFAULT_REPLICAS}, at most {env.MAX_REPLICAS})",
    )
    up.add_argument(
        "--port",
        type=int,
        default=None,
        help="HAProxy's port on 127.0.0.1 (default: a free port, printed and written to run.json)",
    )
    commands.add_parser("status", parents=[common], help="show each part and whether it answers")
    commands.add_parser("down", parents=[common], help="stop exactly what `up` started")
    rotate = commands.add_parser(
        "rotate-db-password",
        parents=[common],
        help="rotate the app role's database password as Secrets Manager / RDS managed rotation does",
    )
    rotate.add_argument(
        "--terminate-sessions",
        action="store_true",
        help="also end the app's open database sessions, so every connection logs in again",
    )
    return parser


def _up(args: argparse.Namespace) -> int:
    if not 1 <= args.replicas <= env.MAX_REPLICAS:
        print(f"error: --replicas must be between 1 and {env.MAX_REPLICAS}, got {args.replicas}", file=sys.stderr)
        return 2
    if args.port is not None and not 1024 <= args.port < 65536:
        print(f"error: --port must be between 1024 and 65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        run = env.up(
            replicas=args.replicas,
            port=args.port,
            state_dir=args.state_dir,
            progress=lambda msg: print(f"up: {msg}", file=sys.stderr, flush=True),
        )
    except env.AlreadyUpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except env.UpError as exc:
        print(f"error: up failed, everything it started was stopped again: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("up: interrupted; everything it started was stopped again", file=sys.stderr)
        return 130
    print(f"up: ready at {run.lb_url}")
    for replica in run.replicas:
        print(f"  {replica.id:<12} pid {replica.pid:<8} {replica.url}")
    print(f"  {'worker':<12} pid {run.worker_pid}")
    for name, entry in run.services.items():
        print(f"  {name:<12} pid {entry['pid']:<8} {_without_password(str(entry.get('url', '')))}")
    print(f"recorded in {args.state_dir.absolute() / runinfo.RUN_FILE}; stop with `python -m local down`")
    return 0


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def _status(args: argparse.Namespace) -> int:
    run, parts = env.status(state_dir=args.state_dir)
    if run is None:
        print("down: no run.json (start with `python -m local up`)")
        return 1
    print(f"load balancer {run.lb_url}")
    for part in parts:
        mark = "ok  " if part.ok else "DOWN"
        print(f"  {mark} {part.role:<12} pid {part.pid:<8} {part.detail}")
    return 0 if all(part.ok for part in parts) else 1


def _down(args: argparse.Namespace) -> int:
    lines = env.down(state_dir=args.state_dir)
    for line in lines:
        print(f"down: {line}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    run = runinfo.read(args.state_dir)
    if run is None:
        print("error: the local environment is not up (no run.json)", file=sys.stderr)
        return 1
    try:
        done = rotation.rotate(run, terminate_sessions=args.terminate_sessions)
    except rotation.RotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"rotated the password of database role {done.username}: {done.secret_arn}")
    print(f"  AWSCURRENT is now version {done.new_version} (was {done.previous_version})")
    if args.terminate_sessions:
        print(f"  ended {done.sessions_terminated} open sessions of {done.username}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"up": _up, "status": _status, "down": _down, "rotate-db-password": _rotate}
    try:
        return handlers[args.command](args)
    except (runinfo.RunFileError, procs.ProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Redis for the local environment: redis-server on 127.0.0.1 without snapshots or an append-only file
(sessions and carts live in a disposable external store, as on ElastiCache)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from local import procs
from local.service import READY_TIMEOUT, Service, launch_on_port, log_path_of, require_binary


def start_redis(base_dir: Path, *, port: int | None = None, timeout: float = READY_TIMEOUT) -> Service:
    """Start redis-server on 127.0.0.1 without snapshots or an append-only file."""
    base_dir = Path(base_dir).absolute()
    binary = require_binary("redis-server", "redis-server")
    port = port or procs.free_port()
    work_dir = base_dir / "redis"
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path_of(base_dir, "redis")
    argv = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(work_dir),
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"

    def launch() -> subprocess.Popen[bytes]:
        return launch_on_port(
            "redis", port, argv, log_path=log_path, env={"PATH": "/usr/bin:/bin"},
            ready=lambda: ping(url), what=f"redis on 127.0.0.1:{port}", timeout=timeout,
        )

    service = Service(name="redis", port=port, url=url, base_dir=base_dir, log_path=log_path, _launch=launch)
    return service.start()


def ping(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()

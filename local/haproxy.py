"""HAProxy in front of the app replicas.

Creates the HAProxy configuration (rendered by a pure function) and runs Debian's haproxy in the
foreground as a child process: round-robin over every replica, active health checks on /readyz,
layer-7 retries with redispatch, no stickiness of any kind.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from local import procs
from local.services import READY_TIMEOUT, Service, ServiceError, launch_on_port, require_binary

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"server name {self.name!r} must be letters, digits, '.', '_' or '-'")
        if not 0 < self.port < 65536:
            raise ValueError(f"server {self.name}: port {self.port} is outside 1-65535")


@dataclass(frozen=True)
class HealthCheck:
    path: str = "/readyz"
    interval_ms: int = 500
    fall: int = 2
    rise: int = 1

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or any(c.isspace() for c in self.path):
            raise ValueError(f"health check path {self.path!r} must start with '/' and hold no spaces")
        if self.interval_ms < 50 or self.fall < 1 or self.rise < 1:
            raise ValueError("health check needs interval_ms >= 50, fall >= 1 and rise >= 1")


def render_config(
    servers: Sequence[Server],
    *,
    bind_port: int,
    bind_host: str = "127.0.0.1",
    health: HealthCheck | None = None,
    retries: int = 3,
    timeout_server_s: int = 30,
) -> str:
    """The complete haproxy.cfg for one frontend and the app backend."""
    if not servers:
        raise ValueError("HAProxy needs at least one server")
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise ValueError(f"server names must be unique, got {names}")
    if not 0 < bind_port < 65536:
        raise ValueError(f"bind port {bind_port} is outside 1-65535")
    if retries < 1:
        raise ValueError(f"retries must be at least 1, got {retries}")
    health = health or HealthCheck()
    lines = [
        "global",
        "    log stdout format raw local0",
        "    maxconn 4096",
        # A soft stop waits for open client connections; idle keep-alive clients must not hold `down` up.
        "    hard-stop-after 5s",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        # Like the ALB, hand the client's address to the app as the last X-Forwarded-For entry:
        # HAProxy adds its header after any the client sent ("always appended at the end of the
        # existing header list", configuration manual, `option forwardfor`); app/throttle.py reads it.
        "    option forwardfor",
        "    timeout connect 1s",
        "    timeout client 30s",
        f"    timeout server {timeout_server_s}s",
        "    timeout http-request 10s",
        "    timeout queue 10s",
        # A request can only be replayed if HAProxy still holds all of it, body included.
        "    option http-buffer-request",
        # Connection-level retries alone would still fail the requests in flight on a replica that dies;
        # layer-7 retries replay them, and redispatch sends every retry to another replica.
        f"    retries {retries}",
        "    option redispatch 1",
        "    retry-on all-retryable-errors",
        # When no replica can answer, clients still get the app's JSON error shape and a retry hint.
        *[
            f"    http-error status {code} content-type application/json "
            f"string '{{\"detail\":\"{why}\"}}' hdr Retry-After 2 hdr X-Instance-Id haproxy"
            for code, why in (
                (502, "bad gateway: the replica failed to answer; retry"),
                (503, "no replica is ready; retry shortly"),
                (504, "the replica timed out; retry"),
            )
        ],
        "",
        "frontend web",
        f"    bind {bind_host}:{bind_port}",
        "    default_backend app",
        "",
        "backend app",
        "    balance roundrobin",
        f"    option httpchk GET {health.path}",
        "    http-check expect status 200",
        # A refused or reset connection marks the replica down at once instead of after `fall` checks.
        f"    default-server inter {health.interval_ms}ms fastinter {max(50, health.interval_ms // 2)}ms "
        f"downinter {health.interval_ms}ms fall {health.fall} rise {health.rise} "
        "observe layer4 error-limit 1 on-error mark-down",
    ]
    lines += [f"    server {s.name} {s.host}:{s.port} check" for s in servers]
    return "\n".join(lines) + "\n"


def check_config(config_path: Path) -> None:
    """Ask haproxy itself whether the configuration is valid (`haproxy -c`)."""
    binary = require_binary("haproxy", "haproxy")
    result = subprocess.run(
        [binary, "-c", "-q", "-f", str(config_path)], capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode != 0:
        raise ServiceError(f"haproxy: configuration {config_path} is invalid:\n{result.stdout}{result.stderr}")


def start_haproxy(
    base_dir: Path,
    servers: Sequence[Server],
    *,
    port: int,
    health: HealthCheck | None = None,
    timeout: float = READY_TIMEOUT,
) -> Service:
    """Render the configuration into base_dir, check it, run haproxy in the foreground (-db)."""
    base_dir = Path(base_dir).absolute()
    binary = require_binary("haproxy", "haproxy")
    config_path = base_dir / "haproxy.cfg"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(render_config(servers, bind_port=port, health=health))
    check_config(config_path)
    log_path = base_dir / "logs" / "haproxy.log"
    url = f"http://127.0.0.1:{port}"

    def launch() -> subprocess.Popen[bytes]:
        return launch_on_port(
            "haproxy", port, [binary, "-db", "-f", str(config_path)], log_path=log_path,
            ready=lambda: procs.port_answers(port), what=f"haproxy on 127.0.0.1:{port}", timeout=timeout,
        )

    service = Service(
        name="haproxy",
        port=port,
        url=url,
        base_dir=base_dir,
        log_path=log_path,
        _launch=launch,
        # SIGUSR1 is HAProxy's soft stop: finish the requests in flight, then exit.
        stop_signal=signal.SIGUSR1,
        details={"config": str(config_path)},
    )
    return service.start()

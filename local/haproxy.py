"""HAProxy in front of the app replicas, configured the way the stack's ALB behaves where it matters.

Creates the HAProxy configuration (rendered by a pure function) and runs Debian's haproxy in the
foreground as a child process: round-robin over every replica, no stickiness of any kind, active
health checks on /readyz with the target group's timing, server-side keep-alive connections reused
across clients for the ALB's idle timeout, no replay of a request that reached a replica, and the
load balancer's own error answers in the API's JSON shape.

Where the ALB's behaviour comes from (AWS documentation):
- target group health checks (interval, timeout, healthy/unhealthy thresholds):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
- idle timeout, and "configure the idle timeout of your application to be larger than the idle timeout
  configured for the load balancer ... Otherwise ... the load balancer sends an HTTP 502":
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html
- the load balancer's own 502/503/504 (target closed the connection with a request outstanding, no
  healthy target, connection not established within 10 s):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html
"""

from __future__ import annotations

import ast
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from local import procs
from local.service import READY_TIMEOUT, Service, ServiceError, launch_on_port, require_binary

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
REPO_ROOT = Path(__file__).resolve().parent.parent
# The component that declares the stack's target group, and the project file with the stack defaults.
EDGE_COMPONENT = REPO_ROOT / "infra" / "components" / "edge.py"
PROJECT_FILE = REPO_ROOT / "Pulumi.yaml"
IDLE_TIMEOUT_KEY = "stateless-stack:albIdleTimeoutSeconds"
# The ALB gives up establishing a connection to a target after 10 s and answers 504 (troubleshooting
# page above); it is not configurable.
ALB_CONNECT_TIMEOUT_S = 10

# HAProxy's own answers, in the API's shape {"detail": ...}. HAProxy 2.6 (Debian 12) sends the 400 of a
# request its HTTP/1 parser rejects, and the 408 of a request not received in time, from the parser
# itself with its built-in HTML page, whatever the configuration says (haproxy/haproxy#3032, fixed in
# 3.2); the 400/408 entries here apply where the stream exists (e.g. a rule that denies a request).
# Room for a request head as large as the ALB forwards (64 KiB for the whole head, load-balancer-limits
# page: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html),
# so the replica, not HAProxy, judges it and answers past APP_MAX_HEADER_BYTES with its JSON 400.
# HAProxy keeps a whole head in one buffer, less `tune.maxrewrite` (1024 by default) reserved for
# rewrites (configuration manual, "tune.bufsize": "it is the maximum size of a request ... headers");
# 16 KiB, its default, refused heads over about 15 KB with its HTML page. A head past this buffer
# still gets that page (the parser's answer, see LB_ERRORS); an ALB's own 400 is HTML too.
BUFFER_BYTES = 96 * 1024
HEAD_LIMIT_BYTES = 64 * 1024
# Every request gets an id at the load balancer, sent to the replica as X-Request-Id (which the app
# adopts and logs as request_id) and written in HAProxy's log line: one id joins the two logs. Hex
# fields joined by '-', within the app's accepted form ([A-Za-z0-9._-]{1,128}).
UNIQUE_ID_FORMAT = "%{+X}o%ci-%cp-%Ts-%rt-%pid"
# HAProxy's default HTTP log format (configuration manual, "option httplog") with the request id last.
LOG_FORMAT = (
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
    " request_id=%ID"
)

# HAProxy's log lines about servers going in and out of rotation (what the fault tests and the
# failover benchmark show when a step goes wrong).
STATE_CHANGES = (" is UP", " is DOWN", "no server available")
LB_ERRORS = (
    (400, "bad request: the load balancer could not parse it", None),
    (408, "request timeout: the request was not received in time", None),
    (502, "bad gateway: the replica failed to answer; retry", 2),
    (503, "no replica is ready; retry shortly", 2),
    (504, "the replica timed out; retry", 2),
)


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


@dataclass(frozen=True, kw_only=True)
class HealthCheck:
    """A target group's health check: HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds,
    HealthyThresholdCount (rise), UnhealthyThresholdCount (fall). No defaults: the values are the
    stack's (`from_target_group`), never a second copy of them."""

    path: str = "/readyz"
    interval_s: int
    timeout_s: int
    rise: int
    fall: int

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or any(c.isspace() for c in self.path):
            raise ValueError(f"health check path {self.path!r} must start with '/' and hold no spaces")
        if self.interval_s < 1 or self.timeout_s < 1 or self.fall < 1 or self.rise < 1:
            raise ValueError("health check needs interval_s, timeout_s, fall and rise of at least 1")
        # AWS refuses a target group whose check timeout is not below its interval; so does this.
        if self.timeout_s >= self.interval_s:
            raise ValueError(
                f"health check timeout ({self.timeout_s}s) must be less than its interval ({self.interval_s}s)"
            )

    @classmethod
    def from_target_group(cls, edge_source: Path = EDGE_COMPONENT) -> HealthCheck:
        """The health check the stack's target group declares (infra/components/edge.py)."""
        found = _call_keywords(edge_source, "TargetGroupHealthCheckArgs")

        def number(key: str) -> int:
            value = found.get(key)
            if not isinstance(value, int):
                raise ValueError(f"{edge_source}: the target group health check sets no literal {key}")
            return value

        return cls(
            path=str(found.get("path", "/")),
            interval_s=number("interval"),
            timeout_s=number("timeout"),
            rise=number("healthy_threshold"),
            fall=number("unhealthy_threshold"),
        )


def _call_keywords(source: Path, callee: str) -> dict[str, object]:
    """The literal keyword arguments of the one call to `callee` in a module; names bound to literals at
    module level are resolved (e.g. `path=HEALTH_CHECK_PATH`)."""
    tree = ast.parse(source.read_text(), filename=str(source))
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "attr", None) == callee or getattr(node.func, "id", None) == callee)
    ]
    if len(calls) != 1:
        raise ValueError(f"{source}: expected one {callee}(...) call, found {len(calls)}")
    found: dict[str, object] = {}
    for keyword in calls[0].keywords:
        value = keyword.value
        if isinstance(value, ast.Constant):
            found[str(keyword.arg)] = value.value
        elif isinstance(value, ast.Name) and value.id in constants:
            found[str(keyword.arg)] = constants[value.id]
    return found


def stack_idle_timeout(project_file: Path = PROJECT_FILE) -> int:
    """The ALB idle timeout every stack gets unless it sets its own (Pulumi.yaml's declared default)."""
    import yaml

    config = (yaml.safe_load(project_file.read_text()) or {}).get("config", {})
    try:
        return int(config[IDLE_TIMEOUT_KEY]["default"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{project_file}: {IDLE_TIMEOUT_KEY} has no integer default") from None


def app_keepalive_for(idle_timeout_s: int) -> int:
    """The app's keep-alive for a load balancer idle timeout: longer, so the LB always closes first."""
    return idle_timeout_s + 5


def _error_answers() -> list[str]:
    return [
        f"    http-error status {code} content-type application/json "
        f"string '{{\"detail\":\"{why}\"}}'"
        + (f" hdr Retry-After {retry}" if retry else "")
        + " hdr X-Instance-Id haproxy"
        for code, why, retry in LB_ERRORS
    ]


def render_config(
    servers: Sequence[Server],
    *,
    bind_port: int,
    bind_host: str = "127.0.0.1",
    health: HealthCheck | None = None,
    idle_timeout_s: int = 60,
    connect_retries: int = 2,
) -> str:
    """The complete haproxy.cfg for one frontend and the app backend."""
    if not servers:
        raise ValueError("HAProxy needs at least one server")
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        raise ValueError(f"server names must be unique, got {names}")
    if not 0 < bind_port < 65536:
        raise ValueError(f"bind port {bind_port} is outside 1-65535")
    if connect_retries < 0:
        raise ValueError(f"connect_retries must not be negative, got {connect_retries}")
    if not 1 <= idle_timeout_s <= 4000:
        raise ValueError(f"idle timeout must be 1-4000 s (the ALB's range), got {idle_timeout_s}")
    health = health or HealthCheck.from_target_group()
    lines = [
        "global",
        "    log stdout format raw local0",
        "    maxconn 4096",
        f"    tune.bufsize {BUFFER_BYTES}",
        # A soft stop waits for open client connections; idle keep-alive clients must not hold `down` up.
        "    hard-stop-after 5s",
        "",
        "defaults",
        "    mode http",
        "    log global",
        # `option httplog`'s format with the request id (a log-format replaces the option).
        f'    log-format "{LOG_FORMAT}"',
        "    option dontlognull",
        f'    unique-id-format "{UNIQUE_ID_FORMAT}"',
        # Like the ALB, hand the client's address to the app as the last X-Forwarded-For entry:
        # HAProxy adds its header after any the client sent ("always appended at the end of the
        # existing header list", configuration manual, `option forwardfor`); app/throttle.py reads it.
        "    option forwardfor",
        f"    timeout connect {ALB_CONNECT_TIMEOUT_S}s",
        # The ALB's idle timeout bounds every quiet period: a client or a target sending nothing for
        # that long is cut off (504 when the target is the silent one).
        f"    timeout client {idle_timeout_s}s",
        f"    timeout server {idle_timeout_s}s",
        f"    timeout http-keep-alive {idle_timeout_s}s",
        "    timeout http-request 10s",
        "    timeout queue 10s",
        # Without it HAProxy uses the interval as the whole check's budget (configuration.txt, "timeout
        # check"); the target group fails a check that has no answer after HealthCheckTimeoutSeconds.
        f"    timeout check {health.timeout_s}s",
        # A request that reached a replica is never sent again (configuration.txt, "retry-on": every
        # keyword but "none" and "conn-failure" replays a request the server may have acted on). Only a
        # connection that could not be established, so that nothing was sent, is tried again, on
        # another replica.
        "    retry-on conn-failure",
        f"    retries {connect_retries}",
        "    option redispatch 1",
        *_error_answers(),
        "",
        "frontend web",
        f"    bind {bind_host}:{bind_port}",
        # Replaces any id the client sent: the id in HAProxy's log is the one the app logs.
        "    http-request set-header X-Request-Id %[unique-id]",
        # When the load balancer received the request, so a replica thawing from a freeze can tell a
        # request its client gave up on (app/edge.py); the ALB's X-Amzn-Trace-Id carries the same.
        "    http-request set-header X-Request-Start t=%[date(0,ms)]",
        # The errors of a request that never reached a backend (400, 408) are the frontend's own.
        *_error_answers(),
        "    default_backend app",
        "",
        "backend app",
        "    balance roundrobin",
        # Connections to replicas stay open after a response and any request, from any client, may use
        # them, as the ALB multiplexes requests over its target connections ("http-reuse always"). An
        # idle one is kept for about the idle timeout (half of the idle ones are closed every
        # pool-purge-delay), so a replica whose keep-alive is shorter closes connections HAProxy is
        # about to use: the 502s an ALB shows in that case.
        "    http-reuse always",
        f"    option httpchk GET {health.path}",
        "    http-check expect status 200",
        # Only the active check decides a replica's health, as on a target group: no passive
        # observation marks a replica down between checks.
        # HAProxy schedules a server's next check `inter` after the last one ended, a target group
        # every HealthCheckIntervalSeconds from the last one's start: a check that timed out took the
        # whole timeout, so while a replica is failing (HAProxy's "transition", `fastinter`) the next
        # check starts interval - timeout later, as the target group's would. Without it a frozen
        # replica stayed in rotation 2 s longer per failed check here than behind the ALB.
        f"    default-server inter {health.interval_s}s fastinter {health.interval_s - health.timeout_s}s "
        f"fall {health.fall} rise {health.rise} pool-purge-delay {idle_timeout_s}s",
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
    idle_timeout_s: int = 60,
    timeout: float = READY_TIMEOUT,
) -> Service:
    """Render the configuration into base_dir, check it, run haproxy in the foreground (-db)."""
    base_dir = Path(base_dir).absolute()
    binary = require_binary("haproxy", "haproxy")
    config_path = base_dir / "haproxy.cfg"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(render_config(servers, bind_port=port, health=health, idle_timeout_s=idle_timeout_s))
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

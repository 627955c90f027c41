"""The rendered HAProxy configuration: balancing, health checks from the target group, no replay of a
request that reached a replica, server-side keep-alive, JSON error answers, and no stickiness."""

import re
import shutil
import subprocess

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from local import procs
from local.haproxy import HealthCheck, Server, render_config, stack_idle_timeout, start_haproxy

SERVERS = [Server("replica-1", 41001), Server("replica-2", 41002), Server("replica-3", 41003)]


def directives(config: str, section: str) -> list[str]:
    """The stripped lines of one section ("defaults", "backend app", ...)."""
    lines, inside = [], False
    for line in config.splitlines():
        if line and not line.startswith(" "):
            inside = line.strip() == section
            continue
        if inside and line.strip():
            lines.append(line.strip())
    return lines


def test_every_replica_is_a_health_checked_server():
    backend = directives(render_config(SERVERS, bind_port=8080), "backend app")
    servers = [line for line in backend if line.startswith("server ")]
    assert servers == [
        "server replica-1 127.0.0.1:41001 check",
        "server replica-2 127.0.0.1:41002 check",
        "server replica-3 127.0.0.1:41003 check",
    ]
    assert "option httpchk GET /readyz" in backend
    assert "http-check expect status 200" in backend


def test_round_robin_without_any_stickiness():
    config = render_config(SERVERS, bind_port=8080)
    assert "balance roundrobin" in directives(config, "backend app")
    for sticky in ("cookie", "stick-table", "stick on", "stick match", "balance source", "hash-type", "persist"):
        assert sticky not in config


def test_only_a_connection_that_was_never_established_is_tried_again():
    defaults = directives(render_config(SERVERS, bind_port=8080), "defaults")
    retry_on = [line for line in defaults if line.startswith("retry-on")]
    # Any other keyword replays a request that a replica may already have acted on.
    assert retry_on == ["retry-on conn-failure"]
    assert "option redispatch 1" in defaults
    assert not any("http-buffer-request" in line for line in defaults)


def test_connections_to_replicas_are_kept_and_shared_for_the_idle_timeout():
    config = render_config(SERVERS, bind_port=8080, idle_timeout_s=45)
    backend = directives(config, "backend app")
    defaults = directives(config, "defaults")
    assert "http-reuse always" in backend
    assert not any(line.startswith(("option http-server-close", "option httpclose")) for line in defaults + backend)
    default_server = next(line for line in backend if line.startswith("default-server"))
    assert "pool-purge-delay 45s" in default_server
    for timeout in ("client", "server", "http-keep-alive"):
        assert f"timeout {timeout} 45s" in defaults


def test_frontend_binds_loopback_only():
    frontend = directives(render_config(SERVERS, bind_port=18080), "frontend web")
    assert frontend[0] == "bind 127.0.0.1:18080"


def test_health_check_timing_is_the_target_groups():
    health = HealthCheck.from_target_group()
    config = render_config(SERVERS, bind_port=8080, health=health)
    backend = directives(config, "backend app")
    default_server = next(line for line in backend if line.startswith("default-server"))
    assert f" inter {health.interval_s}s" in default_server
    # A failing check took its timeout: the next starts an interval after it started, as on the ALB.
    assert f" fastinter {health.interval_s - health.timeout_s}s" in default_server
    assert f"fall {health.fall}" in default_server
    assert f"rise {health.rise}" in default_server
    # Only the active check decides, as on a target group.
    assert "observe" not in default_server and "on-error" not in default_server
    assert f"timeout check {health.timeout_s}s" in directives(config, "defaults")


def test_the_target_group_settings_are_what_the_edge_component_registers():
    from infra.components.edge import Edge, EdgeArgs
    from tests.unit.infra.conftest import plain, run_component

    run = run_component(
        lambda: Edge("t-edge", EdgeArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], security_group_ids=["sg"],
                                        region="us-east-1"))
    )
    target_group = run.one("aws:lb/targetGroup:TargetGroup")
    registered = plain(target_group.inputs)["healthCheck"]
    health = HealthCheck.from_target_group()
    assert (health.path, health.interval_s, health.timeout_s, health.rise, health.fall) == (
        registered["path"],
        registered["interval"],
        registered["timeout"],
        registered["healthyThreshold"],
        registered["unhealthyThreshold"],
    )
    assert registered["matcher"] == "200"
    from infra.config import EdgeConfig

    edge = EdgeArgs(vpc_id="v", subnet_ids=["a", "b"], security_group_ids=["s"], region="us-east-1")
    assert edge.config == EdgeConfig()
    assert stack_idle_timeout() == EdgeConfig().idle_timeout_seconds


def test_a_check_timeout_not_below_the_interval_is_refused():
    with pytest.raises(ValueError, match="less than its interval"):
        HealthCheck(interval_s=5, timeout_s=5, rise=2, fall=2)


@pytest.mark.parametrize(
    ("servers", "kwargs", "message"),
    [
        ([], {"bind_port": 8080}, "at least one server"),
        ([Server("a", 1), Server("a", 2)], {"bind_port": 8080}, "unique"),
        (SERVERS, {"bind_port": 0}, "bind port"),
        (SERVERS, {"bind_port": 8080, "connect_retries": -1}, "connect_retries"),
        (SERVERS, {"bind_port": 8080, "idle_timeout_s": 0}, "idle timeout"),
    ],
)
def test_bad_arguments_are_refused(servers, kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_config(servers, **kwargs)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Server("bad name", 80), "server name"),
        (lambda: Server("ok", 70000), "port"),
        (lambda: HealthCheck(path="readyz", interval_s=10, timeout_s=5, rise=2, fall=2), "must start with"),
        (lambda: HealthCheck(interval_s=0, timeout_s=5, rise=2, fall=2), "interval_s"),
    ],
)
def test_bad_server_or_check_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@given(st.lists(st.integers(min_value=1024, max_value=65535), min_size=1, max_size=12, unique=True))
def test_any_set_of_replicas_is_listed_exactly_once(ports):
    servers = [Server(f"replica-{i}", port) for i, port in enumerate(ports, 1)]
    config = render_config(servers, bind_port=8080)
    listed = re.findall(r"^    server (\S+) 127\.0\.0\.1:(\d+) check$", config, flags=re.M)
    assert listed == [(s.name, str(s.port)) for s in servers]


def test_haproxy_accepts_the_rendered_configuration(tmp_path):
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    path = tmp_path / "haproxy.cfg"
    path.write_text(render_config(SERVERS, bind_port=18080))
    result = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_with_no_replica_ready_clients_get_a_json_503_with_a_retry_hint(tmp_path):
    # A real HAProxy in front of a replica that is not there: its own error page must keep the API's shape.
    lb = start_haproxy(tmp_path, [Server("replica-1", procs.free_port())], port=procs.free_port(), timeout=20)
    try:
        response = httpx.get(f"{lb.url}/cart", timeout=10)
    finally:
        lb.stop()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "2"
    assert response.headers["x-instance-id"] == "haproxy"
    assert response.json() == {"detail": "no replica is ready; retry shortly"}



def test_the_load_balancer_stamps_each_request_and_gives_it_an_id():
    config = render_config(SERVERS, bind_port=8080)
    frontend = directives(config, "frontend web")
    assert "http-request set-header X-Request-Id %[unique-id]" in frontend
    assert "http-request set-header X-Request-Start t=%[date(0,ms)]" in frontend
    defaults = directives(config, "defaults")
    assert any(line.startswith("unique-id-format") for line in defaults)
    assert any(line.startswith("log-format") and "request_id=%ID" in line for line in defaults)


def test_a_request_head_of_64_kib_fits_the_load_balancers_buffer():
    from local.haproxy import BUFFER_BYTES, HEAD_LIMIT_BYTES

    glob = directives(render_config(SERVERS, bind_port=8080), "global")
    assert f"tune.bufsize {BUFFER_BYTES}" in glob
    # HAProxy keeps tune.maxrewrite (1024) of the buffer for rewrites, and the head must fit the rest.
    assert BUFFER_BYTES - 1024 > HEAD_LIMIT_BYTES + 4096

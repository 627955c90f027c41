"""The rendered HAProxy configuration: balancing, health checks, retries, and no stickiness."""

import re
import shutil
import subprocess

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from local import procs
from local.haproxy import HealthCheck, Server, render_config, start_haproxy

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


def test_layer7_retries_with_redispatch_and_buffered_bodies():
    defaults = directives(render_config(SERVERS, bind_port=8080, retries=3), "defaults")
    assert "retries 3" in defaults
    assert "retry-on all-retryable-errors" in defaults
    assert "option redispatch 1" in defaults
    # Without the buffered body a POST or PUT could not be replayed on another replica.
    assert "option http-buffer-request" in defaults


def test_frontend_binds_loopback_only():
    frontend = directives(render_config(SERVERS, bind_port=18080), "frontend web")
    assert frontend[0] == "bind 127.0.0.1:18080"


def test_fast_health_check_timing_is_rendered():
    backend = directives(
        render_config(SERVERS, bind_port=8080, health=HealthCheck(interval_ms=300, fall=3, rise=2)), "backend app"
    )
    default_server = next(line for line in backend if line.startswith("default-server"))
    assert "inter 300ms" in default_server
    assert "fall 3" in default_server
    assert "rise 2" in default_server
    assert "on-error mark-down" in default_server


@pytest.mark.parametrize(
    ("servers", "kwargs", "message"),
    [
        ([], {"bind_port": 8080}, "at least one server"),
        ([Server("a", 1), Server("a", 2)], {"bind_port": 8080}, "unique"),
        (SERVERS, {"bind_port": 0}, "bind port"),
        (SERVERS, {"bind_port": 8080, "retries": 0}, "retries"),
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
        (lambda: HealthCheck(path="readyz"), "must start with"),
        (lambda: HealthCheck(interval_ms=1), "interval_ms"),
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

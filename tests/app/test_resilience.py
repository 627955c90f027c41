"""Dependency outages (503, then success on retry), readiness, metrics, X-Instance-Id, shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from app.keys import KeyRing
from app.security import TokenService
from local.procs import free_port
from tests.app.support import AppServer, new_user, new_username, wait_until
from tests.app.tcpproxy import TcpProxy

pytestmark = pytest.mark.services


@pytest.fixture
def redis_proxy(redis_service: Any) -> Iterator[TcpProxy]:
    proxy = TcpProxy(redis_service.port)
    yield proxy
    proxy.close()


@pytest.fixture
def pg_proxy(postgres: Any) -> Iterator[TcpProxy]:
    proxy = TcpProxy(postgres.port)
    yield proxy
    proxy.close()


def _via(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    return url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}", 1)


def test_readyz_reports_the_replicas_own_state(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_redis_outage_is_a_503_json_on_the_routes_that_need_it_and_readyz_stays_200(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], redis_proxy: TcpProxy, redis_service: Any
) -> None:
    settings = make_settings(module_db, module_aws, redis_url=_via(redis_service.url, redis_proxy))
    with AppServer(settings) as server:
        _, auth = new_user(server.client)
        placed = _place_order(server, auth)
        assert server.client.put("/cart/items/R1", json={"quantity": 1}, headers=auth).status_code == 200
        redis_proxy.cut()
        # Readiness never probes a dependency: an outage must not take every replica out of service.
        assert server.client.get("/readyz").status_code == 200
        # Reading an order needs PostgreSQL only (the token is verified locally).
        order = server.client.get(f"/orders/{placed}", headers=auth)
        assert order.status_code == 200, order.text
        for method, path in [("GET", "/cart"), ("PUT", "/cart/items/R2"), ("POST", "/orders")]:
            response = server.client.request(method, path, headers=auth, json={"quantity": 1})
            assert response.status_code == 503, response.text
            assert response.json() == {"detail": "session store (Redis) unavailable, retry later"}
            assert response.headers["retry-after"] == "1"
            assert response.headers["x-instance-id"] == settings.instance_id
        assert server.client.get("/healthz").status_code == 200
        redis_proxy.restore()
        retried = wait_until(lambda: server.client.get("/cart", headers=auth).status_code == 200, timeout=10)
        assert retried
        assert server.client.get("/cart", headers=auth).json() == {"items": [{"sku": "R1", "quantity": 1}]}
        assert server.client.get("/readyz").status_code == 200


def test_postgres_outage_is_a_503_json_and_a_retry_succeeds_once_it_is_back(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], pg_proxy: TcpProxy
) -> None:
    settings = make_settings(_via(module_db, pg_proxy), module_aws)
    with AppServer(settings) as server:
        _, auth = new_user(server.client)
        server.client.put("/cart/items/P1", json={"quantity": 2}, headers=auth)
        pg_proxy.cut()
        username = new_username()
        register = server.client.post("/auth/register", json={"username": username, "password": "long enough pw"})
        assert register.status_code == 503
        assert register.json() == {"detail": "database (PostgreSQL) unavailable, retry later"}
        checkout = server.client.post("/orders", headers={**auth, "Idempotency-Key": "during-outage"})
        assert checkout.status_code == 503
        assert server.client.get("/readyz").status_code == 200
        # Nothing was lost: the cart is intact (it lives in Redis).
        assert server.client.get("/cart", headers=auth).json()["items"] == [{"sku": "P1", "quantity": 2}]
        pg_proxy.restore()

        def retry_checkout() -> Any:
            response = server.client.post("/orders", headers={**auth, "Idempotency-Key": "during-outage"})
            return response if response.status_code == 201 else None

        created = wait_until(retry_checkout, timeout=20, interval=0.5)
        assert created, "checkout did not succeed after PostgreSQL came back"
        assert created.json()["items"] == [{"sku": "P1", "quantity": 2}]
        again = server.client.post("/auth/register", json={"username": username, "password": "long enough pw"})
        assert again.status_code == 201


def _place_order(server: AppServer, auth: dict[str, str]) -> str:
    assert server.client.put("/cart/items/PLACED", json={"quantity": 1}, headers=auth).status_code == 200
    response = server.client.post("/orders", headers=auth)
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


def test_cart_requests_right_after_a_redis_restart_succeed_on_a_fresh_connection(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], redis_proxy: TcpProxy, redis_service: Any
) -> None:
    # A restart leaves the cart client's pooled connections dead; the first request on one must be
    # retried on a new connection, not answered 503 by a breaker the dead connection opened.
    settings = make_settings(module_db, module_aws, redis_url=_via(redis_service.url, redis_proxy))
    with AppServer(settings) as server:
        _, auth = new_user(server.client)
        assert server.client.put("/cart/items/A1", json={"quantity": 1}, headers=auth).status_code == 200
        redis_proxy.cut()
        redis_proxy.restore()
        put = server.client.put("/cart/items/A2", json={"quantity": 2}, headers=auth)
        assert put.status_code == 200, put.text
        assert put.json() == {"items": [{"sku": "A1", "quantity": 1}, {"sku": "A2", "quantity": 2}]}
        redis_proxy.cut()
        redis_proxy.restore()
        assert server.client.get("/cart", headers=auth).status_code == 200


def _concurrently(calls: list[Callable[[], httpx.Response]]) -> list[int]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result().status_code for future in [pool.submit(call) for call in calls]]


def test_a_stalled_redis_answers_503_and_leaves_postgresql_routes_alone(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], redis_proxy: TcpProxy, redis_service: Any
) -> None:
    # A paused Redis accepts connections and never answers: without bounded waits every cart request
    # would hold an endpoint thread until the client gave up, and order reads would queue behind them.
    settings = make_settings(module_db, module_aws, redis_url=_via(redis_service.url, redis_proxy))
    with AppServer(settings) as server:
        _, auth = new_user(server.client)
        placed = _place_order(server, auth)
        redis_proxy.stall()
        try:
            with httpx.Client(base_url=server.url, timeout=8) as http:
                cart = [lambda: http.get("/cart", headers=auth) for _ in range(12)]
                reads = [lambda: http.get(f"/orders/{placed}", headers=auth) for _ in range(12)]
                statuses = _concurrently([call for pair in zip(cart, reads, strict=True) for call in pair])
        finally:
            redis_proxy.restore()
        assert statuses[0::2] == [503] * 12, statuses
        assert statuses[1::2] == [200] * 12, statuses
        assert wait_until(lambda: server.client.get("/cart", headers=auth).status_code == 200, timeout=10)


def test_a_stalled_postgresql_answers_503_and_leaves_the_cart_alone(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], pg_proxy: TcpProxy
) -> None:
    settings = make_settings(_via(module_db, pg_proxy), module_aws)
    with AppServer(settings) as server:
        _, auth = new_user(server.client)
        placed = _place_order(server, auth)
        pg_proxy.stall()
        try:
            with httpx.Client(base_url=server.url, timeout=15) as http:
                reads = [lambda: http.get(f"/orders/{placed}", headers=auth) for _ in range(6)]
                cart = [lambda: http.put("/cart/items/S1", json={"quantity": 2}, headers=auth) for _ in range(6)]
                statuses = _concurrently([call for pair in zip(reads, cart, strict=True) for call in pair])
        finally:
            pg_proxy.restore()
        assert statuses[0::2] == [503] * 6, statuses
        assert statuses[1::2] == [200] * 6, statuses
        assert wait_until(lambda: server.client.get(f"/orders/{placed}", headers=auth).status_code == 200, timeout=15)


def test_probes_answer_head_requests_for_load_balancers(client: Any) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200


def test_readyz_fails_while_draining_and_healthz_does_not(server: AppServer) -> None:
    server.state.draining = True
    try:
        response = server.client.get("/readyz")
        assert response.status_code == 503 and response.json()["status"] == "draining"
        assert server.client.get("/healthz").status_code == 200
    finally:
        server.state.draining = False


def test_every_response_carries_the_instance_id(server: AppServer) -> None:
    client = server.client
    _, auth = new_user(client)

    def boom() -> None:
        raise RuntimeError("unexpected")

    server.app.api.add_api_route("/__boom", boom)
    responses = {
        "200": client.get("/healthz"),
        "201": client.post("/auth/register", json={"username": new_username(), "password": "long enough pw"}),
        "401": client.get("/cart"),
        "404 route": client.get("/no/such/route"),
        "404 order": client.get("/orders/none", headers=auth),
        "405": client.delete("/healthz"),
        "409": client.post("/orders", headers=auth),
        "413": client.put("/cart/items/A", content=b"x" * (server.settings.max_body_bytes + 10), headers=auth),
        "422": client.put("/cart/items/A", json={"quantity": 0}, headers=auth),
        "500": client.get("/__boom"),
    }
    for name, response in responses.items():
        assert response.headers.get("x-instance-id") == server.settings.instance_id, name
        assert response.headers["content-type"].startswith("application/json"), name
        assert response.headers.get("x-request-id"), name
        if response.status_code >= 400:
            assert "detail" in response.json(), name
    assert responses["500"].status_code == 500
    assert responses["500"].json() == {"detail": "internal error"}


def test_request_id_is_propagated_when_given(client: Any) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-Id": "bad id!"}).headers["x-request-id"] != "bad id!"


def test_metrics_count_requests_by_route_and_status(client: Any) -> None:
    client.get("/healthz")
    client.get("/no/such/thing")
    client.get("/cart")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'http_requests_total{method="GET",route="<unmatched>",status="404"}' in text
    assert 'http_requests_total{method="GET",route="/cart",status="401"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.1",method="GET",route="/healthz"}' in text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_every_request_gets_exactly_one_access_line(server: AppServer) -> None:
    import io

    client = server.client
    access_log = server.app.access_log
    captured = io.StringIO()
    stream, access_log.stream = access_log.stream, captured

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in captured.getvalue().splitlines()]

    try:
        answers = [
            client.get("/healthz"),
            client.get("/no/such/thing"),
            client.get("/cart"),
            client.put("/cart/items/S1", content=b"x" * 70_000, headers={"Content-Type": "application/json"}),
        ]
        # The line is written once the answer is sent: wait for the last one, then a moment for any extra.
        assert wait_until(lambda: len(lines()) >= len(answers))
        time.sleep(0.2)
    finally:
        access_log.stream = stream
    entries = lines()
    assert [(e["request_id"], e["route"], e["status"]) for e in entries] == [
        (answers[0].headers["x-request-id"], "/healthz", 200),
        (answers[1].headers["x-request-id"], "<unmatched>", 404),
        (answers[2].headers["x-request-id"], "/cart", 401),
        (answers[3].headers["x-request-id"], "<unmatched>", 413),
    ]
    for entry in entries:
        # The shape of every other log line, and the fields of an access line.
        assert entry["logger"] == "app.access" and entry["level"] == "info" and entry["msg"] == "request"
        assert entry["instance"] == server.settings.instance_id
        assert {"ts", "method", "path", "duration_ms"} <= set(entry)
    assert entries[0]["path"] == "/healthz" and entries[3]["method"] == "PUT"


COMMANDS = {
    # The image's command, and the entry point the local environment uses.
    "uvicorn-factory": ["-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", "{port}"],
    "python-m-app": ["-m", "app", "--host", "127.0.0.1", "--port", "{port}"],
}


def _in_flight_put(port: int, token: str, proc: subprocess.Popen[bytes]) -> bytes:
    """Starts a request, sends SIGTERM half-way through its body, then finishes it."""
    body = b'{"quantity": 3}'
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"PUT /cart/items/INFLIGHT HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:5]
        )
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[5:])
        reply = b""
        while not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply


def test_server_processes_start_from_the_environment_and_finish_in_flight_requests_on_sigterm(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(module_db, module_aws)
    env = {key: value for key, value in os.environ.items() if not key.startswith("APP_")}
    env.update(
        APP_MODE="local",
        APP_DATABASE_URL=module_db,
        APP_REDIS_URL=settings.redis_url,
        APP_S3_BUCKET=settings.s3_bucket,
        APP_SQS_QUEUE_URL=settings.sqs_queue_url,
        APP_JWT_PRIVATE_KEY=settings.jwt_private_key,
        AWS_ENDPOINT_URL=settings.aws_endpoint_url,
        AWS_REGION=settings.aws_region,
    )
    # Both start at once, to share the start-up time.
    procs: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    for name, command in COMMANDS.items():
        port = free_port()
        argv = [sys.executable, *[part.format(port=port) for part in command]]
        procs[name] = (
            port,
            subprocess.Popen(
                argv, env={**env, "APP_INSTANCE_ID": name}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            ),
        )
    tokens = TokenService(KeyRing.build(settings.jwt_private_key), settings.jwt_issuer, settings.jwt_audience, 60)
    # A token's user must exist (tokens of deleted users are refused).
    with psycopg.connect(module_db, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO users (username, password_hash) VALUES (%s, 'unused') RETURNING id::text", (new_username(),)
        ).fetchone()
    assert row is not None
    outputs: dict[str, bytes] = {}
    try:
        for name, (port, proc) in procs.items():

            def ready(port: int = port, proc: subprocess.Popen[bytes] = proc) -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return proc.poll() is not None

            assert wait_until(ready, timeout=30) and proc.poll() is None, name
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").headers["x-instance-id"] == name
            reply = _in_flight_put(port, tokens.issue(row[0], "inflight"), proc)
            assert reply.startswith(b"HTTP/1.1 200"), (name, reply)
            assert b'"quantity":3' in reply, name
    finally:
        for name, (_, proc) in procs.items():
            proc.send_signal(signal.SIGTERM)
            outputs[name] = proc.communicate(timeout=30)[0]
    for name, (_, proc) in procs.items():
        # uvicorn re-raises the signal once shutdown is complete, so the exit reads "terminated by SIGTERM".
        assert proc.returncode in (0, -signal.SIGTERM), outputs[name].decode()
        entries = [json.loads(line) for line in outputs[name].decode().splitlines() if line.startswith("{")]
        messages = [entry["msg"] for entry in entries]
        assert "SIGTERM received: draining" in messages, name
        assert messages.index("stopped") < messages.index("Application shutdown complete."), name
        assert any(entry.get("route") == "/readyz" and entry.get("request_id") for entry in entries), name

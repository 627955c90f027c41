"""The cart: Redis-only session state, strict input validation, body-size limit."""

from __future__ import annotations

import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from app.cart import MAX_LINES, CartFull, CartStore
from tests.app.support import AppServer, new_user

pytestmark = pytest.mark.services


@pytest.fixture
def auth(client: Any) -> dict[str, str]:
    return new_user(client)[1]


def test_a_new_cart_is_empty(client: Any, auth: dict[str, str]) -> None:
    response = client.get("/cart", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"items": []}


def test_put_update_and_delete_items(client: Any, auth: dict[str, str]) -> None:
    assert client.put("/cart/items/B-2", json={"quantity": 1}, headers=auth).json() == {
        "items": [{"sku": "B-2", "quantity": 1}]
    }
    client.put("/cart/items/A_1", json={"quantity": 5}, headers=auth)
    updated = client.put("/cart/items/B-2", json={"quantity": 1000}, headers=auth)
    assert updated.status_code == 200
    assert updated.json() == {"items": [{"sku": "A_1", "quantity": 5}, {"sku": "B-2", "quantity": 1000}]}
    deleted = client.delete("/cart/items/A_1", headers=auth)
    assert deleted.status_code == 200
    assert deleted.json() == {"items": [{"sku": "B-2", "quantity": 1000}]}
    # Deleting what is not there is not an error: the cart is simply returned.
    assert client.delete("/cart/items/nothing", headers=auth).json() == {"items": [{"sku": "B-2", "quantity": 1000}]}
    assert client.get("/cart", headers=auth).json() == {"items": [{"sku": "B-2", "quantity": 1000}]}


def test_carts_are_per_user(client: Any) -> None:
    _, alice = new_user(client)
    _, bob = new_user(client)
    client.put("/cart/items/ONLY-ALICE", json={"quantity": 2}, headers=alice)
    assert client.get("/cart", headers=bob).json() == {"items": []}


def test_the_cart_lives_in_redis_with_a_ttl_refreshed_on_write(client: Any, server: AppServer) -> None:
    user, auth = new_user(client)
    client.put("/cart/items/TTL-1", json={"quantity": 1}, headers=auth)
    store = redis.Redis.from_url(server.state.settings.redis_url)
    key = f"cart:{user['id']}"
    assert store.hget(key, "TTL-1") == b"1"
    store.expire(key, 10)
    client.put("/cart/items/TTL-2", json={"quantity": 1}, headers=auth)
    assert store.ttl(key) > server.settings.cart_ttl_seconds - 60
    store.close()


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": 1001},
        {"quantity": 10**30},
        {"quantity": "2"},
        {"quantity": 2.5},
        {"quantity": 2.0},
        {"quantity": True},
        {"quantity": None},
        {},
        {"quantity": 1, "price": 3},
        [1],
        "1",
    ],
)
def test_bad_quantities_are_422(client: Any, auth: dict[str, str], body: Any) -> None:
    response = client.put("/cart/items/SKU-1", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert client.get("/cart", headers=auth).json() == {"items": []}


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"quantity": 1', b"\xff\xfe\x00", b"null", b'{"quantity": NaN}', b'{"quantity": 1e400}']
)
def test_malformed_json_is_422(client: Any, auth: dict[str, str], raw: bytes) -> None:
    response = client.put("/cart/items/SKU-1", content=raw, headers={**auth, "content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], (str, list))


@pytest.mark.parametrize("sku", ["_hidden", "-lead", "a b", "x" * 65, "semi;colon", "ünï", "%00"])
def test_invalid_sku_is_422(client: Any, auth: dict[str, str], sku: str) -> None:
    for method in ("PUT", "DELETE"):
        response = client.request(method, f"/cart/items/{sku}", json={"quantity": 1}, headers=auth)
        assert response.status_code == 422, (method, sku, response.text)


def test_sku_of_64_characters_is_accepted(client: Any, auth: dict[str, str]) -> None:
    sku = "S" + "k" * 63
    assert client.put(f"/cart/items/{sku}", json={"quantity": 1}, headers=auth).status_code == 200


def test_body_over_the_limit_is_413_by_content_length(client: Any, auth: dict[str, str], server: AppServer) -> None:
    padding = "x" * (server.settings.max_body_bytes + 1)
    response = client.put("/cart/items/SKU-1", json={"quantity": 1, "pad": padding}, headers=auth)
    assert response.status_code == 413
    assert "detail" in response.json()
    assert response.headers["x-instance-id"] == server.settings.instance_id


def test_body_over_the_limit_is_413_when_streamed_without_length(
    client: Any, auth: dict[str, str], server: AppServer
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"quantity": 1, "pad": "'
        for _ in range(server.settings.max_body_bytes // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    response = client.put("/cart/items/SKU-1", content=chunks(), headers={**auth, "content-type": "application/json"})
    assert response.status_code == 413
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert client.get("/cart", headers=auth).json() == {"items": []}


def test_small_streamed_body_is_accepted(client: Any, auth: dict[str, str]) -> None:
    response = client.put(
        "/cart/items/SKU-1",
        content=iter([b'{"quan', b'tity": 4}']),
        headers={**auth, "content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"items": [{"sku": "SKU-1", "quantity": 4}]}


def test_cart_is_limited_in_lines(client: Any, auth: dict[str, str]) -> None:
    for i in range(100):
        assert client.put(f"/cart/items/L{i}", json={"quantity": 1}, headers=auth).status_code == 200
    response = client.put("/cart/items/ONE-TOO-MANY", json={"quantity": 1}, headers=auth)
    assert response.status_code == 409
    # Changing an existing line is still allowed.
    assert client.put("/cart/items/L0", json={"quantity": 2}, headers=auth).status_code == 200


def test_absurd_content_length_is_refused_before_reading(server: AppServer, auth: dict[str, str]) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"PUT /cart/items/A HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999999999999999\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413") or reply.startswith(b"HTTP/1.1 400")


def test_concurrent_adds_never_push_a_cart_past_its_line_limit(client: Any, server: AppServer) -> None:
    user, auth = new_user(client)
    for i in range(MAX_LINES - 5):
        server.state.carts.set_item(user["id"], f"P{i}", 1)
    start = threading.Barrier(24)
    statuses: list[int] = []

    def add(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            start.wait()
            statuses.append(http.put(f"/cart/items/NEW{index}", json={"quantity": 1}, headers=auth).status_code)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(statuses) == {200: 5, 409: 19}
    assert len(client.get("/cart", headers=auth).json()["items"]) == MAX_LINES


def test_the_line_limit_is_one_atomic_step_in_redis(redis_service: Any) -> None:
    # Straight at the store, with more threads than the app's endpoint pool would let through.
    client = redis.Redis.from_url(redis_service.url, decode_responses=True)
    store, user_id = CartStore(client, ttl_seconds=600), f"race-{uuid.uuid4().hex}"
    for i in range(MAX_LINES - 20):
        store.set_item(user_id, f"P{i}", 1)
    outcomes: list[str] = []
    start = threading.Barrier(50)

    def add(index: int) -> None:
        start.wait()
        try:
            store.set_item(user_id, f"S{index}", 1)
            outcomes.append("added")
        except CartFull:
            outcomes.append("full")

    threads = [threading.Thread(target=add, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(outcomes) == {"added": 20, "full": 30}
    assert len(store.get(user_id).items) == MAX_LINES
    client.close()


def test_authenticated_answers_are_never_cached(client: Any, auth: dict[str, str]) -> None:
    for response in (
        client.get("/cart", headers=auth),
        client.put("/cart/items/N1", json={"quantity": 1}, headers=auth),
        client.delete("/cart/items/N1", headers=auth),
        client.get("/cart", headers={"Authorization": "Bearer forged"}),
        # A route that chose public caching still may not be cached for a request with credentials.
        client.get("/.well-known/jwks.json", headers=auth),
    ):
        assert response.headers["cache-control"] == "no-store", response.request.url
    assert client.get("/.well-known/jwks.json").headers["cache-control"] == "public, max-age=300"
    assert client.get("/healthz").headers["cache-control"] == "no-store"


def test_metrics_show_the_process_and_the_dependencies(client: Any) -> None:
    text = client.get("/metrics").text
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "python_info",
        "db_pool_size",
        "db_pool_available",
        "db_requests_waiting",
        "db_pool_max 4.0",
        'redis_breaker_open{client="loop"} 0.0',
        'redis_breaker_open{client="threads"} 0.0',
    ):
        assert name in text, name

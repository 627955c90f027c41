"""Sign-out and password change: every token issued before is refused, on every replica, at once.

Two app servers share PostgreSQL and Redis, as replicas do; each test warms the second replica's
view of the user (its cache) before the change, so a replica answering from a stale view would show.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis

from app.throttle import pair_key
from app.users import cache_key
from tests.app.support import AppServer, login, register

pytestmark = pytest.mark.services

STRONG = "a brand new passphrase"


@pytest.fixture(scope="module")
def other(module_db: str, module_aws: Any, make_settings: Callable[..., Any]) -> Iterator[AppServer]:
    """A second replica on the same stores."""
    with AppServer(make_settings(module_db, module_aws)) as replica:
        yield replica


def _routes(client: Any, headers: dict[str, str]) -> dict[str, int]:
    return {
        "GET /cart": client.get("/cart", headers=headers).status_code,
        "PUT /cart/items": client.put("/cart/items/A1", json={"quantity": 1}, headers=headers).status_code,
        "DELETE /cart/items": client.delete("/cart/items/A1", headers=headers).status_code,
        "GET /orders": client.get(f"/orders/{uuid.uuid4()}", headers=headers).status_code,
        "POST /orders": client.post("/orders", headers=headers).status_code,
    }


def _revoked_everywhere(servers: list[AppServer], headers: dict[str, str]) -> None:
    for server in servers:
        for route, status in _routes(server.client, headers).items():
            assert status == 401, (server.url, route, status)
        answer = server.client.get("/cart", headers=headers)
        assert answer.json() == {"detail": "the token was revoked (signed out or password changed)"}
        assert answer.headers["www-authenticate"].startswith("Bearer")


def _warm(servers: list[AppServer], headers: dict[str, str]) -> None:
    for server in servers:
        assert server.client.put("/cart/items/W1", json={"quantity": 1}, headers=headers).status_code == 200
        assert server.client.get(f"/orders/{uuid.uuid4()}", headers=headers).status_code == 404


def test_logout_refuses_every_earlier_token_on_every_replica(server: AppServer, other: AppServer) -> None:
    user = register(server.client)
    first = login(server.client, user["username"], user["password"])
    second = login(other.client, user["username"], user["password"])
    _warm([server, other], first)
    _warm([server, other], second)

    response = server.client.post("/auth/logout", headers=first)
    assert response.status_code == 204 and response.content == b""

    _revoked_everywhere([server, other], first)
    _revoked_everywhere([server, other], second)
    # Signing in again gives a token every replica takes.
    fresh = login(other.client, user["username"], user["password"])
    for replica in (server, other):
        assert replica.client.get("/cart", headers=fresh).status_code == 200
    # A revoked token cannot sign out again (or do anything else).
    assert other.client.post("/auth/logout", headers=first).status_code == 401


def test_a_revoked_token_changes_no_cart(server: AppServer, other: AppServer) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    assert server.client.put("/cart/items/KEEP", json={"quantity": 3}, headers=headers).status_code == 200
    assert server.client.post("/auth/logout", headers=headers).status_code == 204
    assert other.client.put("/cart/items/KEEP", json={"quantity": 9}, headers=headers).status_code == 401
    fresh = login(server.client, user["username"], user["password"])
    assert other.client.get("/cart", headers=fresh).json() == {"items": [{"sku": "KEEP", "quantity": 3}]}


def test_a_revocation_holds_when_the_cache_entry_expired_or_was_never_there(
    server: AppServer, other: AppServer
) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    assert server.client.post("/auth/logout", headers=headers).status_code == 204
    other.state.users.forget(user["id"])  # a miss: PostgreSQL answers, and holds the truth
    _revoked_everywhere([other], headers)


def test_password_change_refuses_earlier_tokens_and_the_old_password(server: AppServer, other: AppServer) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    _warm([server, other], headers)
    response = other.client.post(
        "/auth/password", json={"current_password": user["password"], "new_password": STRONG}, headers=headers
    )
    assert response.status_code == 204, response.text
    _revoked_everywhere([server, other], headers)
    old = server.client.post("/auth/login", json={"username": user["username"], "password": user["password"]})
    assert old.status_code == 401
    fresh = login(server.client, user["username"], STRONG)
    assert other.client.get("/cart", headers=fresh).status_code == 200


def test_a_wrong_current_password_is_401_counts_as_a_failure_and_changes_nothing(
    server: AppServer, redis_service: Any
) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    response = server.client.post(
        "/auth/password", json={"current_password": "not the password", "new_password": STRONG}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    store = redis.Redis.from_url(redis_service.url, decode_responses=True)
    try:
        assert store.get(pair_key(user["username"], "127.0.0.1")) == "1"
    finally:
        store.close()
    # The token still works and the password is unchanged.
    assert server.client.get("/cart", headers=headers).status_code == 200
    login(server.client, user["username"], user["password"])


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("aaaaaaaa", "at least 3 different characters"),
        ("shrt7x", "at least 8 characters"),
        ("123456789", "most commonly used"),
    ],
)
def test_a_weak_new_password_is_422_and_changes_nothing(server: AppServer, new_password: str, message: str) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    response = server.client.post(
        "/auth/password", json={"current_password": user["password"], "new_password": new_password}, headers=headers
    )
    assert response.status_code == 422
    assert message in str(response.json()["detail"])
    assert new_password not in response.text
    assert server.client.get("/cart", headers=headers).status_code == 200


def test_the_new_password_may_not_contain_the_username(server: AppServer) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    response = server.client.post(
        "/auth/password",
        json={"current_password": user["password"], "new_password": f"x{user['username']}y"},
        headers=headers,
    )
    assert response.status_code == 422
    assert "username" in str(response.json()["detail"])


def test_password_change_and_logout_need_a_current_token(server: AppServer) -> None:
    body = {"current_password": "whatever it is", "new_password": STRONG}
    assert server.client.post("/auth/password", json=body).status_code == 401
    assert server.client.post("/auth/logout").status_code == 401
    ghost = {"Authorization": f"Bearer {server.state.tokens.issue(str(uuid.uuid4()), 'ghost')}"}
    assert server.client.post("/auth/logout", headers=ghost).status_code == 401


def test_logout_that_cannot_reach_redis_is_503_and_changes_nothing(
    server: AppServer, module_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])

    def redis_down(*args: Any, **kwargs: Any) -> None:
        raise redis.ConnectionError("Redis did not answer")

    with monkeypatch.context() as patch:
        patch.setattr(server.state.users.client, "delete", redis_down)
        response = server.client.post("/auth/logout", headers=headers)
    assert response.status_code == 503 and response.headers["retry-after"]
    with psycopg.connect(module_db) as conn:
        row = conn.execute("SELECT token_generation FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row == (1,)
    assert server.client.get("/cart", headers=headers).status_code == 200


def test_the_cache_holds_the_new_generation_when_the_change_returns(server: AppServer, redis_service: Any) -> None:
    user = register(server.client)
    headers = login(server.client, user["username"], user["password"])
    store = redis.Redis.from_url(redis_service.url, decode_responses=True)
    try:
        assert store.get(cache_key(user["id"])) == "1"
        assert server.client.post("/auth/logout", headers=headers).status_code == 204
        assert store.get(cache_key(user["id"])) == "2"
        # A fill (a miss on another replica) never lowers it.
        server.state.users.remember(user["id"], 1)
        assert store.get(cache_key(user["id"])) == "2"
    finally:
        store.close()


def test_the_openapi_document_describes_password_change_and_logout(server: AppServer) -> None:
    paths = server.client.get("/openapi.json").json()["paths"]
    change = paths["/auth/password"]["post"]
    assert set(change["responses"]) >= {"204", "401", "422", "429", "503"}
    assert "refused" in change["description"]
    schema = change["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/PasswordChange")
    logout = paths["/auth/logout"]["post"]
    assert set(logout["responses"]) >= {"204", "401", "503"}
    assert "refused" in logout["description"]
    assert logout["security"] == [{"HTTPBearer": []}]

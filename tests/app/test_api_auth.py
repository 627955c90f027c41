"""Registration, login, the published keys, and how protected routes treat bad tokens."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import psycopg
import pytest

from app.keys import generate_private_key_pem
from tests.app.support import AppServer, login, new_username, register

pytestmark = pytest.mark.services


def test_register_returns_id_and_username(client: Any) -> None:
    username = new_username()
    response = client.post("/auth/register", json={"username": username, "password": "a long enough secret"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username"} and body["username"] == username


def test_register_twice_is_409_whatever_the_case(client: Any) -> None:
    user = register(client)
    again = client.post("/auth/register", json={"username": user["username"].upper(), "password": "another secret"})
    assert again.status_code == 409
    assert again.json() == {"detail": "username already taken"}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": "a long enough secret"},
        {"username": "has space", "password": "a long enough secret"},
        {"username": "x" * 65, "password": "a long enough secret"},
        {"username": "valid-name", "password": "short"},
        {"username": "valid-name", "password": 12345678},
        {"username": 42, "password": "a long enough secret"},
        {"username": "valid-name"},
        {"username": "valid-name", "password": "a long enough secret", "admin": True},
        [],
        "text",
    ],
)
def test_register_rejects_invalid_bodies_with_422(client: Any, body: Any) -> None:
    response = client.post("/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


def test_validation_errors_never_echo_the_password(client: Any) -> None:
    response = client.post("/auth/register", json={"username": "ab", "password": "hunter2-is-my-password"})
    assert response.status_code == 422
    assert "hunter2" not in response.text


def test_login_returns_a_bearer_token(client: Any, server: AppServer) -> None:
    user = register(client)
    response = client.post("/auth/login", json={"username": user["username"], "password": user["password"]})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert response.headers["cache-control"] == "no-store"
    assert body["expires_in"] == server.settings.access_token_ttl_seconds
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user["id"]


@pytest.mark.parametrize("which", ["password", "username"])
def test_login_with_wrong_credentials_is_401(client: Any, which: str) -> None:
    user = register(client)
    credentials = {"username": user["username"], "password": user["password"]}
    credentials[which] = credentials[which] + "-wrong"
    response = client.post("/auth/login", json=credentials)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid username or password"}


@pytest.mark.parametrize("username", ["nul\x00byte", "ab", "x" * 63 + "!", "späce"])
def test_login_with_a_username_that_cannot_exist_is_401(client: Any, username: str) -> None:
    response = client.post("/auth/login", json={"username": username, "password": "whatever it is"})
    assert response.status_code == 401


def test_register_with_nul_in_username_or_password_is_422(client: Any) -> None:
    assert client.post("/auth/register", json={"username": "nul\x00x", "password": "long enough"}).status_code == 422
    response = client.post("/auth/register", json={"username": new_username(), "password": "with\x00nul inside"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "the password must not contain control characters"


def test_login_with_malformed_body_is_422(client: Any) -> None:
    assert (
        client.post("/auth/login", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert client.post("/auth/login", json={"username": "a", "password": "b", "x": 1}).status_code == 422


def test_non_json_content_type_gets_a_clear_422(client: Any) -> None:
    response = client.post("/auth/login", data={"username": "a", "password": "b"})
    assert response.status_code == 422
    assert "application/json" in response.json()["detail"]


def test_jwks_lists_the_signing_key(client: Any) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    token = login(client, *_user(client))["Authorization"].split()[1]
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    # Anyone holding the JWKS can verify the token (as API Gateway's authorizer does).
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="stateless-stack-api")
    assert claims["iss"] == "stateless-stack"


def _user(client: Any) -> tuple[str, str]:
    user = register(client)
    return user["username"], user["password"]


def test_openid_configuration_needs_an_issuer_url(client: Any, server: AppServer) -> None:
    # The test settings' issuer is a name, not a URL: no discovery document, rather than one built
    # from whatever Host header the client sent.
    response = client.get("/.well-known/openid-configuration", headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert response.json() == {"detail": "no discovery document: the token issuer is not a URL"}


def test_openid_configuration_takes_every_url_from_the_issuer_never_from_the_host_header(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    issuer = "https://api.example.test/"
    with AppServer(make_settings(module_db, module_aws, jwt_issuer=issuer)) as server:
        body = server.client.get("/.well-known/openid-configuration", headers={"Host": "evil.example"}).json()
    assert body["issuer"] == issuer
    assert body["jwks_uri"] == "https://api.example.test/.well-known/jwks.json"
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not.a.token", "Token abc"],
)
def test_protected_routes_need_a_valid_bearer_token(client: Any, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [("GET", "/cart"), ("PUT", "/cart/items/A1"), ("POST", "/orders"), ("GET", "/orders/x")]:
        response = client.request(method, path, headers=headers, json={"quantity": 1} if method == "PUT" else None)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "detail" in response.json()


def test_forged_expired_and_misdirected_tokens_are_401_over_http(client: Any, server: AppServer) -> None:
    user = register(client)
    keys = server.state.tokens.keys
    now = int(time.time())
    good = {
        "iss": server.settings.jwt_issuer,
        "aud": server.settings.jwt_audience,
        "sub": user["id"],
        "iat": now,
        "exp": now + 60,
    }
    signing_pem = server.settings.jwt_private_key
    forged = [
        jwt.encode(good, generate_private_key_pem(), algorithm="RS256", headers={"kid": keys.signing_kid}),
        jwt.encode({**good, "exp": now - 60}, signing_pem, algorithm="RS256", headers={"kid": keys.signing_kid}),
        jwt.encode({**good, "iss": "elsewhere"}, signing_pem, algorithm="RS256", headers={"kid": keys.signing_kid}),
        jwt.encode({**good, "aud": "other"}, signing_pem, algorithm="RS256", headers={"kid": keys.signing_kid}),
        jwt.encode(good, signing_pem, algorithm="RS256", headers={"kid": "unknown"}),
        jwt.encode(good, None, algorithm="none", headers={"kid": keys.signing_kid}),
    ]
    for token in forged:
        response = client.get("/cart", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"].startswith("Bearer")
    genuine = jwt.encode(good, signing_pem, algorithm="RS256", headers={"kid": keys.signing_kid})
    assert client.get("/cart", headers={"Authorization": f"Bearer {genuine}"}).status_code == 200


def test_a_token_from_one_replica_is_accepted_by_another(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    with AppServer(make_settings(module_db, module_aws)) as a, AppServer(make_settings(module_db, module_aws)) as b:
        user = register(a.client)
        headers = login(a.client, user["username"], user["password"])
        put = a.client.put("/cart/items/SKU-1", json={"quantity": 3}, headers=headers)
        assert put.status_code == 200
        on_b = b.client.get("/cart", headers=headers)
        assert on_b.status_code == 200
        assert on_b.json() == {"items": [{"sku": "SKU-1", "quantity": 3}]}
        assert put.headers["x-instance-id"] != on_b.headers["x-instance-id"]


def test_rotation_a_token_signed_by_the_previous_key_still_works(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], jwt_pem: str
) -> None:
    with AppServer(make_settings(module_db, module_aws)) as old:
        user = register(old.client)
        old_headers = login(old.client, user["username"], user["password"])
        old_jwks = old.client.get("/.well-known/jwks.json").text
    rotated = make_settings(module_db, module_aws, jwt_private_key=generate_private_key_pem(), jwt_public_keys=old_jwks)
    with AppServer(rotated) as new:
        assert new.client.get("/cart", headers=old_headers).status_code == 200
        assert len(new.client.get("/.well-known/jwks.json").json()["keys"]) == 2
        new_headers = login(new.client, user["username"], user["password"])
        assert new.client.get("/cart", headers=new_headers).status_code == 200
    # A replica that no longer lists the old key refuses its tokens.
    retired = make_settings(module_db, module_aws, jwt_private_key=rotated.jwt_private_key)
    with AppServer(retired) as newest:
        assert newest.client.get("/cart", headers=old_headers).status_code == 401


# --- tokens whose user does not exist ------------------------------------------------------------

AUTHENTICATED_ROUTES = [
    ("GET", "/cart"),
    ("PUT", "/cart/items/A1"),
    ("DELETE", "/cart/items/A1"),
    ("POST", "/orders"),
    ("GET", f"/orders/{uuid.uuid4()}"),
]


def _token_for(server: AppServer, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.state.tokens.issue(user_id, 'nobody')}"}


def _all_routes(client: Any, headers: dict[str, str]) -> list[tuple[str, str, Any]]:
    return [
        (method, path, client.request(method, path, headers=headers, json={"quantity": 1} if method == "PUT" else None))
        for method, path in AUTHENTICATED_ROUTES
    ]


def _expect_401_everywhere(client: Any, headers: dict[str, str]) -> None:
    for method, path, response in _all_routes(client, headers):
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        assert response.json() == {"detail": "the token's user does not exist"}
        assert response.headers["www-authenticate"].startswith("Bearer")


def _delete_user(database_url: str, user_id: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount == 1


def test_a_validly_signed_token_for_a_user_that_never_existed_is_401_everywhere(
    client: Any, server: AppServer
) -> None:
    _expect_401_everywhere(client, _token_for(server, str(uuid.uuid4())))


def test_a_deleted_user_is_401_everywhere(client: Any, server: AppServer, module_db: str) -> None:
    user = register(client)
    headers = login(client, user["username"], user["password"])
    assert client.put("/cart/items/A1", json={"quantity": 1}, headers=headers).status_code == 200
    _delete_user(module_db, user["id"])
    server.state.users.forget(user["id"])  # what a deletion does besides the row
    _expect_401_everywhere(client, headers)


def test_a_user_deleted_behind_the_cache_is_401_at_once_on_orders_and_within_the_ttl_on_the_cart(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    with AppServer(make_settings(module_db, module_aws, user_cache_ttl_seconds=1)) as server:
        user = register(server.client)
        headers = login(server.client, user["username"], user["password"])
        assert server.client.put("/cart/items/A1", json={"quantity": 1}, headers=headers).status_code == 200
        _delete_user(module_db, user["id"])
        # Checkout asks PostgreSQL itself: no order for a deleted user, and no 500.
        assert server.client.post("/orders", headers=headers).status_code == 401
        time.sleep(1.2)
        _expect_401_everywhere(server.client, headers)


def test_checkout_racing_a_user_deletion_is_401_and_writes_nothing(
    server: AppServer, client: Any, module_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The user passes the existence check, then is gone when the order is written.
    ghost = str(uuid.uuid4())
    headers = _token_for(server, ghost)
    monkeypatch.setattr(server.state.users, "generation_in_database", lambda user_id: 1)
    assert client.put("/cart/items/A1", json={"quantity": 2}, headers=headers).status_code == 200
    response = client.post("/orders", headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "the token's user does not exist"}
    with psycopg.connect(module_db) as conn:
        assert conn.execute("SELECT count(*) FROM orders WHERE user_id = %s", (ghost,)).fetchone() == (0,)
    server.state.users.forget(ghost)


def test_cart_routes_need_postgresql_only_on_a_cache_miss(
    server: AppServer, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = register(client)
    headers = login(client, user["username"], user["password"])  # login vouches for the user in Redis

    def database_down(user_id: str) -> int:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(server.state.users, "generation_in_database", database_down)
    assert client.put("/cart/items/A1", json={"quantity": 1}, headers=headers).status_code == 200
    assert client.get("/cart", headers=headers).status_code == 200
    # Neither the cache nor PostgreSQL can answer: 503, never a guess.
    server.state.users.forget(user["id"])
    response = client.get("/cart", headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"]


def test_a_taken_name_costs_the_same_hash_as_a_new_account(
    client: Any, server: AppServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import security

    taken = register(client)["username"]
    hashed: list[str] = []
    real = security.hash_password_async

    async def counting(password: str) -> str:
        hashed.append(password)
        return await real(password)

    monkeypatch.setattr(security, "hash_password_async", counting)
    answer = client.post("/auth/register", json={"username": taken, "password": "another long secret"})
    assert answer.status_code == 409
    assert hashed == ["another long secret"]

"""Registration, login, the published keys, and how protected routes treat bad tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
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


def test_register_with_nul_in_username_is_422_and_in_password_is_fine(client: Any) -> None:
    assert client.post("/auth/register", json={"username": "nul\x00x", "password": "long enough"}).status_code == 422
    user = register(client, password="with\x00nul inside")
    assert login(client, user["username"], "with\x00nul inside")


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


def test_openid_configuration_points_at_the_jwks(client: Any, server: AppServer) -> None:
    body = client.get("/.well-known/openid-configuration").json()
    assert body["issuer"] == server.settings.jwt_issuer
    assert body["jwks_uri"] == f"{server.url}/.well-known/jwks.json"
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

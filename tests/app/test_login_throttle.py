"""Login throttling: per account and per client address, counted in Redis, with no user enumeration.

The app here is reached directly (no load balancer), so each test names its client address in
X-Forwarded-For as the load balancer would: the last hop is the one taken.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
import redis
from pydantic import ValidationError

from app.routers import auth
from app.settings import Settings
from app.throttle import LoginThrottle, address_key, client_address
from local.procs import free_port
from tests.app.support import AppServer, new_username, register

pytestmark = pytest.mark.services

PER_ACCOUNT = 3
PER_ADDRESS = 8
WINDOW = 60


def throttled_settings(module_db: str, module_aws: Any, make_settings: Callable[..., Any]) -> Any:
    return make_settings(
        module_db,
        module_aws,
        login_max_failures_per_account=PER_ACCOUNT,
        login_max_failures_per_address=PER_ADDRESS,
        login_failure_window_seconds=WINDOW,
    )


@pytest.fixture(scope="module")
def throttled(module_db: str, module_aws: Any, make_settings: Callable[..., Any]) -> Iterator[AppServer]:
    with AppServer(throttled_settings(module_db, module_aws, make_settings)) as server:
        yield server


def new_address() -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + uuid.uuid4().int % 0xFFFFFF))


def attempt(server: AppServer, username: str, password: str, address: str, **headers: str) -> httpx.Response:
    return server.client.post(
        "/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address, **headers},
    )


def test_wrong_passwords_on_one_account_get_429_after_the_threshold(throttled: AppServer) -> None:
    user = register(throttled.client)
    address = new_address()
    statuses = [attempt(throttled, user["username"], "wrong password", address).status_code for _ in range(PER_ACCOUNT)]
    assert statuses == [401] * PER_ACCOUNT
    blocked = attempt(throttled, user["username"], "wrong password", address)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= WINDOW
    assert blocked.json()["detail"].startswith("too many failed logins for this account")
    assert blocked.headers["cache-control"] == "no-store"
    # The right password is not even looked at now, from this address or any other.
    assert attempt(throttled, user["username"], user["password"], address).status_code == 429
    assert attempt(throttled, user["username"], user["password"], new_address()).status_code == 429


def test_the_throttle_does_not_tell_whether_an_account_exists(throttled: AppServer) -> None:
    existing = register(throttled.client)["username"]
    unknown = new_username()

    def shape(username: str) -> list[tuple[int, str, tuple[str, ...]]]:
        address = new_address()
        seen = []
        for _ in range(PER_ACCOUNT + 2):
            response = attempt(throttled, username, "wrong password", address)
            detail = response.json()["detail"]
            names = tuple(sorted(k for k in response.headers if k not in ("date", "x-request-id", "content-length")))
            seen.append((response.status_code, detail.split(";")[0], names))
        return seen

    assert shape(existing) == shape(unknown)
    assert [status for status, _, _ in shape(new_username().upper())] == [401] * PER_ACCOUNT + [429, 429]


def test_a_locked_account_leaves_other_accounts_alone(throttled: AppServer) -> None:
    victim, other = register(throttled.client), register(throttled.client)
    address = new_address()
    for _ in range(PER_ACCOUNT + 1):
        attempt(throttled, victim["username"], "wrong password", address)
    assert attempt(throttled, victim["username"], victim["password"], address).status_code == 429
    # Same address (the attacker's, or a shared NAT) and another one: the other user logs in.
    assert attempt(throttled, other["username"], other["password"], address).status_code == 200
    assert attempt(throttled, other["username"], other["password"], new_address()).status_code == 200


def test_one_address_failing_across_many_accounts_is_stopped(throttled: AppServer) -> None:
    address = new_address()
    statuses = [attempt(throttled, new_username(), "wrong password", address).status_code for _ in range(PER_ADDRESS)]
    assert statuses == [401] * PER_ADDRESS
    blocked = attempt(throttled, new_username(), "wrong password", address)
    assert blocked.status_code == 429
    assert blocked.json()["detail"].startswith("too many failed logins from this address")
    # Even a user with the right password, from that address; anyone from elsewhere is fine.
    user = register(throttled.client)
    assert attempt(throttled, user["username"], user["password"], address).status_code == 429
    assert attempt(throttled, user["username"], user["password"], new_address()).status_code == 200


def test_logging_in_to_an_own_account_does_not_wipe_the_address_failures(throttled: AppServer) -> None:
    attacker = register(throttled.client)
    address = new_address()
    for _ in range(PER_ADDRESS - 1):
        assert attempt(throttled, new_username(), "wrong password", address).status_code == 401
    assert attempt(throttled, attacker["username"], attacker["password"], address).status_code == 200
    # One failure left, not a fresh budget.
    assert attempt(throttled, new_username(), "wrong password", address).status_code == 401
    assert attempt(throttled, new_username(), "wrong password", address).status_code == 429


def test_a_successful_login_clears_the_account_failures(throttled: AppServer) -> None:
    user = register(throttled.client)
    address = new_address()
    for _ in range(PER_ACCOUNT - 1):
        assert attempt(throttled, user["username"], "wrong password", address).status_code == 401
    assert attempt(throttled, user["username"], user["password"], address).status_code == 200
    # NIST counts consecutive failures: the account has its full allowance again.
    statuses = [attempt(throttled, user["username"], "wrong", new_address()).status_code for _ in range(PER_ACCOUNT)]
    assert statuses == [401] * PER_ACCOUNT
    assert attempt(throttled, user["username"], "wrong", new_address()).status_code == 429


def test_client_supplied_forwarded_hops_do_not_escape_the_address_limit(throttled: AppServer) -> None:
    address = new_address()
    statuses = Counter(
        attempt(throttled, new_username(), "wrong", f"{new_address()}, {address}").status_code
        for _ in range(PER_ADDRESS + 3)
    )
    assert statuses == {401: PER_ADDRESS, 429: 3}


def test_a_burst_of_concurrent_guesses_gets_exactly_the_allowance(throttled: AppServer) -> None:
    user = register(throttled.client)
    address = new_address()
    statuses: list[int] = []
    start = threading.Barrier(12)

    def guess() -> None:
        with httpx.Client(base_url=throttled.url, timeout=30) as http:
            start.wait()
            response = http.post(
                "/auth/login",
                json={"username": user["username"], "password": "wrong"},
                headers={"X-Forwarded-For": address},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(statuses) == {401: PER_ACCOUNT, 429: 12 - PER_ACCOUNT}


def test_replicas_share_the_counters(
    throttled: AppServer, module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = throttled_settings(module_db, module_aws, make_settings)
    user = register(throttled.client)
    address = new_address()
    with AppServer(settings) as other:
        replicas = [throttled, other]
        statuses = [
            attempt(replicas[i % 2], user["username"], "wrong", address).status_code for i in range(PER_ACCOUNT + 1)
        ]
    assert statuses == [401] * PER_ACCOUNT + [429]


def test_login_fails_closed_with_503_when_redis_is_unreachable(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(module_db, module_aws, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with AppServer(settings) as server:
        user = register(server.client)
        response = server.client.post("/auth/login", json={"username": user["username"], "password": user["password"]})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert "Redis" in response.json()["detail"]
        assert "access_token" not in response.text


def test_counters_empty_when_the_window_ends(redis_service: Any) -> None:
    client = redis.Redis.from_url(redis_service.url, decode_responses=True)
    throttle = LoginThrottle(client, per_account=1, per_address=100, window_seconds=1)
    username, address = new_username(), new_address()
    assert throttle.attempt(username, address).allowed
    refused = throttle.attempt(username, address)
    assert not refused.allowed and refused.retry_after_seconds == 1
    # The window is a TTL on the counter: no lockout outlives it.
    assert 0 < client.pttl(address_key(address)) <= 1000
    time.sleep(1.2)
    assert throttle.attempt(username, address).allowed
    client.close()


@pytest.mark.parametrize(
    ("forwarded", "peer", "hops", "expected"),
    [
        ([], "192.0.2.7", 1, "192.0.2.7"),
        (["198.51.100.4"], "10.0.0.2", 1, "198.51.100.4"),
        # A client-supplied header first, the load balancer's hop last (ALB appends to the value).
        (["6.6.6.6, 198.51.100.4"], "10.0.0.2", 1, "198.51.100.4"),
        # HAProxy's `option forwardfor` adds its own header line after the client's.
        (["6.6.6.6", "198.51.100.4"], "127.0.0.1", 1, "198.51.100.4"),
        # Two proxies (API Gateway in front of the ALB): the outer one's hop.
        (["6.6.6.6, 198.51.100.4, 10.0.1.9"], "10.0.0.2", 2, "198.51.100.4"),
        # Fewer hops than trusted proxies: the request did not come through them all.
        (["198.51.100.4"], "10.0.0.2", 2, "10.0.0.2"),
        (["198.51.100.4"], "10.0.0.2", 0, "10.0.0.2"),
        (["2001:db8:1:2:3:4:5:6"], None, 1, "2001:db8:1:2::/64"),
        (["::ffff:192.0.2.1"], None, 1, "192.0.2.1"),
    ],
)
def test_client_address_takes_the_hop_the_load_balancer_appended(
    forwarded: list[str], peer: str | None, hops: int, expected: str
) -> None:
    assert client_address(forwarded, peer, hops) == expected


def test_a_client_address_that_is_not_an_address_still_makes_a_bounded_key() -> None:
    key = client_address(["not-an-ip" * 100], None, 1)
    assert key.startswith("other-") and len(key) == len("other-") + 32
    assert key == client_address(["not-an-ip" * 100], None, 1)


def test_logins_answered_503_by_a_database_outage_do_not_lock_the_account(
    throttled: AppServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = register(throttled.client)
    address = new_address()

    def database_down(*args: Any) -> None:
        raise psycopg.OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(auth, "_user_row", database_down)
        statuses = [attempt(throttled, user["username"], user["password"], address).status_code for _ in range(5)]
    assert statuses == [503] * 5
    # The database is back: the user has not been locked out by their retries.
    assert attempt(throttled, user["username"], user["password"], address).status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # NIST SP 800-63B 5.2.2: never more than 100 consecutive failures on one account.
        ("login_max_failures_per_account", 101),
        ("login_max_failures_per_account", 0),
        ("login_max_failures_per_address", 0),
        ("login_failure_window_seconds", 0),
        ("trusted_proxy_hops", -1),
        ("max_header_bytes", 1024),
    ],
)
def test_abuse_limits_outside_their_bounds_are_refused(name: str, value: int) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


def test_abuse_limit_defaults_are_the_documented_ones() -> None:
    names = (
        "login_max_failures_per_account",
        "login_max_failures_per_address",
        "login_failure_window_seconds",
        "trusted_proxy_hops",
        "user_cache_ttl_seconds",
        "max_header_bytes",
    )
    assert [Settings.model_fields[name].default for name in names] == [10, 100, 900, 1, 300, 65536]


def test_a_right_password_is_not_refused_when_redis_fails_after_the_check(
    throttled: AppServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = register(throttled.client)

    def redis_down(*args: Any) -> None:
        raise redis.ConnectionError("Redis did not answer")

    with monkeypatch.context() as patch:
        patch.setattr(throttled.state.login_throttle, "succeeded", redis_down)
        response = attempt(throttled, user["username"], user["password"], new_address())
    assert response.status_code == 200, response.text
    # Counting before the check is never skipped: that failing is a 503 (fails closed).
    with monkeypatch.context() as patch:
        patch.setattr(throttled.state.login_throttle, "attempt", redis_down)
        assert attempt(throttled, user["username"], user["password"], new_address()).status_code == 503

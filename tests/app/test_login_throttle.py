"""Abuse limits: login failures per (account, address) and slowed per account and per address,
known addresses let through, successful logins and registrations limited, no user enumeration.

The app here is reached directly (no load balancer), so each test names its client address in
X-Forwarded-For as the load balancer would: the last hop is the one taken.
"""

from __future__ import annotations

import hashlib
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
from app.throttle import (
    Limits,
    LoginThrottle,
    account_key,
    address_key,
    client_address,
    delay_ms,
    pair_key,
    request_address,
)
from local.procs import free_port
from tests.app.support import AppServer, new_username, register

# Marked per test, not per module: the pure functions' tests need no server and the throttle's own
# tests need Redis only (`redis`), so both run where starting PostgreSQL and moto per run would cost
# too much (bench.mutation).

PER_PAIR = 3
ACCOUNT_FREE = 5
ADDRESS_FREE = 8
WINDOW = 60


def throttled_settings(module_db: str, module_aws: Any, make_settings: Callable[..., Any], **extra: Any) -> Any:
    return make_settings(
        module_db,
        module_aws,
        login_max_failures_per_account_and_address=PER_PAIR,
        login_failures_before_account_delay=ACCOUNT_FREE,
        login_failures_before_address_delay=ADDRESS_FREE,
        login_failure_window_seconds=WINDOW,
        **extra,
    )


@pytest.fixture(scope="module")
def throttled(module_db: str, module_aws: Any, make_settings: Callable[..., Any]) -> Iterator[AppServer]:
    with AppServer(throttled_settings(module_db, module_aws, make_settings)) as server:
        yield server


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def new_address() -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + uuid.uuid4().int % 0xFFFFFF))


def attempt(server: AppServer, username: str, password: str, address: str, **headers: str) -> httpx.Response:
    return server.client.post(
        "/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address, **headers},
    )


def detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


# --- per (account, address): the one hard limit -----------------------------------------------------


@pytest.mark.services
def test_wrong_passwords_from_one_address_lock_that_address_out_of_that_account_only(throttled: AppServer) -> None:
    user = register(throttled.client)
    attacker = new_address()
    statuses = [attempt(throttled, user["username"], "wrong password", attacker).status_code for _ in range(PER_PAIR)]
    assert statuses == [401] * PER_PAIR
    blocked = attempt(throttled, user["username"], "wrong password", attacker)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= WINDOW
    assert detail(blocked).startswith("too many failed logins for this account from this address")
    assert blocked.headers["cache-control"] == "no-store"
    # Not even the right password from there: the guesser learns nothing more.
    assert attempt(throttled, user["username"], user["password"], attacker).status_code == 429
    # The owner, anywhere else, logs in: the attacker cannot lock the account.
    assert attempt(throttled, user["username"], user["password"], new_address()).status_code == 200


@pytest.mark.services
def test_refused_attempts_are_not_counted(throttled: AppServer, store: redis.Redis) -> None:
    user = register(throttled.client)
    attacker = new_address()
    for _ in range(PER_PAIR + 20):
        attempt(throttled, user["username"], "wrong password", attacker)
    assert store.get(pair_key(user["username"], attacker)) == str(PER_PAIR)
    assert store.hget(account_key(user["username"]), "n") == str(PER_PAIR)


@pytest.mark.services
def test_the_throttle_does_not_tell_whether_an_account_exists(throttled: AppServer) -> None:
    existing = register(throttled.client)["username"]
    unknown = new_username()

    def shape(username: str) -> list[tuple[int, str, tuple[str, ...]]]:
        address = new_address()
        seen = []
        for _ in range(PER_PAIR + 2):
            response = attempt(throttled, username, "wrong password", address)
            names = tuple(sorted(k for k in response.headers if k not in ("date", "x-request-id", "content-length")))
            seen.append((response.status_code, detail(response).split(";")[0], names))
        return seen

    assert shape(existing) == shape(unknown)
    assert [status for status, _, _ in shape(new_username().upper())] == [401] * PER_PAIR + [429, 429]


@pytest.mark.services
def test_a_successful_login_clears_the_pair_and_account_failures(throttled: AppServer, store: redis.Redis) -> None:
    user = register(throttled.client)
    address = new_address()
    for _ in range(PER_PAIR - 1):
        assert attempt(throttled, user["username"], "wrong password", address).status_code == 401
    assert attempt(throttled, user["username"], user["password"], address).status_code == 200
    assert store.get(pair_key(user["username"], address)) is None
    assert store.get(account_key(user["username"])) is None
    # NIST counts consecutive failures: the full allowance again.
    statuses = [attempt(throttled, user["username"], "wrong", address).status_code for _ in range(PER_PAIR)]
    assert statuses == [401] * PER_PAIR
    assert attempt(throttled, user["username"], "wrong", address).status_code == 429


# --- per account and per address: slowed, not shut --------------------------------------------------


@pytest.mark.services
def test_many_addresses_failing_on_one_account_slow_unknown_addresses_only(throttled: AppServer) -> None:
    user = register(throttled.client)
    home = new_address()
    assert attempt(throttled, user["username"], user["password"], home).status_code == 200  # home is known
    for _ in range(ACCOUNT_FREE):
        assert attempt(throttled, user["username"], "wrong", new_address()).status_code == 401
    slowed = attempt(throttled, user["username"], user["password"], new_address())
    assert slowed.status_code == 429
    assert detail(slowed).startswith("too many failed logins for this account; slowed down")
    assert slowed.headers["retry-after"] == "1"  # the first delay past the allowance
    # The owner at an address the account has logged in from is not slowed.
    assert attempt(throttled, user["username"], user["password"], home).status_code == 200


@pytest.mark.services
def test_one_address_failing_across_many_accounts_is_slowed_except_for_accounts_known_there(
    throttled: AppServer,
) -> None:
    office = new_address()
    colleague = register(throttled.client)
    assert attempt(throttled, colleague["username"], colleague["password"], office).status_code == 200
    statuses = [attempt(throttled, new_username(), "wrong password", office).status_code for _ in range(ADDRESS_FREE)]
    assert statuses == [401] * ADDRESS_FREE
    slowed = attempt(throttled, new_username(), "wrong password", office)
    assert slowed.status_code == 429
    assert detail(slowed).startswith("too many failed logins from this address; slowed down")
    assert slowed.headers["retry-after"] == "1"
    # A user who logged in from this address before is let through; anyone elsewhere too.
    assert attempt(throttled, colleague["username"], colleague["password"], office).status_code == 200
    user = register(throttled.client)
    assert attempt(throttled, user["username"], user["password"], new_address()).status_code == 200


@pytest.mark.services
def test_logging_in_to_an_own_account_gives_back_only_that_attempt(throttled: AppServer, store: redis.Redis) -> None:
    attacker = register(throttled.client)
    address = new_address()
    for _ in range(ADDRESS_FREE - 1):
        assert attempt(throttled, new_username(), "wrong password", address).status_code == 401
    assert attempt(throttled, attacker["username"], attacker["password"], address).status_code == 200
    assert store.hget(address_key(address), "n") == str(ADDRESS_FREE - 1)
    # One failure left before the delay, not a fresh allowance.
    assert attempt(throttled, new_username(), "wrong password", address).status_code == 401
    assert attempt(throttled, new_username(), "wrong password", address).status_code == 429


@pytest.mark.services
@pytest.mark.redis
@pytest.mark.parametrize(
    ("failures", "expected_seconds"),
    [(ACCOUNT_FREE, 1), (ACCOUNT_FREE + 1, 2), (ACCOUNT_FREE + 3, 8), (ACCOUNT_FREE + 5, 20), (ACCOUNT_FREE + 60, 20)],
)
def test_the_delay_doubles_with_every_failure_up_to_its_cap(
    store: redis.Redis, failures: int, expected_seconds: int
) -> None:
    limits = Limits(per_pair=100, account_free=ACCOUNT_FREE, account_max_delay_seconds=20, window_seconds=WINDOW)
    throttle = LoginThrottle(store, limits)
    username = new_username()
    seconds, micros = store.time()
    store.hset(account_key(username), mapping={"n": failures, "last": seconds * 1000 + micros // 1000})
    verdict = throttle.attempt(username, new_address())
    assert not verdict.allowed and verdict.reason.endswith("slowed down")
    # Retry-After rounds up what is left of the delay (a few milliseconds have passed).
    assert verdict.retry_after_seconds == expected_seconds
    assert delay_ms(failures, ACCOUNT_FREE, 20_000) == expected_seconds * 1000


@pytest.mark.services
@pytest.mark.redis
def test_an_attempt_after_the_delay_goes_through(store: redis.Redis) -> None:
    throttle = LoginThrottle(store, Limits(per_pair=100, account_free=2, window_seconds=WINDOW))
    username = new_username()
    seconds, micros = store.time()
    store.hset(account_key(username), mapping={"n": 2, "last": seconds * 1000 + micros // 1000 - 1001})
    assert throttle.attempt(username, new_address()).allowed
    assert store.hget(account_key(username), "n") == "3"


def test_delay_ms_below_the_allowance_is_zero() -> None:
    assert delay_ms(4, 5, 60_000) == 0
    assert delay_ms(5, 5, 60_000) == 1000
    assert delay_ms(5 + 31, 5, 60_000) == 60_000


# --- successful logins and registrations ------------------------------------------------------------


@pytest.mark.services
def test_successful_logins_are_limited_per_account_and_per_address(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = throttled_settings(
        module_db, module_aws, make_settings, login_max_successes_per_account=2, login_max_successes_per_address=3
    )
    with AppServer(settings) as server:
        user = register(server.client)
        statuses = [attempt(server, user["username"], user["password"], new_address()).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = attempt(server, user["username"], user["password"], new_address())
        assert detail(refused).startswith("too many logins for this account")
        assert 1 <= int(refused.headers["retry-after"]) <= settings.login_success_window_seconds
        address = new_address()
        users = [register(server.client) for _ in range(4)]
        statuses = [attempt(server, u["username"], u["password"], address).status_code for u in users]
        assert statuses == [200, 200, 200, 429]
        assert detail(attempt(server, users[3]["username"], users[3]["password"], address)).startswith(
            "too many logins from this address"
        )
        assert attempt(server, users[3]["username"], users[3]["password"], new_address()).status_code == 200


@pytest.mark.services
def test_registrations_are_limited_per_address_taken_names_included(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = throttled_settings(module_db, module_aws, make_settings, registration_max_per_address=3)
    with AppServer(settings) as server:
        flooder = new_address()

        def sign_up(name: str, address: str) -> httpx.Response:
            body = {"username": name, "password": "a long enough secret"}
            return server.client.post("/auth/register", json=body, headers={"X-Forwarded-For": address})

        taken = new_username()
        assert sign_up(taken, new_address()).status_code == 201

        statuses = [sign_up(taken, flooder).status_code, sign_up(new_username(), flooder).status_code]
        statuses += [sign_up(new_username(), flooder).status_code, sign_up(taken, flooder).status_code]
        assert statuses == [409, 201, 201, 429]
        refused = sign_up(new_username(), flooder)
        assert refused.status_code == 429
        assert detail(refused).startswith("too many registrations from this address")
        assert 1 <= int(refused.headers["retry-after"]) <= settings.registration_window_seconds
        # Invalid input is refused before it is counted or hashed; another address registers.
        assert sign_up("x", new_address()).status_code == 422
        assert sign_up(new_username(), new_address()).status_code == 201


@pytest.mark.services
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
    assert Counter(statuses) == {401: PER_PAIR, 429: 12 - PER_PAIR}


@pytest.mark.services
def test_replicas_share_the_counters(
    throttled: AppServer, module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = throttled_settings(module_db, module_aws, make_settings)
    user = register(throttled.client)
    address = new_address()
    with AppServer(settings) as other:
        replicas = [throttled, other]
        statuses = [
            attempt(replicas[i % 2], user["username"], "wrong", address).status_code for i in range(PER_PAIR + 1)
        ]
    assert statuses == [401] * PER_PAIR + [429]


@pytest.mark.services
def test_login_fails_closed_with_503_when_redis_is_unreachable(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(module_db, module_aws, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with AppServer(settings) as server:
        response = server.client.post("/auth/login", json={"username": new_username(), "password": "whatever it is"})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert "Redis" in response.json()["detail"]
        assert "access_token" not in response.text


@pytest.mark.services
@pytest.mark.redis
def test_failures_are_forgotten_a_window_after_the_last_one(store: redis.Redis) -> None:
    throttle = LoginThrottle(store, Limits(per_pair=1, window_seconds=1))
    username, address = new_username(), new_address()
    assert throttle.attempt(username, address).allowed
    refused = throttle.attempt(username, address)
    assert not refused.allowed and refused.retry_after_seconds == 1
    # The window is a TTL on the counters: no refusal outlives it.
    assert 0 < store.pttl(pair_key(username, address)) <= 1000
    assert 0 < store.pttl(account_key(username)) <= 1000
    assert 0 < store.pttl(address_key(address)) <= 1000
    time.sleep(1.2)
    assert throttle.attempt(username, address).allowed


def test_the_api_gateway_address_header_is_trusted_when_configured() -> None:
    headers = [(b"x-forwarded-for", b"6.6.6.6, 10.0.1.9"), (b"x-client-source-ip", b"198.51.100.4")]
    assert request_address(headers, "10.0.0.2", 1, "X-Client-Source-Ip") == "198.51.100.4"
    # Not configured (ALB ingress): the header is the client's own and is ignored.
    assert request_address(headers, "10.0.0.2", 1, "") == "10.0.1.9"
    # Configured but absent: the request did not come through API Gateway; X-Forwarded-For decides.
    assert request_address(headers[:1], "10.0.0.2", 1, "X-Client-Source-Ip") == "10.0.1.9"
    assert request_address([("X-Client-Source-Ip", "2001:db8::1")], None, 1, "x-client-source-ip") == "2001:db8::/64"


@pytest.mark.services
def test_in_api_gateway_shape_one_attacker_cannot_lock_out_another_address(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    # Every request reaches the app from the same VPC link hop (the last X-Forwarded-For entry is the
    # link's address, the same for everyone); API Gateway's mapping sets the real client address.
    header = "X-Client-Source-Ip"
    settings = throttled_settings(module_db, module_aws, make_settings, client_address_header=header)
    vpc_link = new_address()
    with AppServer(settings) as server:
        victim = register(server.client)
        attacker, owner = new_address(), new_address()

        def via_gateway(client_ip: str, password: str, spoof: str = "") -> httpx.Response:
            return attempt(server, victim["username"], password, f"{spoof}{vpc_link}", **{header: client_ip})

        statuses = Counter(via_gateway(attacker, "wrong", spoof="127.0.0.9, ").status_code for _ in range(50))
        assert statuses == {401: PER_PAIR, 429: 50 - PER_PAIR}
        assert via_gateway(owner, victim["password"]).status_code == 200


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


@pytest.mark.services
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
        ("login_max_failures_per_account_and_address", 101),
        ("login_max_failures_per_account_and_address", 0),
        ("login_failures_before_account_delay", 0),
        ("login_failures_before_address_delay", 0),
        ("registration_max_per_address", 0),
        ("login_max_successes_per_account", 0),
        ("client_address_header", "X-Forwarded-For: 1"),
        ("login_failure_window_seconds", 0),
        ("trusted_proxy_hops", -1),
        ("max_header_bytes", 1024),
    ],
)
def test_abuse_limits_outside_their_bounds_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


def test_abuse_limit_defaults_are_the_documented_ones() -> None:
    defaults = {
        "login_max_failures_per_account_and_address": 10,
        "login_failures_before_account_delay": 20,
        "login_failures_before_address_delay": 100,
        "login_max_delay_account_seconds": 300,
        "login_max_delay_address_seconds": 60,
        "login_failure_window_seconds": 900,
        "login_known_address_days": 30,
        "login_max_successes_per_account": 30,
        "login_max_successes_per_address": 300,
        "login_success_window_seconds": 300,
        "registration_max_per_address": 20,
        "registration_window_seconds": 3600,
        "trusted_proxy_hops": 1,
        "client_address_header": "",
        "user_cache_ttl_seconds": 300,
        "max_header_bytes": 65536,
        "event_loop_watchdog_seconds": 30.0,
        "body_timeout_seconds": 30.0,
        "request_max_age_seconds": 10.0,
    }
    assert {name: Settings.model_fields[name].default for name in defaults} == defaults
    # Limits' own defaults are the same numbers (the throttle used without Settings).
    limits = Limits()
    assert (limits.per_pair, limits.account_free, limits.address_free, limits.registrations_per_address) == (
        10, 20, 100, 20,
    )


@pytest.mark.services
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


@pytest.mark.services
@pytest.mark.redis
def test_giving_back_an_attempt_never_goes_below_zero(store: redis.Redis) -> None:
    throttle = LoginThrottle(store, Limits())
    username, address = new_username(), new_address()
    throttle.undo(username, address)
    throttle.succeeded(username, address)
    assert store.get(pair_key(username, address)) is None
    assert store.hget(address_key(address), "n") in (None, "0")
    assert throttle.attempt(username, address).allowed
    throttle.undo(username, address)
    assert store.get(pair_key(username, address)) == "0"
    assert store.hget(account_key(username), "n") == "0"
    assert store.hget(address_key(address), "n") == "0"


@pytest.mark.services
@pytest.mark.redis
def test_an_account_remembers_its_most_recent_known_addresses_only(store: redis.Redis) -> None:
    from app.throttle import KNOWN_ADDRESSES_KEPT, known_key

    throttle = LoginThrottle(store, Limits(known_days=1))
    username = new_username()
    addresses = [new_address() for _ in range(KNOWN_ADDRESSES_KEPT + 2)]
    for address in addresses:
        throttle.succeeded(username, address)
    kept = store.zrange(known_key(username), 0, -1)
    assert len(kept) == KNOWN_ADDRESSES_KEPT
    assert addresses[-1] in kept
    assert 0 < store.pttl(known_key(username)) <= 86400 * 1000


# --- the pure parts: keys, verdicts, addresses ------------------------------------------------------


def test_keys_are_per_lower_cased_account_hash_and_per_address() -> None:
    from app.throttle import (
        account_id,
        account_successes_key,
        address_successes_key,
        known_key,
        registrations_key,
    )

    digest = hashlib.sha256(b"alice").hexdigest()[:32]
    assert account_id("ALICE") == account_id("alice") == digest
    # Any string may arrive, lone surrogates included: still a key, never an error.
    assert account_id("\ud800") == hashlib.sha256("\ud800".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    assert pair_key("Alice", "192.0.2.1") == f"login:failures:pair:{digest}:192.0.2.1"
    assert account_key("Alice") == f"login:failures:account:{digest}"
    assert address_key("192.0.2.1") == "login:failures:address:192.0.2.1"
    assert known_key("Alice") == f"login:known:{digest}"
    assert account_successes_key("Alice") == f"login:successes:account:{digest}"
    assert address_successes_key("192.0.2.1") == "login:successes:address:192.0.2.1"
    assert registrations_key("192.0.2.1") == "register:address:192.0.2.1"


@pytest.mark.parametrize(
    ("refused", "wait_ms", "retry_after"),
    [(0, 0, 0), (0, 5000, 0), (1, 0, 1), (1, 1, 1), (2, 1000, 1), (3, 1001, 2), (6, 3_600_000, 3600)],
)
def test_a_verdict_rounds_the_wait_up_to_whole_seconds_and_at_least_one(
    refused: int, wait_ms: int, retry_after: int
) -> None:
    from app.throttle import _verdict

    verdict = _verdict(refused, wait_ms)
    assert (verdict.refused, verdict.retry_after_seconds, verdict.allowed) == (refused, retry_after, refused == 0)


def test_each_refusal_names_its_limit() -> None:
    from app.throttle import WHY, Verdict

    assert Verdict(0, 0).reason == ""
    assert [Verdict(n, 1).reason for n in range(1, 7)] == [
        "too many failed logins for this account from this address",
        "too many failed logins for this account; slowed down",
        "too many failed logins from this address; slowed down",
        "too many logins for this account",
        "too many logins from this address",
        "too many registrations from this address",
    ]
    assert len(WHY) == 6


@pytest.mark.parametrize(
    ("failures", "free", "cap", "expected"),
    [(0, 1, 5000, 0), (1, 1, 5000, 1000), (2, 1, 5000, 2000), (3, 1, 5000, 4000), (4, 1, 5000, 5000),
     (31, 1, 10**13, 2**30 * 1000), (32, 1, 10**13, 10**13), (32, 2, 10**13, 2**30 * 1000)],
)
def test_delay_ms_doubles_from_one_second_and_is_capped(failures: int, free: int, cap: int, expected: int) -> None:
    assert delay_ms(failures, free, cap) == expected
    assert type(delay_ms(failures, free, cap)) is int


@pytest.mark.parametrize(
    ("forwarded", "peer", "hops", "expected"),
    [
        ([" 198.51.100.4 , "], "10.0.0.2", 1, "198.51.100.4"),  # blanks and empty hops are dropped
        (["198.51.100.4,,"], "10.0.0.2", 1, "198.51.100.4"),
        (["6.6.6.6, 198.51.100.4"], "10.0.0.2", 2, "6.6.6.6"),
        ([], None, 1, "other-" + hashlib.sha256(b"unknown").hexdigest()[:32]),
        (["198.51.100.4"], None, 0, "other-" + hashlib.sha256(b"unknown").hexdigest()[:32]),
        (["2001:db8::1"], None, 1, "2001:db8::/64"),
        (["2001:db8:0:0:ffff::1"], None, 1, "2001:db8::/64"),
        (["::ffff:198.51.100.4"], None, 1, "198.51.100.4"),
        (["192.0.2.300"], None, 1, "other-" + hashlib.sha256(b"192.0.2.300").hexdigest()[:32]),
        (["\ud800"], None, 1, "other-" + hashlib.sha256("\ud800".encode("utf-8", "surrogatepass")).hexdigest()[:32]),
    ],
)
def test_client_address_edge_cases(forwarded: list[str], peer: str | None, hops: int, expected: str) -> None:
    assert client_address(forwarded, peer, hops) == expected


def test_request_address_reads_names_and_values_as_bytes_or_text_in_any_case() -> None:
    as_bytes = [(b"X-Forwarded-For", b"6.6.6.6"), (b"X-FORWARDED-FOR", b"198.51.100.4")]
    assert request_address(as_bytes, "10.0.0.2", 1, "") == "198.51.100.4"
    assert request_address([("X-Forwarded-For", "198.51.100.4")], "10.0.0.2", 1, "") == "198.51.100.4"
    # Latin-1, as HTTP header bytes are: a byte that is not UTF-8 is still read.
    weird = "other-" + hashlib.sha256("caf\u00e9".encode()).hexdigest()[:32]
    assert request_address([(b"x-client-ip", b"caf\xe9")], None, 1, "X-Client-Ip") == weird
    assert request_address([(b"x-forwarded-for", b"caf\xe9")], None, 1, "") == weird
    # The configured header, trimmed; an empty one counts as absent.
    assert request_address([(b"X-Client-Ip", b" 198.51.100.9 ")], "10.0.0.2", 1, "x-client-ip") == "198.51.100.9"
    assert request_address([(b"x-client-ip", b"  "), (b"x-forwarded-for", b"198.51.100.4")], None, 1,
                           "x-client-ip") == "198.51.100.4"
    # Not configured: a header named like nothing is not taken for it.
    assert request_address([(b"x-client-ip", b"198.51.100.9")], "10.0.0.2", 1, "") == "10.0.0.2"
    # Neither header: the peer.
    assert request_address([(b"host", b"x")], "192.0.2.8", 1, "x-client-ip") == "192.0.2.8"
    # X-Forwarded-For is never taken for the configured header, even when named so.
    assert request_address([(b"x-forwarded-for", b"198.51.100.4")], "10.0.0.2", 1, "x-forwarded-for") == (
        "198.51.100.4"
    )


# --- the throttle's own arguments, against Redis ----------------------------------------------------


@pytest.mark.services
@pytest.mark.redis
def test_registrations_are_counted_per_address_in_their_window(store: redis.Redis) -> None:
    from app.throttle import REGISTRATIONS, registrations_key

    throttle = LoginThrottle(store, Limits(registrations_per_address=2, registration_window_seconds=7))
    address = new_address()
    assert [throttle.register(address) for _ in range(2)] == [throttle.register(new_address())] * 2
    assert throttle.register(new_address()).retry_after_seconds == 0
    refused = throttle.register(address)
    assert (refused.refused, refused.retry_after_seconds) == (REGISTRATIONS, 7)
    assert 6000 < store.pttl(registrations_key(address)) <= 7000


@pytest.mark.services
@pytest.mark.redis
def test_a_success_is_counted_in_its_window_and_makes_the_address_known_for_its_days(store: redis.Redis) -> None:
    from app.throttle import SUCCESSES_ACCOUNT, account_successes_key, known_key

    limits = Limits(per_pair=5, successes_per_account=1, success_window_seconds=7, known_days=2, window_seconds=WINDOW)
    throttle = LoginThrottle(store, limits)
    username, address = new_username(), new_address()
    assert throttle.attempt(username, address).allowed
    assert store.get(pair_key(username, address)) == "1"
    assert 0.9 * WINDOW * 1000 < store.pttl(pair_key(username, address)) <= WINDOW * 1000
    throttle.succeeded(username, address)
    assert store.get(pair_key(username, address)) is None and store.exists(account_key(username)) == 0
    assert store.hget(address_key(address), "n") == "0"
    assert store.zrange(known_key(username), 0, -1) == [address]
    assert 2 * 86400 * 1000 - 5000 < store.pttl(known_key(username)) <= 2 * 86400 * 1000
    assert 6000 < store.pttl(account_successes_key(username)) <= 7000
    refused = throttle.attempt(username, new_address())
    assert (refused.refused, refused.retry_after_seconds) == (SUCCESSES_ACCOUNT, 7)


@pytest.mark.services
@pytest.mark.redis
def test_successes_are_counted_per_address(store: redis.Redis) -> None:
    from app.throttle import SUCCESSES_ADDRESS

    throttle = LoginThrottle(store, Limits(successes_per_address=1, success_window_seconds=7))
    address = new_address()
    throttle.succeeded(new_username(), address)
    assert throttle.attempt(new_username(), new_address()).allowed  # another address: its own count
    refused = throttle.attempt(new_username(), address)
    assert (refused.refused, refused.retry_after_seconds) == (SUCCESSES_ADDRESS, 7)


@pytest.mark.services
@pytest.mark.redis
def test_the_address_delay_has_its_own_allowance_and_cap(store: redis.Redis) -> None:
    from app.throttle import ADDRESS

    limits = Limits(per_pair=100, account_free=50, address_free=3, address_max_delay_seconds=3, window_seconds=WINDOW)
    throttle = LoginThrottle(store, limits)
    address = new_address()
    assert [throttle.attempt(new_username(), address).allowed for _ in range(3)] == [True] * 3
    refused = throttle.attempt(new_username(), address)
    assert (refused.refused, refused.retry_after_seconds) == (ADDRESS, 1)
    seconds, micros = store.time()
    store.hset(address_key(address), mapping={"n": 30, "last": seconds * 1000 + micros // 1000})
    assert throttle.attempt(new_username(), address).retry_after_seconds == 3
    # An undone attempt gives back one to each counter.
    username = new_username()
    other = new_address()
    assert throttle.attempt(username, other).allowed
    throttle.undo(username, other)
    assert store.get(pair_key(username, other)) == "0"
    assert store.hget(address_key(other), "n") == "0"

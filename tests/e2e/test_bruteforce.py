"""Password guessing through the load balancer (3 replicas behind HAProxy, one shared Redis).

Wrong passwords on one account are refused with 429 after the configured number of failures,
whichever replica answers; another account's user still logs in; and rotating a spoofed
X-Forwarded-For does not escape the per-address limit, because the load balancer's own hop is the
one the app counts. The thresholds measured are printed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import redis

from app.settings import Settings
from app.throttle import address_key
from demo.client import AppClient, new_client
from local.environment import LocalEnvironment, throwaway

pytestmark = pytest.mark.e2e

PER_ACCOUNT = Settings.model_fields["login_max_failures_per_account"].default
PER_ADDRESS = Settings.model_fields["login_max_failures_per_address"].default
REPLICAS = 3


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalEnvironment]:
    with throwaway(replicas=REPLICAS, prefix="stateless-bruteforce-") as running:
        yield running


@pytest.fixture(scope="module")
def lb(stack: LocalEnvironment) -> Iterator[httpx.Client]:
    with new_client(stack.lb) as client:
        yield client


def _login(lb: httpx.Client, username: str, password: str, **headers: str) -> httpx.Response:
    return lb.post("/auth/login", json={"username": username, "password": password}, headers=headers)


def _user(stack: LocalEnvironment) -> AppClient:
    user = AppClient(stack.lb)
    user.register()
    return user


def test_guessing_one_password_is_stopped_on_every_replica(
    stack: LocalEnvironment, lb: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    victim, bystander = _user(stack), _user(stack)
    with contextlib.closing(victim), contextlib.closing(bystander):
        failures_served_by: Counter[str] = Counter()
        first_429 = None
        for attempt in range(1, PER_ACCOUNT + 20):
            response = _login(lb, victim.username, f"guess-{attempt}")
            if response.status_code == 429:
                first_429 = response
                break
            assert response.status_code == 401, response.text
            failures_served_by[response.headers["x-instance-id"]] += 1
        assert first_429 is not None, "no 429 after the threshold"
        measured = sum(failures_served_by.values())
        assert measured == PER_ACCOUNT
        # The failures were counted together although several replicas served them.
        assert len(failures_served_by) == REPLICAS, failures_served_by
        assert first_429.headers["content-type"] == "application/json"
        assert first_429.json()["detail"].startswith("too many failed logins for this account")
        retry_after = int(first_429.headers["retry-after"])
        assert 0 < retry_after <= Settings.model_fields["login_failure_window_seconds"].default

        # From now on every replica refuses, even the right password.
        refused_by = Counter(
            r.headers["x-instance-id"]
            for r in (_login(lb, victim.username, victim.password) for _ in range(2 * REPLICAS))
            if r.status_code == 429
        )
        assert sum(refused_by.values()) == 2 * REPLICAS and len(refused_by) == REPLICAS, refused_by

        # Another account's user, from the same address, is not affected.
        assert _login(lb, bystander.username, bystander.password).status_code == 200
        with capsys.disabled():
            print(
                f"\n[brute force] per-account threshold through the load balancer: {measured} failed logins, "
                f"then 429 (Retry-After {retry_after} s); failures served by {dict(failures_served_by)}; "
                f"429 from {len(refused_by)} of {REPLICAS} replicas; another user logged in: 200"
            )


def test_a_spoofed_forwarded_for_does_not_escape_the_address_limit(
    stack: LocalEnvironment, lb: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every client here comes from 127.0.0.1, the hop HAProxy appends; failures it already has
    # (from the account test) count too. A new spoofed hop and username on every attempt.
    store = redis.Redis.from_url(stack.run.services["redis"]["url"], decode_responses=True)
    already = int(store.get(address_key("127.0.0.1")) or 0)
    store.close()
    statuses: list[int] = []
    for attempt in range(PER_ADDRESS + 10):
        spoofed = f"198.51.100.{attempt % 250 + 1}"
        response = _login(lb, f"nobody-{uuid.uuid4().hex[:10]}", "wrong", **{"X-Forwarded-For": spoofed})
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["detail"].startswith("too many failed logins from this address")
            break
    assert statuses[-1] == 429, Counter(statuses)
    measured = already + statuses.count(401)
    assert measured == PER_ADDRESS, (already, Counter(statuses))
    with capsys.disabled():
        print(
            f"\n[brute force] per-address threshold through the load balancer: {measured} failed logins from one "
            f"address ({already} before this test), then 429, although every request carried another spoofed "
            "X-Forwarded-For"
        )

"""Accounts under attack, through the load balancer (3 replicas behind HAProxy, one shared Redis), each
party on a loopback address of its own (127.0.0.2, 127.0.0.3, ...): HAProxy appends that address to
X-Forwarded-For, and that is the address the app's limits count.

An attacker failing 50 times on an account does not lock its owner out; one address flooding
registrations gets 429 while another registers; a token is refused on every replica after a password
change and after sign-out. The figures measured are printed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from app.settings import Settings
from demo.client import new_client
from local.environment import LocalEnvironment, throwaway

pytestmark = pytest.mark.e2e

PER_PAIR = Settings.model_fields["login_max_failures_per_account_and_address"].default
REGISTRATIONS = Settings.model_fields["registration_max_per_address"].default
REPLICAS = 3
PASSWORD = "owner's own passphrase"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalEnvironment]:
    with throwaway(replicas=REPLICAS, prefix="stateless-bruteforce-") as running:
        yield running


@contextlib.contextmanager
def party(stack: LocalEnvironment, address: str) -> Iterator[httpx.Client]:
    """A client whose connections come from `address` (a loopback address)."""
    with new_client(stack.lb, timeout=30, source_address=address) as client:
        yield client


def _register(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/register", json={"username": username, "password": password})


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_an_attacker_failing_50_times_does_not_lock_the_owner_out(
    stack: LocalEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    owner_name = f"owner-{uuid.uuid4().hex[:8]}"
    with party(stack, "127.0.0.2") as owner, party(stack, "127.0.0.3") as attacker, party(
        stack, "127.0.0.4"
    ) as owner_elsewhere:
        assert _register(owner, owner_name).status_code == 201
        answers = [_login(attacker, owner_name, f"guess-{n}") for n in range(50)]
        statuses = Counter(a.status_code for a in answers)
        served_by = Counter(a.headers["x-instance-id"] for a in answers if a.status_code == 401)
        # The attacker's own address is held to the per-(account, address) allowance, on every replica.
        assert statuses == {401: PER_PAIR, 429: 50 - PER_PAIR}, statuses
        assert len(served_by) == REPLICAS, served_by
        refused = answers[-1]
        assert refused.json()["detail"].startswith("too many failed logins for this account from this address")
        assert refused.headers["content-type"] == "application/json" and int(refused.headers["retry-after"]) > 0
        # The attacker cannot get in with the right password either, from that address.
        assert _login(attacker, owner_name, PASSWORD).status_code == 429
        # The owner logs in, from the address they registered from and from one never seen before.
        at_home = _login(owner, owner_name, PASSWORD)
        elsewhere = _login(owner_elsewhere, owner_name, PASSWORD)
        assert at_home.status_code == 200, at_home.text
        assert elsewhere.status_code == 200, elsewhere.text
    with capsys.disabled():
        print(
            f"\n[brute force] attacker at 127.0.0.3, 50 wrong passwords on one account: {dict(statuses)} "
            f"(401s served by {dict(served_by)}); then the owner logged in from 127.0.0.2: "
            f"{at_home.status_code}, and from 127.0.0.4: {elsewhere.status_code}"
        )


def test_one_address_flooding_registrations_gets_429_and_another_registers(
    stack: LocalEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    statuses: list[int] = []
    with party(stack, "127.0.0.5") as flooder:
        taken = f"taken-{uuid.uuid4().hex[:8]}"
        for n in range(REGISTRATIONS + 5):
            # Every fifth one probes a taken name: counted like the rest, answered 409 only within the limit.
            name = taken if n % 5 == 0 else f"flood-{uuid.uuid4().hex[:10]}"
            response = _register(flooder, name)
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused = response
                break
    assert statuses[-1] == 429, Counter(statuses)
    assert len(statuses) == REGISTRATIONS + 1
    assert refused.json()["detail"].startswith("too many registrations from this address")
    assert int(refused.headers["retry-after"]) > 0
    with party(stack, "127.0.0.6") as other:
        assert _register(other, f"someone-{uuid.uuid4().hex[:8]}").status_code == 201
    with capsys.disabled():
        print(
            f"\n[registration flood] 127.0.0.5: {dict(Counter(statuses))} (429 after {REGISTRATIONS} attempts, "
            f"Retry-After {refused.headers['retry-after']} s); 127.0.0.6 registered: 201"
        )


def _refused_everywhere(stack: LocalEnvironment, token: str) -> dict[str, int]:
    """The old token's answer from each replica directly, and through the load balancer."""
    headers = {"Authorization": f"Bearer {token}"}
    seen = {}
    for replica in stack.run.replicas:
        with new_client(replica.url, timeout=10) as direct:
            seen[replica.id] = direct.get("/cart", headers=headers).status_code
    with party(stack, "127.0.0.7") as client:
        for n in range(REPLICAS):
            answer = client.get("/cart", headers=headers)
            seen[f"lb-{n}:{answer.headers['x-instance-id']}"] = answer.status_code
    return seen


@pytest.mark.parametrize("change", ["password", "logout"])
def test_a_token_is_refused_on_every_replica_after_a_password_change_and_after_logout(
    stack: LocalEnvironment, change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"user-{uuid.uuid4().hex[:8]}"
    with party(stack, "127.0.0.8") as user:
        assert _register(user, name).status_code == 201
        token = _login(user, name, PASSWORD).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        before = _refused_everywhere(stack, token)  # every replica has seen (and cached) the user
        assert set(before.values()) == {200}, before
        if change == "password":
            done = user.post(
                "/auth/password", json={"current_password": PASSWORD, "new_password": "a new passphrase"},
                headers=headers,
            )
        else:
            done = user.post("/auth/logout", headers=headers)
        assert done.status_code == 204, done.text
        after = _refused_everywhere(stack, token)
        assert set(after.values()) == {401}, after
    with capsys.disabled():
        print(f"\n[revocation] after {change}: the earlier token was refused by {after}")


def test_the_load_balancer_and_the_app_log_the_same_request_id(stack: LocalEnvironment) -> None:
    with party(stack, "127.0.0.9") as client:
        answer = client.get("/healthz", headers={"X-Request-Id": "chosen-by-the-client"})
    request_id = answer.headers["x-request-id"]
    # HAProxy's id replaces the client's, so the two logs can be joined on it.
    assert request_id != "chosen-by-the-client"
    haproxy_line = stack.log_tail("haproxy", lines=1, containing=(f"request_id={request_id}",))
    assert "/healthz" in haproxy_line, haproxy_line
    replica = answer.headers["x-instance-id"]
    app_line = stack.log_tail(replica, lines=1, containing=(f'"request_id": "{request_id}"',))
    assert '"path": "/healthz"' in app_line, app_line


@pytest.mark.parametrize(("head_kib", "status"), [(60, 200), (70, 400)])
def test_heads_up_to_the_albs_64_kib_reach_the_replica_which_answers_json(
    stack: LocalEnvironment, head_kib: int, status: int
) -> None:
    headers = {f"x-filler-{n}": "f" * 1000 for n in range(head_kib)}
    with party(stack, "127.0.0.10") as client:
        answer = client.get("/healthz", headers=headers)
    assert answer.status_code == status, answer.text[:200]
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-instance-id"].startswith("replica-")

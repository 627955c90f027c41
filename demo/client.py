"""An HTTP client for the reference app, and background traffic that checks sessions as it goes.

`AppClient` speaks the app's API through the load balancer the way a careful client of an ALB does:
the load balancer never replays a request that reached a replica, so a replica that dies answers its
in-flight requests with 502, and the client repeats a request that can safely be repeated (GET, PUT,
DELETE, a POST carrying an Idempotency-Key, and a login) after a 502/503/504 or a broken connection, with a
short back-off that honours Retry-After. `Traffic` runs a few threads, each a user of its own, that
keep changing and reading their carts: every request is recorded (status, latency, replica, and how
many of its attempts failed) and every cart read is compared with what that user put in, so a lost
session shows up as a mismatch, not just as a slower request.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

INSTANCE_HEADER = "X-Instance-Id"
# Answers after which a request that is safe to repeat is tried again (the request did not complete).
RETRYABLE_STATUS = frozenset({502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class ScenarioError(RuntimeError):
    """A step of a scenario did not get the answer the API promises; the message says which."""


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (0 < fraction <= 1) of the values; 0.0 for none."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil without floats drifting
    return ordered[int(rank) - 1]


# Each user of a local environment comes from a loopback address of its own (127.1.0.1, 127.1.0.2, ...:
# Linux routes all of 127.0.0.0/8 to the loopback interface), as users of a real deployment come from
# addresses of their own: the app's per-address abuse limits see many clients, not one.
_SOURCES = itertools.count(1)


def next_source_address() -> str:
    n = next(_SOURCES) % (250 * 250)
    return f"127.1.{n // 250}.{n % 250 + 1}"


def _is_loopback(base_url: str) -> bool:
    host = httpx.URL(base_url).host
    return host == "localhost" or host.startswith("127.")


# A request that has no answer after this long is abandoned, and repeated if it is safe to repeat: a
# replica that froze (a blocked event loop, a stopped process) keeps the requests it was sent until the
# load balancer takes it out of rotation, and a client without a timeout waits with them. Longer than
# the app's own longest bounded wait (a checkout while PostgreSQL stalls: a pool wait, then a query
# abandoned after 5 s, about 8 s in all), so the client never gives up on a clean 503.
REQUEST_TIMEOUT = httpx.Timeout(10.0, connect=2.0)


def new_client(
    base_url: str, timeout: float | httpx.Timeout = REQUEST_TIMEOUT, source_address: str | None = None
) -> httpx.Client:
    """`source_address` binds the client's end of every connection (a loopback address locally)."""
    # Only loopback is ever contacted: proxies from the environment must not capture these requests.
    transport = httpx.HTTPTransport(local_address=source_address) if source_address else None
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False, transport=transport)


@dataclass
class AppClient:
    """One user of the app, through `base_url` (the load balancer)."""

    base_url: str
    username: str = field(default_factory=lambda: f"user-{uuid.uuid4().hex[:10]}")
    password: str = field(default_factory=lambda: f"pw-{uuid.uuid4().hex}")
    timeout: float | httpx.Timeout = field(default_factory=lambda: REQUEST_TIMEOUT)
    token: str | None = None
    instances: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    # Attempts per request when the request is safe to repeat; 1 turns the client's retries off.
    attempts: int = 6
    # Attempts that failed (5xx from the load balancer or a replica, or no answer), retried or not.
    failed_attempts: int = 0
    # The address the user's connections come from; by default a loopback address of its own when the
    # base URL is a loopback one (see `next_source_address`), else the system's choice.
    source_address: str | None = None

    def __post_init__(self) -> None:
        if self.source_address is None and _is_loopback(self.base_url):
            self.source_address = next_source_address()
        self._http = new_client(self.base_url, self.timeout, self.source_address)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, repeated while it failed in a way that left nothing done or is safe to redo."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.requests += 1
        # A login creates nothing: repeating one that failed (a 503 while Redis, which holds its
        # attempt counters, was away) cannot do anything twice.
        repeatable = method.upper() in SAFE_METHODS or "Idempotency-Key" in headers or path == "/auth/login"
        tries = self.attempts if repeatable else 1
        for attempt in range(1, tries + 1):
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                self.failed_attempts += 1
                if attempt == tries:
                    raise
                time.sleep(backoff(attempt, None))
                continue
            instance = response.headers.get(INSTANCE_HEADER)
            if instance:
                self.instances[instance] += 1
            if response.status_code not in RETRYABLE_STATUS:
                return response
            self.failed_attempts += 1
            if attempt == tries:
                return response
            time.sleep(backoff(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")

    def expect(self, response: httpx.Response, status: int, what: str) -> Any:
        if response.status_code != status:
            raise ScenarioError(f"{what}: expected HTTP {status}, got {response.status_code}: {response.text[:200]}")
        return response.json()

    def register(self) -> dict[str, Any]:
        body = {"username": self.username, "password": self.password}
        return self.expect(self.request("POST", "/auth/register", json=body), 201, "register")

    def login(self) -> str:
        body = {"username": self.username, "password": self.password}
        data = self.expect(self.request("POST", "/auth/login", json=body), 200, "log in")
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ScenarioError(f"log in: no access_token in {data}")
        self.token = token
        return token

    def sign_up(self) -> AppClient:
        self.register()
        self.login()
        return self

    def put_item(self, sku: str, quantity: int) -> dict[str, int]:
        data = self.expect(self.request("PUT", f"/cart/items/{sku}", json={"quantity": quantity}), 200, f"put {sku}")
        return cart_items(data)

    def cart(self) -> dict[str, int]:
        return cart_items(self.expect(self.request("GET", "/cart"), 200, "read the cart"))

    def checkout(self, idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.expect(self.request("POST", "/orders", headers=headers), 201, "check out")

    def order(self, order_id: str | int) -> dict[str, Any]:
        return self.expect(self.request("GET", f"/orders/{order_id}"), 200, f"read order {order_id}")

    def wait_order(self, order_id: str | int, status: str = "ready", timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.request("GET", f"/orders/{order_id}")
            if response.status_code == 200:
                last = response.json()
                if last.get("status") == status:
                    return last
                if last.get("status") == "failed":
                    raise ScenarioError(f"order {order_id} failed: {last}")
            time.sleep(0.2)
        raise ScenarioError(f"order {order_id} was not {status} within {timeout:.0f}s (last seen: {last or 'nothing'})")


def backoff(attempt: int, retry_after: str | None) -> float:
    """Exponential from 50 ms, capped at 1 s; a Retry-After in seconds is honoured up to 2 s."""
    wait = min(0.05 * 2 ** (attempt - 1), 1.0)
    if retry_after and retry_after.isdigit():
        wait = max(wait, min(float(retry_after), 2.0))
    return wait


def cart_items(body: Any) -> dict[str, int]:
    """`{"items": [{"sku", "quantity"}]}` -> {sku: quantity}."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise ScenarioError(f"a cart must be an object with an items list, got {str(body)[:200]}")
    items: dict[str, int] = {}
    for item in body["items"]:
        try:
            items[str(item["sku"])] = int(item["quantity"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"a cart item must have sku and quantity, got {item!r}") from exc
    return items


@dataclass
class Sample:
    at: float  # seconds since the traffic started
    method: str
    status: int  # 0 when no HTTP answer came back at all
    latency: float
    instance: str | None
    error: str | None = None
    # Attempts of this request that failed before the answer above (0 without a retry).
    failed_attempts: int = 0

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


@dataclass
class TrafficReport:
    samples: list[Sample]
    mismatches: list[str]
    duration: float
    users: int

    @property
    def sent(self) -> int:
        return len(self.samples)

    @property
    def failed(self) -> int:
        """Requests that failed as the user saw them, after the client's own retries."""
        return sum(1 for s in self.samples if s.failed)

    @property
    def failed_first_attempt(self) -> int:
        """Requests whose first attempt failed: what a client without retries would have seen."""
        return sum(1 for s in self.samples if s.failed_attempts or s.failed)

    @property
    def retried(self) -> int:
        return sum(1 for s in self.samples if s.failed_attempts)

    @property
    def instances(self) -> list[str]:
        return sorted({s.instance for s in self.samples if s.instance})

    def latency(self, fraction: float) -> float:
        return percentile((s.latency for s in self.samples), fraction)

    def failures(self, limit: int = 10) -> list[str]:
        out = []
        for s in self.samples:
            if s.failed:
                out.append(f"t={s.at:.2f}s {s.method} -> {s.status or s.error}")
                if len(out) >= limit:
                    break
        return out

    def figures(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration, 2),
            "users": self.users,
            "requests": self.sent,
            "failed_first_attempt": self.failed_first_attempt,
            "retried": self.retried,
            "failed": self.failed,
            "rps": round(self.sent / self.duration, 1) if self.duration else 0.0,
            "p50_ms": round(self.latency(0.5) * 1000, 1),
            "p99_ms": round(self.latency(0.99) * 1000, 1),
            "max_ms": round(self.latency(1.0) * 1000, 1),
            "replicas_seen": len(self.instances),
            "lost_sessions": len(self.mismatches),
        }


class Traffic:
    """Background users hitting the load balancer until stopped.

    Each user alternates PUT /cart/items/{sku} and GET /cart and keeps its own expected cart. A
    failed write leaves the expectation unknown for that SKU until the next successful write (a
    request can fail after the app applied it), so only a successful read that contradicts a
    successful write counts as a lost session.
    """

    def __init__(
        self,
        base_url: str,
        users: int = 2,
        pause: float = 0.01,
        timeout: float | httpx.Timeout = REQUEST_TIMEOUT,
        attempts: int = 6,
    ) -> None:
        if users < 1:
            raise ValueError("Traffic needs at least one user")
        self.base_url = base_url
        self.attempts = attempts
        self.users = users
        self.pause = pause
        self.timeout = timeout
        self.clients: list[AppClient] = []
        self.expected: list[dict[str, int | None]] = []
        self._samples: list[Sample] = []
        self._mismatches: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._report: TrafficReport | None = None
        self.started_at = 0.0

    def start(self) -> Traffic:
        for _ in range(self.users):
            client = AppClient(self.base_url, timeout=self.timeout).sign_up()
            client.attempts = self.attempts
            self.clients.append(client)
            self.expected.append({})
        self.started_at = time.monotonic()
        for index in range(self.users):
            thread = threading.Thread(target=self._run, args=(index,), name=f"traffic-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def snapshot(self) -> tuple[int, int]:
        """(requests so far, failed so far), for progress lines."""
        with self._lock:
            return len(self._samples), sum(1 for s in self._samples if s.failed)

    def wait_requests(self, count: int, timeout: float = 30.0) -> None:
        """Block until at least `count` more requests have completed."""
        start = self.snapshot()[0]
        deadline = time.monotonic() + timeout
        while self.snapshot()[0] < start + count:
            if time.monotonic() > deadline:
                raise ScenarioError(f"traffic did not complete {count} requests within {timeout:.0f}s")
            time.sleep(0.02)

    def wait_served_by(self, instance: str, since: float, timeout: float = 15.0) -> float:
        """Block until a request started after `since` (time.monotonic()) was answered by `instance`;
        returns how long that took from `since`."""
        deadline = time.monotonic() + timeout
        relative = since - self.started_at
        while True:
            with self._lock:
                hit = next((s for s in self._samples if s.at >= relative and s.instance == instance), None)
            if hit is not None:
                return hit.at - relative
            if time.monotonic() > deadline:
                raise ScenarioError(f"no request reached {instance} within {timeout:.0f}s")
            time.sleep(0.02)

    def stop(self) -> TrafficReport:
        self._stop.set()
        read = self.timeout.read if isinstance(self.timeout, httpx.Timeout) else self.timeout
        for thread in self._threads:
            thread.join((read or 10.0) * self.attempts + 5)
        if self._report is None:
            for client in self.clients:
                client.close()
            with self._lock:
                self._report = TrafficReport(
                    list(self._samples), list(self._mismatches), time.monotonic() - self.started_at, self.users
                )
        return self._report

    def _record(
        self, method: str, started: float, response: httpx.Response | None, error: str | None, failed_attempts: int = 0
    ) -> None:
        sample = Sample(
            at=started - self.started_at,
            method=method,
            status=response.status_code if response is not None else 0,
            latency=time.monotonic() - started,
            instance=response.headers.get(INSTANCE_HEADER) if response is not None else None,
            error=error,
            failed_attempts=failed_attempts,
        )
        with self._lock:
            self._samples.append(sample)

    def _call(self, client: AppClient, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.monotonic()
        before = client.failed_attempts
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            # The last attempt is the request's failure itself, counted by `failed`.
            self._record(f"{method} {path}", started, None, type(exc).__name__, client.failed_attempts - before - 1)
            return None
        retried = client.failed_attempts - before - (1 if response.status_code in RETRYABLE_STATUS else 0)
        self._record(f"{method} {path}", started, response, None, retried)
        return response

    def _run(self, index: int) -> None:
        client = self.clients[index]
        expected = self.expected[index]
        for step in itertools.count():
            if self._stop.is_set():
                return
            if step % 2 == 0:
                sku = f"sku-{index}-{step % 7}"
                quantity = step % 5 + 1
                response = self._call(client, "PUT", f"/cart/items/{sku}", json={"quantity": quantity})
                expected[sku] = quantity if response is not None and response.status_code == 200 else None
            else:
                response = self._call(client, "GET", "/cart")
                if response is not None and response.status_code == 200:
                    self._check(index, expected, response)
            if self.pause:
                self._stop.wait(self.pause)

    def _check(self, index: int, expected: dict[str, int | None], response: httpx.Response) -> None:
        try:
            seen = cart_items(response.json())
        except (ScenarioError, ValueError) as exc:
            with self._lock:
                self._mismatches.append(f"user {index}: unreadable cart: {exc}")
            return
        for sku, quantity in expected.items():
            if quantity is not None and seen.get(sku) != quantity:
                with self._lock:
                    self._mismatches.append(
                        f"user {index}: {sku} expected {quantity}, cart had {seen.get(sku)} "
                        f"(served by {response.headers.get(INSTANCE_HEADER)})"
                    )
                return

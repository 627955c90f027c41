"""Load through the load balancer by route class, without client retries: what the load balancer
answers for each kind of request while a dependency is stalled.

Route classes and what they need:
- cart: GET /cart and PUT /cart/items/{sku} (Redis);
- order_read: GET /orders/{id} (PostgreSQL);
- checkout: PUT a line, then POST /orders with an Idempotency-Key (Redis, then PostgreSQL; SQS only
  later, through the outbox); 409s (another thread's checkout took the line first) are not failures;
- register: POST /auth/register (PostgreSQL, and Redis for the per-address limit);
- login: POST /auth/login (PostgreSQL, and KMS to sign the token), a few times a second.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from demo.client import AppClient

CLASSES = ("cart", "order_read", "checkout", "register", "login")


@dataclass
class Outcome:
    route: str
    status: int  # 0: no answer
    at: float  # seconds since the load started, when the request was sent
    json_503: bool = True
    done: float = 0.0  # when its answer (or the failure) came


@dataclass
class RouteReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def sent(self, route: str, since: float = 0.0, until: float = float("inf")) -> int:
        return sum(1 for o in self.outcomes if o.route == route and since <= o.at < until)

    def failed(self, route: str, since: float = 0.0, until: float = float("inf")) -> int:
        window = [o for o in self.outcomes if o.route == route and since <= o.at < until]
        return sum(1 for o in window if o.status == 0 or o.status >= 500)

    def failed_in_flight(self, route: str, since: float, until: float) -> int:
        """Failures among the requests that were under way at some moment of [since, until)."""
        return sum(
            1
            for o in self.outcomes
            if o.route == route and o.at < until and o.done >= since and (o.status == 0 or o.status >= 500)
        )

    def statuses(self, route: str, since: float = 0.0, until: float = float("inf")) -> Counter[int]:
        return Counter(o.status for o in self.outcomes if o.route == route and since <= o.at < until)

    def table(self, since: float = 0.0, until: float = float("inf")) -> dict[str, str]:
        return {r: f"{self.failed(r, since, until)}/{self.sent(r, since, until)}" for r in CLASSES}


LOGIN_PAUSE = 2.0


class RouteLoad:
    """For each of `users` users, one thread per route class, with no retries: a route class that waits
    on a stalled store does not slow the others down on the client side."""

    def __init__(self, lb_url: str, users: int = 3, pause: float = 0.02) -> None:
        self.lb_url = lb_url
        self.users = [AppClient(lb_url, attempts=1).sign_up() for _ in range(users)]
        self.orders: list[str] = []
        for user in self.users:
            user.put_item("seed", 1)
            self.orders.append(str(user.checkout(str(uuid.uuid4()))["id"]))
        self.pause = pause
        self.report = RouteReport()
        self.placed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(index, route), daemon=True)
            for index in range(users)
            for route in CLASSES
        ]
        self.started_at = 0.0

    def now(self) -> float:
        return time.monotonic() - self.started_at

    def start(self) -> RouteLoad:
        self.started_at = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def answered_since(self, since: float) -> int:
        """The fewest requests started at or after `since` (load time) that any route class has had
        answered (or failed) so far."""
        with self._lock:
            return min(self.report.sent(route, since) for route in CLASSES)

    def stop(self) -> RouteReport:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        for user in self.users:
            user.close()
        return self.report

    def _call(self, route: str, user: AppClient, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        at = self.now()
        try:
            response = user.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError:
            with self._lock:
                self.report.outcomes.append(Outcome(route, 0, at, done=self.now()))
            return None
        json_503 = True
        if response.status_code == 503:
            json_503 = response.headers.get("content-type", "").startswith("application/json") and bool(
                response.headers.get("retry-after")
            )
        with self._lock:
            self.report.outcomes.append(Outcome(route, response.status_code, at, json_503, done=self.now()))
        return response

    def _run(self, index: int, route: str) -> None:
        # Each thread its own client (httpx clients are not shared across threads here), the user's token.
        user = AppClient(self.lb_url, attempts=1, token=self.users[index].token)
        order = self.orders[index]
        step = 0
        try:
            while not self._stop.is_set():
                step += 1
                if route == "cart":
                    self._call(route, user, "PUT", f"/cart/items/c{step % 5}", json={"quantity": step % 4 + 1})
                    self._call(route, user, "GET", "/cart")
                elif route == "order_read":
                    self._call(route, user, "GET", f"/orders/{order}")
                elif route == "checkout":
                    # Its own line in the user's cart, then the checkout (which needs the cart, in Redis).
                    filled = self._call(route, user, "PUT", f"/cart/items/k{step}", json={"quantity": 1})
                    if filled is not None and filled.status_code == 200:
                        placed = self._call(
                            route, user, "POST", "/orders", headers={"Idempotency-Key": str(uuid.uuid4())}
                        )
                        if placed is not None and placed.status_code == 201:
                            with self._lock:
                                self.placed.append(str(placed.json()["id"]))
                elif route == "register":
                    # Each sign-up from an address of its own, as new users come: one address
                    # registering in a loop meets the per-address registration limit (429).
                    body = {"username": f"u{uuid.uuid4().hex[:12]}", "password": f"pw-{uuid.uuid4().hex}"}
                    with contextlib.closing(AppClient(self.lb_url, attempts=1)) as newcomer:
                        self._call(route, newcomer, "POST", "/auth/register", json=body)
                    self._stop.wait(0.1)
                else:
                    owner = self.users[index]
                    body = {"username": owner.username, "password": owner.password}
                    self._call(route, user, "POST", "/auth/login", json=body)
                    # Slow enough to stay within the successful logins one account may make (30 per
                    # 5 minutes) for as long as a test's load runs.
                    self._stop.wait(LOGIN_PAUSE)
                self._stop.wait(self.pause)
        finally:
            user.close()

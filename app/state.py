"""What one web process holds between requests: connections, token service, cart store, relay."""

from __future__ import annotations

from dataclasses import dataclass

from app.cart import AsyncCartStore, CartStore
from app.metrics import Metrics
from app.outbox import Relay
from app.runtime import Runtime
from app.security import TokenService
from app.settings import Settings
from app.throttle import LoginThrottle
from app.users import UserDirectory


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    runtime: Runtime | None = None
    tokens: TokenService = None  # type: ignore[assignment]
    carts: CartStore = None  # type: ignore[assignment]
    # The cart routes' store, on the event loop; `carts` serves checkout (in a thread) and tests.
    acarts: AsyncCartStore = None  # type: ignore[assignment]
    relay: Relay | None = None
    login_throttle: LoginThrottle = None  # type: ignore[assignment]
    users: UserDirectory = None  # type: ignore[assignment]
    # Set when shutdown begins, so /readyz fails and load balancers stop sending new requests.
    draining: bool = False

    def started(self, runtime: Runtime) -> None:
        assert runtime.keys is not None and runtime.redis is not None and runtime.aredis is not None, (
            "a web runtime was expected"
        )
        self.runtime = runtime
        self.tokens = TokenService(
            runtime.keys,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl_seconds=self.settings.access_token_ttl_seconds,
        )
        self.carts = CartStore(runtime.redis, self.settings.cart_ttl_seconds)
        self.acarts = AsyncCartStore(runtime.aredis, self.settings.cart_ttl_seconds)
        self.login_throttle = LoginThrottle(
            runtime.redis,
            per_account=self.settings.login_max_failures_per_account,
            per_address=self.settings.login_max_failures_per_address,
            window_seconds=self.settings.login_failure_window_seconds,
        )
        self.users = UserDirectory(
            runtime.redis, runtime.pool, self.settings.user_cache_ttl_seconds, aclient=runtime.aredis
        )

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None, "the app has not started"
        return self.runtime

"""What one web process holds between requests: connections, token service, cart store, relay."""

from __future__ import annotations

from dataclasses import dataclass

from app.cart import AsyncCartStore, CartStore
from app.metrics import Metrics
from app.outbox import Relay
from app.runtime import Runtime
from app.security import TokenService
from app.settings import Settings
from app.throttle import Limits, LoginThrottle
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
        settings = self.settings
        self.login_throttle = LoginThrottle(
            runtime.redis,
            Limits(
                per_pair=settings.login_max_failures_per_account_and_address,
                account_free=settings.login_failures_before_account_delay,
                address_free=settings.login_failures_before_address_delay,
                account_max_delay_seconds=settings.login_max_delay_account_seconds,
                address_max_delay_seconds=settings.login_max_delay_address_seconds,
                window_seconds=settings.login_failure_window_seconds,
                known_days=settings.login_known_address_days,
                successes_per_account=settings.login_max_successes_per_account,
                successes_per_address=settings.login_max_successes_per_address,
                success_window_seconds=settings.login_success_window_seconds,
                registrations_per_address=settings.registration_max_per_address,
                registration_window_seconds=settings.registration_window_seconds,
            ),
        )
        self.users = UserDirectory(
            runtime.redis, runtime.pool, self.settings.user_cache_ttl_seconds, aclient=runtime.aredis
        )

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None, "the app has not started"
        return self.runtime

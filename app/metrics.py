"""The replica's Prometheus metrics (served at /metrics).

Besides the requests: the process (CPU seconds, resident memory, open file descriptors, start
time: prometheus_client's ProcessCollector, the standard `process_*` names), the Python runtime
(`python_info`, garbage collections), and the dependencies as this replica sees them: the PostgreSQL
pool (connections open, idle, requests waiting, errors), and the Redis clients' circuit breakers
(open or not). A replica that is slow because its pool is exhausted or Redis fails fast shows it here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

# psycopg_pool's get_stats() names (https://www.psycopg.org/psycopg3/docs/advanced/pool.html#pool-stats)
# published as gauges, with what they say.
POOL_STATS = {
    "pool_size": "connections open or being opened",
    "pool_available": "idle connections ready for a request",
    "requests_waiting": "requests waiting for a connection",
}


class Dependencies(Collector):
    """Read at scrape time from the runtime: nothing is counted on the request path."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.runtime.pool.get_stats()
        for name, help_text in POOL_STATS.items():
            yield GaugeMetricFamily(f"db_{name}", f"PostgreSQL pool: {help_text}", value=stats.get(name, 0))
        yield GaugeMetricFamily(
            "db_pool_max", "PostgreSQL pool: most connections it opens", value=self.runtime.pool.max_size
        )
        breakers = GaugeMetricFamily(
            "redis_breaker_open", "1 while a Redis client fails fast after a timeout", labels=["client"]
        )
        for client, breaker in self.runtime.breakers().items():
            breakers.add_metric([client], 1.0 if breaker.is_open() else 0.0)
        yield breakers


class Metrics:
    """Per-app registry, so two apps in one process (tests, rotations) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.outbox_published = Counter(
            "outbox_messages_published_total", "Outbox messages published to SQS", registry=self.registry
        )
        # The labelled children, looked up once per label set: `labels()` validates and locks on every
        # call. The label sets are bounded (route templates, methods the routes accept, statuses).
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._watching = False

    def watch(self, runtime: Any) -> None:
        """Publish the runtime's dependency gauges (once the runtime is open)."""
        if not self._watching:
            self.registry.register(Dependencies(runtime))
            self._watching = True

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request: counted by method, route and status; its latency by method and route."""
        children = self._children.get((method, route, status))
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

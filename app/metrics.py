"""The replica's Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Per-app registry, so two apps in one process (tests, rotations) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request: counted by method, route and status; its latency by method and route."""
        children = self._children.get((method, route, status))
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

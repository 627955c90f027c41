"""The failure of a dependency a request needs, answered per request (503 JSON with Retry-After)."""

from __future__ import annotations


class DependencyUnavailable(Exception):
    """A dependency this route needs did not answer; the request changed nothing and can be repeated."""

    def __init__(self, dependency: str, detail: str = "") -> None:
        super().__init__(detail or f"{dependency} unavailable, retry later")
        self.dependency = dependency

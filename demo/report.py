"""Plain-text tables for the demo's results (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScenarioResult:
    """What the scripted scenario observed through the load balancer."""

    requests: int
    failed: int
    replicas_seen: tuple[str, ...]
    killed: str
    lost_sessions: int
    order_id: str
    order_status: str
    receipt_key: str
    p99_ms: float
    # Requests whose first attempt failed at the load balancer (a replica killed with requests in
    # flight answers them 502, as on an ALB); the client's retries with an Idempotency-Key bring what
    # the user sees, `failed`, to zero.
    failed_first_attempt: int = 0

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("requests sent", str(self.requests)),
            ("failed at the load balancer (first attempt)", str(self.failed_first_attempt)),
            ("failed after the client's retries", str(self.failed)),
            ("replicas seen", f"{len(self.replicas_seen)} ({', '.join(self.replicas_seen) or 'none'})"),
            ("replica killed (SIGKILL)", self.killed),
            ("sessions lost", str(self.lost_sessions)),
            ("p99 latency", f"{self.p99_ms:.1f} ms"),
            ("order id", self.order_id),
            ("order status", self.order_status),
            ("receipt key", self.receipt_key),
        ]


def verdicts_cell(summaries: Sequence[Any]) -> str:
    """`dev PASS 0/4, prod FAIL 1/0 (mandatory/advisory)` from plan summaries."""
    cells = [f"{p.stack} {'PASS' if p.mandatory == 0 else 'FAIL'} {p.mandatory}/{p.advisory}" for p in summaries]
    return ", ".join(cells) + " (mandatory/advisory)"


def render_table(rows: Sequence[tuple[str, str]], *, title: str | None = None) -> str:
    """A two-column box table; every cell is shown whole (no truncation), newlines are refused."""
    for key, value in rows:
        if "\n" in key or "\n" in value:
            raise ValueError(f"table cells must be one line, got {key!r}: {value!r}")
    left = max((len(k) for k, _ in rows), default=0)
    right = max((len(v) for _, v in rows), default=0)
    if title is not None:
        right = max(right, len(title) - left - 3)
    border = f"+-{'-' * left}-+-{'-' * right}-+"
    lines = [border]
    if title is not None:
        lines.append(f"| {title.ljust(left + right + 3)} |")
        lines.append(border)
    lines += [f"| {k.ljust(left)} | {v.ljust(right)} |" for k, v in rows]
    lines.append(border)
    return "\n".join(lines)

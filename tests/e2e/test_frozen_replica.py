"""A replica frozen under load (SIGSTOP for 25 s, every process of it), through HAProxy with the target
group's health checks: it costs requests only until the load balancer takes it out of rotation, the
clients' timeouts and safe retries hide even those, and once thawed it is back in rotation, the same
process (the event-loop watchdog does not mistake a stopped process for a blocked loop).

Two kinds of client at once: one that never retries (what the load balancer alone gives) and the
demo's, which abandons a request after its timeout and repeats what is safe to repeat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from demo.client import Traffic
from local import procs
from local.environment import LocalEnvironment, throwaway

pytestmark = pytest.mark.e2e

FROZEN_SECONDS = 25.0
CLIENT_TIMEOUT = httpx.Timeout(2.0, connect=2.0)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalEnvironment]:
    with throwaway(replicas=3, prefix="stateless-frozen-") as running:
        yield running


def _state_line(stack: LocalEnvironment, replica_id: str, state: str) -> bool:
    return bool(stack.log_tail("haproxy", lines=1, containing=(f"{replica_id} is {state}",)).strip())


def _wait(check: object, what: str, timeout: float) -> float:
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic()


@contextlib.contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def test_a_replica_frozen_for_25_s_costs_requests_only_until_it_is_out_of_rotation(
    stack: LocalEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = stack.run.replicas[0]
    pids = procs.process_tree(victim.pid)
    bare = Traffic(stack.lb, users=2, pause=0.01, timeout=CLIENT_TIMEOUT, attempts=1).start()
    careful = Traffic(stack.lb, users=3, pause=0.01, timeout=CLIENT_TIMEOUT).start()
    try:
        careful.wait_requests(60)
        assert not _state_line(stack, victim.id, "DOWN")
        stopped = time.monotonic()
        with frozen(pids):
            down = _wait(lambda: _state_line(stack, victim.id, "DOWN"), f"{victim.id} marked down", FROZEN_SECONDS)
            time.sleep(max(0.0, stopped + FROZEN_SECONDS - time.monotonic()))
        thawed = time.monotonic()
        up = _wait(lambda: _state_line(stack, victim.id, "UP"), f"{victim.id} back in rotation", 60)
        careful.wait_requests(60)
    finally:
        bare_report = bare.stop()
        report = careful.stop()

    # Relative to the traffic's own clock, as the samples are.
    stop_at = stopped - bare.started_at
    down_at = down - bare.started_at
    failed = [s for s in bare_report.samples if s.failed]
    assert failed, "the frozen replica cost the bare clients nothing: it was never sent a request"
    # Every failure was a request the frozen replica was given before the load balancer took it out.
    assert all(stop_at - 1.0 <= s.at <= down_at for s in failed), [(round(s.at - stop_at, 2), s.status) for s in failed]
    # The careful clients abandoned those after their timeout and repeated them elsewhere: nothing lost.
    assert report.failed == 0, report.failures()
    # A request the frozen replica had not started on is refused when it thaws (too old: app/edge.py),
    # so no write arrives late over a newer one, except one that was already inside the app at the
    # instant of the freeze: at most one per user, as each user has one request in flight.
    late_writes = report.mismatches + bare_report.mismatches
    assert len(late_writes) <= careful.users + bare.users, late_writes
    # Thawed, the same process answers again: the watchdog saw a stopped process, not a stuck loop.
    assert stack.replica_running(victim.id)
    assert victim.id in {s.instance for s in report.samples if s.at > up - careful.started_at}

    figures = {
        "out_of_rotation_after_s": round(down - stopped, 1),
        "bare_failed": len(failed),
        "bare_requests": bare_report.sent,
        "bare_failing_for_s": round(max(s.at for s in failed) + CLIENT_TIMEOUT.read - stop_at, 1),  # type: ignore[operator]
        "retrying_failed_first_attempt": report.failed_first_attempt,
        "retrying_failed": report.failed,
        "retrying_requests": report.sent,
        "back_in_rotation_after_thaw_s": round(up - thawed, 1),
        "p99_ms": report.figures()["p99_ms"],
        "late_writes": len(late_writes),
    }
    with capsys.disabled():
        print(f"\n[frozen replica] SIGSTOP {victim.id} for {FROZEN_SECONDS:.0f} s under load: {figures}")

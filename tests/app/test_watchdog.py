"""The event-loop watchdog: a loop that stops turning ends the process; a stopped process does not."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.watchdog import EXIT_STATUS, Stall, Watchdog
from tests.app.support import AppServer


def test_a_loop_that_keeps_beating_is_never_stalled() -> None:
    stall = Stall(interval=1.0)
    assert [stall.observe(float(t), beats=t) for t in range(10)] == [0.0] * 10


def test_time_without_a_beat_adds_up_while_the_watchdog_is_awake() -> None:
    stall = Stall(interval=1.0)
    assert stall.observe(0.0, 5) == 0.0
    assert stall.observe(1.0, 5) == 1.0
    assert stall.observe(2.1, 5) == 2.1
    # One beat resets it.
    assert stall.observe(3.0, 6) == 0.0
    assert stall.observe(4.0, 6) == 1.0


def test_a_freeze_of_the_whole_process_is_not_counted() -> None:
    # SIGSTOP for 25 s: the watchdog's own one-second sleep lasted 25 s, so it was frozen too.
    stall = Stall(interval=1.0)
    stall.observe(0.0, 5)
    assert stall.observe(25.0, 5) == 0.0
    # A sleep overrun just within the margin (2 x interval + 1 s) still counts.
    assert stall.observe(28.0, 5) == 3.0
    assert stall.observe(31.1, 5) == 3.0


def test_a_blocked_loop_makes_the_watchdog_exit_with_its_status() -> None:
    exited = threading.Event()
    statuses: list[int] = []

    def fake_exit(status: int) -> None:
        statuses.append(status)
        exited.set()

    async def main() -> None:
        watchdog = Watchdog(asyncio.get_running_loop(), limit=0.3, interval=0.1, exit=fake_exit).start()
        await asyncio.sleep(0.3)  # beating: nothing happens
        assert not exited.is_set()
        time.sleep(1.5)  # the loop blocked
        watchdog.stop()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert exited.wait(5)
    assert statuses == [EXIT_STATUS]


def test_a_stopped_watchdog_does_nothing() -> None:
    statuses: list[int] = []

    async def main() -> None:
        watchdog = Watchdog(asyncio.get_running_loop(), limit=0.2, interval=0.05, exit=statuses.append).start()
        watchdog.stop()
        time.sleep(0.6)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert statuses == []


@pytest.mark.services
def test_the_app_runs_its_watchdog_while_it_serves_and_stops_it_at_shutdown(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any]
) -> None:
    def watchdogs() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "loop-watchdog" and t.is_alive()]

    before = len(watchdogs())
    with AppServer(make_settings(module_db, module_aws, event_loop_watchdog_seconds=30)) as server:
        assert server.client.get("/healthz").status_code == 200
        assert len(watchdogs()) == before + 1
    deadline = time.monotonic() + 5
    while len(watchdogs()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(watchdogs()) == before

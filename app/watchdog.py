"""The event-loop watchdog: a replica whose event loop stops turning exits, so it is restarted.

A replica whose loop is blocked (a CPU-bound bug, a C call that never returns, a deadlock on the
loop) accepts connections and answers nothing. The load balancer takes it out of rotation after its
health checks fail (about 10 s, app/README.md), but it stays out, dead, until someone restarts it.
The watchdog turns such a freeze into an exit: a thread of its own, outside the loop, sees the
loop's heartbeat (a callback the loop runs every `BEAT_SECONDS`) stop for `limit` seconds and ends
the process with `EXIT_STATUS`; the supervisor (Docker's restart policy on instances, the kubelet,
the autoscaling group's health check) starts a fresh one.

A freeze of the whole process is not the loop's fault and is left alone: when the watchdog's own
sleep overran (SIGSTOP, a paused VM or container, a throttled cgroup), both it and the loop were
stopped, so the time that passed is not counted. Only time the watchdog was awake to see counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("app.watchdog")

BEAT_SECONDS = 0.5
EXIT_STATUS = 70  # EX_SOFTWARE (sysexits.h): an internal error


class Stall:
    """How long the loop has been seen not beating, from the watchdog's own observations.

    `observe(now, beats)` is called every `interval` seconds with the monotonic time and the loop's
    beat counter; it returns the seconds the loop has been stalled while the watchdog was awake."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stalled = 0.0
        self._last_at: float | None = None
        self._last_beats = -1

    def observe(self, now: float, beats: int) -> float:
        previous_at, previous_beats = self._last_at, self._last_beats
        self._last_at, self._last_beats = now, beats
        if previous_at is None or beats != previous_beats:
            self.stalled = 0.0
            return self.stalled
        elapsed = now - previous_at
        if elapsed > 2 * self.interval + 1:
            # The watchdog itself did not run on time: the whole process was stopped, not the loop.
            return self.stalled
        self.stalled += elapsed
        return self.stalled


class Watchdog:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: float,
        *,
        interval: float = 1.0,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.loop = loop
        self.limit = limit
        self.interval = interval
        self.beats = 0
        self._exit = exit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._handle: asyncio.TimerHandle | None = None

    def _beat(self) -> None:
        self.beats += 1
        self._handle = self.loop.call_later(BEAT_SECONDS, self._beat)

    def start(self) -> Watchdog:
        """Call on the loop's thread."""
        self._beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()

    def _watch(self) -> None:
        stall = Stall(self.interval)
        while not self._stop.wait(self.interval):
            stalled = stall.observe(time.monotonic(), self.beats)
            if stalled >= self.limit:
                # The loop cannot log (the handlers write from it); stderr is written directly.
                what = f"event loop stalled for {stalled:.0f} s; exiting"
                message = json.dumps({"level": "error", "logger": "app.watchdog", "msg": what})
                try:
                    sys.stderr.write(message + "\n")
                    sys.stderr.flush()
                finally:
                    self._exit(EXIT_STATUS)
                return

"""What every part of the local environment is: a loopback server in a process group of its own.

`Service` knows where a part answers, which process it is, and how to stop and start it again on the
same port and data (the fault tests restart parts); `launch_on_port` spawns one and waits, bounded,
until it answers. The parts themselves live one per module: `postgres`, `redis`, `moto`, `haproxy`,
`app_process`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from local import procs

READY_TIMEOUT = 30.0


class ServiceError(RuntimeError):
    """A service could not be started; the message names the service and the cause."""


@dataclass
class Service:
    """A running service: where it answers, which process it is, how to stop and start it again."""

    name: str
    port: int
    url: str
    base_dir: Path
    log_path: Path
    _launch: Callable[[], subprocess.Popen[bytes]] = field(repr=False)
    stop_signal: int = signal.SIGTERM
    details: dict[str, Any] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    identity: procs.Identity | None = None
    # Run after every (re)start, e.g. to recreate what an in-memory server forgot.
    after_start: list[Callable[[Service], None]] = field(default_factory=list, repr=False)

    @property
    def pid(self) -> int:
        if self.identity is None:
            raise ServiceError(f"{self.name} is not running")
        return self.identity.pid

    def start(self) -> Service:
        if self.running:
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        self._proc = self._launch()
        self.identity = procs.identify(self._proc.pid)
        try:
            for hook in self.after_start:
                hook(self)
        except Exception as exc:
            self.stop(kill=True)
            raise ServiceError(f"{self.name}: set-up after start failed: {exc}") from exc
        return self

    @property
    def running(self) -> bool:
        return self.identity is not None and procs.owned(self.identity)

    def stop(self, *, kill: bool = False, timeout: float = 15.0) -> None:
        """Stop the whole process group: gracefully, or with SIGKILL to simulate a crash. Idempotent."""
        if self.identity is not None and procs.owned(self.identity):
            procs.stop_group(self.pid, first=signal.SIGKILL if kill else self.stop_signal, timeout=timeout)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
        self._proc = None
        self.identity = None

    def restart(self, *, kill: bool = False) -> Service:
        """Stop and start again on the same port and data directory."""
        self.stop(kill=kill)
        return self.start()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def require_binary(binary: str, package: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise ServiceError(f"{binary} is not installed: run `apt-get install {package}`")
    return path


def log_path_of(base_dir: Path, name: str) -> Path:
    return base_dir / "logs" / f"{name}.log"


def launch_on_port(
    name: str,
    port: int | None,
    argv: list[str],
    *,
    log_path: Path,
    ready: Callable[[], bool],
    what: str | None = None,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    hint: str = "",
) -> subprocess.Popen[bytes]:
    """Spawn a loopback server on `port` (None: a part without one, such as the worker) and wait, bounded,
    until `ready()`; a failed start leaves nothing running and says which part failed and why."""
    if port is not None and not procs.port_is_free(port):
        raise ServiceError(f"{name}: port {port} on 127.0.0.1 is already in use")
    try:
        proc = procs.spawn(argv, log_path=log_path, env=env, cwd=cwd)
    except procs.ProcessError as exc:
        raise ServiceError(f"{name}: {exc}") from exc
    try:
        procs.wait_for(ready, what=what or name, timeout=timeout, proc_pid=proc.pid, log_path=log_path)
    except procs.ProcessError as exc:
        kill_quietly(proc)
        # The part's name leads the message once.
        raise ServiceError(f"{exc}{hint}" if what is None else f"{name}: {exc}{hint}") from exc
    return proc


def kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(procs.ProcessError):
        procs.stop_group(proc.pid, first=signal.SIGKILL, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1)

"""Process plumbing for the local environment.

Creates nothing by itself: it spawns processes in their own session (so they outlive the
command that started them), records who a pid belongs to, and stops process groups.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ProcessError(RuntimeError):
    """A process could not be started, identified or stopped."""


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (and `bind(0)`): Linux's ip_local_port_range,
    32768-60999 unless the machine says otherwise."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral range.

    A port from `bind(0)` lies in the range the kernel also hands to outgoing connections, so between
    the pick and the server's bind any client on the machine (a test's HTTP client, a driver's pool) can
    take it as its source port and the server fails with "already in use". Ports outside the range are
    never given out that way: below it (from half its start), or above it when the machine's range
    starts too low to leave room; the kernel's own pick when it spans every port. The ones this process
    handed out are not handed out again."""
    low, high = ephemeral_range()
    first, last = max(1024, low // 2), low
    if last - first < 1000:
        first, last = high + 1, 65536
    if last - first < 1000:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for _ in range(200):
        port = random.randrange(first, last)  # noqa: S311 - spreading picks, not a secret
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise ProcessError(f"no free port on 127.0.0.1 between {first} and {last - 1}")


def port_is_free(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:port now (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Identity:
    """What a pid was when it was recorded: pids are recycled, start times are not."""

    pid: int
    start_ticks: int
    cmdline: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "start_ticks": self.start_ticks, "cmdline": list(self.cmdline)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Identity:
        pid, ticks, cmd = data.get("pid"), data.get("start_ticks"), data.get("cmdline")
        if not isinstance(pid, int) or not isinstance(ticks, int) or not isinstance(cmd, list):
            raise ValueError(f"malformed process record: {dict(data)!r}")
        return cls(pid=pid, start_ticks=ticks, cmdline=tuple(str(part) for part in cmd))


def _read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot), or None when there is no such pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    return rest[0], int(rest[19])


def _read_cmdline(pid: int) -> tuple[str, ...]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _reap(pid: int) -> None:
    # A child of this process that died stays a zombie until waited for; nobody else can reap it.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(pid: int) -> bool:
    """True when pid is a live process; a zombie (dead, not yet reaped) counts as gone."""
    _reap(pid)
    stat = _read_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def identify(pid: int, *, settle: float = 1.0) -> Identity:
    """What pid is now. Just after exec the kernel may still show an empty command line, so wait
    up to `settle` seconds for one to appear."""
    deadline = time.monotonic() + settle
    while True:
        stat = _read_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            raise ProcessError(f"process {pid} is not running")
        cmdline = _read_cmdline(pid)
        if cmdline or time.monotonic() >= deadline:
            return Identity(pid=pid, start_ticks=stat[1], cmdline=cmdline)
        time.sleep(0.005)


def same_process(recorded: Identity, current: Identity | None) -> bool:
    """Pure check: is `current` (what /proc shows now) the process that was recorded?

    The start time is what makes this safe against a recycled pid. The command line is compared too,
    except when /proc shows none (a process just exec'd or on its way out).
    """
    if current is None or current.pid != recorded.pid:
        return False
    if current.start_ticks != recorded.start_ticks:
        return False
    return not current.cmdline or not recorded.cmdline or current.cmdline == recorded.cmdline


def owned(recorded: Identity) -> bool:
    """True when the recorded process is still running and is still the same process."""
    if not is_running(recorded.pid):
        return False
    try:
        current = identify(recorded.pid)
    except ProcessError:
        return False
    return same_process(recorded, current)


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv in a new session (its own process group), output appended to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        except FileNotFoundError as exc:
            raise ProcessError(f"cannot run {argv[0]}: {exc.strerror}") from exc


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        # Not a group leader we may signal (should not happen for our own sessions): fall back to the pid.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        if int(rest[2]) == pgid and rest[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (PostgreSQL's backends each run in a session of their own, so the
    postmaster's process group alone does not hold them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def stop_group(pid: int, *, first: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Send `first` to the process group led by pid, then SIGKILL whatever is left after timeout.

    Returns once no live process remains in the group, so a port or data directory is free again.
    """
    _signal_group(pid, first)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid) and not group_members(pid):
            return
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not is_running(pid) and not group_members(pid):
            return
        time.sleep(0.05)
    raise ProcessError(f"process group {pid} survived SIGKILL")


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty log)"


def wait_for(
    check: Callable[[], object],
    *,
    what: str,
    timeout: float,
    proc_pid: int | None = None,
    log_path: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Poll check() until it returns truthy; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            if check():
                return
        except Exception as exc:  # any failure to answer is "not ready yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if proc_pid is not None and not is_running(proc_pid):
            detail = f"\n--- {log_path} ---\n{tail(log_path)}" if log_path else ""
            raise ProcessError(f"{what} exited before it was ready{detail}")
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            logs = f"\n--- {log_path} ---\n{tail(log_path)}" if log_path else ""
            raise ProcessError(f"{what} was not ready within {timeout:.0f}s{detail}{logs}")
        time.sleep(interval)

"""A throwaway local environment for the fault suite and the benchmarks, and a description of the
machine they ran on.

`throwaway(replicas=3)` runs `local.env.up` in a temporary state directory and yields a `Stack`: the
run record plus the operations the faults need (restart a replica, restart the worker, heal). It
always ends with `local.env.down` and removes the directory.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

# HAProxy's log lines about servers going in and out of rotation.
HAPROXY_STATE = (" is UP", " is DOWN", "no server available")


def status_of(url: str, timeout: float = 3.0) -> int:
    """HTTP status of a GET on url, 0 when nothing answered."""
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as http:
            return http.get(url).status_code
    except httpx.HTTPError:
        return 0


def machine() -> dict[str, Any]:
    """What the figures depend on: CPUs, memory, Python, kernel."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "note": "load generator, HAProxy, replicas, worker and stores share these CPUs",
    }


def rss_kib(pid: int) -> int:
    """Resident set size of one process (VmRSS from /proc/<pid>/status), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")


@dataclass
class Stack:
    """A running local environment; `run` is replaced whenever a part restarts on a new pid."""

    run: Any  # local.runinfo.RunInfo
    state_dir: Path

    @property
    def lb(self) -> str:
        return str(self.run.lb_url)

    def replica_running(self, replica_id: str) -> bool:
        from local import procs

        replica = self.run.replica(replica_id)
        identity = self.run.identities.get(replica_id)
        return identity is not None and identity.pid == replica.pid and procs.owned(identity)

    def kill_replica(self, replica_id: str, sig: int) -> None:
        from local import env

        env.kill_replica(self.run, replica_id, sig, timeout=30)

    def start_replica(self, replica_id: str) -> None:
        from local import env

        self.run = env.start_replica(self.run, replica_id, state_dir=self.state_dir)

    def restart_replica(self, replica_id: str, sig: int) -> None:
        self.kill_replica(replica_id, sig)
        self.start_replica(replica_id)

    def app_env(self, instance_id: str = "worker") -> dict[str, str]:
        if not self.run.app_env:
            raise RuntimeError("the run does not record the app's environment")
        return {**self.run.app_env, "APP_INSTANCE_ID": instance_id}

    def worker_running(self) -> bool:
        from local import procs

        identity = self.run.identities.get("worker")
        return identity is not None and procs.owned(identity)

    def stop_worker(self, *, kill: bool = False) -> None:
        from local import env

        env.stop_role(self.run, "worker", kill=kill)

    def start_worker(self) -> None:
        from local import env

        service = env.app_process("worker", env.worker_command(), self.app_env(), self.state_dir, url=None, timeout=60)
        service.start()
        assert service.identity is not None
        self.adopt_worker(service.identity)

    def adopt_worker(self, identity: Any) -> None:
        from local import runinfo

        self.run = replace(self.run, worker_pid=identity.pid, identities={**self.run.identities, "worker": identity})
        runinfo.write(self.state_dir, self.run)

    def restart_service(self, name: str, *, down_for: float = 0.0, kill: bool = False) -> None:
        from local import env

        self.run = env.restart_service(self.run, name, down_for=down_for, kill=kill, state_dir=self.state_dir)

    def log_tail(self, name: str, lines: int = 12, containing: tuple[str, ...] = ()) -> str:
        """The end of one part's log (haproxy, replica-1, worker, ...), optionally only the lines
        holding one of `containing`, for failure messages."""
        try:
            text = (self.state_dir / "logs" / f"{name}.log").read_text(errors="replace")
        except OSError:
            return f"(no {name} log)"
        kept = [line for line in text.splitlines() if not containing or any(c in line for c in containing)]
        return "\n".join(kept[-lines:])

    def heal(self, timeout: float = 30.0) -> None:
        """Bring back whatever an earlier step left stopped, and wait for the load balancer."""
        import time

        for replica in self.run.replicas:
            if not self.replica_running(replica.id):
                self.start_replica(replica.id)
        if not self.worker_running():
            self.start_worker()
        deadline = time.monotonic() + timeout
        while status_of(self.lb + "/readyz") != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the load balancer was not ready within {timeout:.0f}s")
            time.sleep(0.05)


@contextlib.contextmanager
def throwaway(replicas: int = 3, *, durable: bool = False, prefix: str = "stateless-") -> Iterator[Stack]:
    """`local up` in a directory of its own (not pytest's numbered temp dirs, which a concurrent pytest
    run may prune while PostgreSQL still uses them); down and removed afterwards."""
    from local import env

    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        try:
            run = env.up(replicas=replicas, state_dir=state_dir, durable=durable)
        except env.UpError as exc:
            # A free port found a moment ago can be taken by another program on a busy machine before
            # the server binds it; `up` stopped everything, so once more from scratch.
            if "already in use" not in str(exc):
                raise
            run = env.up(replicas=replicas, state_dir=state_dir, durable=durable)
        try:
            yield Stack(run, state_dir)
        finally:
            env.down(state_dir=state_dir)
    finally:
        # STATELESS_KEEP_STATE=1 keeps the logs and data for a post-mortem.
        if os.environ.get("STATELESS_KEEP_STATE") == "1":
            print(f"kept the local environment's state and logs in {state_dir}", flush=True)
        else:
            shutil.rmtree(state_dir, ignore_errors=True)

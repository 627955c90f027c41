"""A running local environment and what can be done to it: the one handle the demo, the benchmarks and
the fault tests drive.

`LocalEnvironment.up(...)` runs `env.up` and returns the handle; `throwaway(replicas=3)` does so in a
directory of its own and always ends with `env.down` and removes the directory. The handle holds the
run record (replaced whenever a part restarts on a new pid, and written back to run.json) and the fault
operations: kill, stop and start a replica or the worker, restart or stall a store, rotate the app's
database password, and `heal` to bring back whatever a step left stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import env, haproxy, probe, procs, rotation
from local.runinfo import RunInfo


@dataclass
class LocalEnvironment:
    run: RunInfo
    state_dir: Path

    @classmethod
    def up(cls, *, state_dir: Path = env.DEFAULT_STATE_DIR, **kwargs: Any) -> LocalEnvironment:
        """`python -m local up` as a library call (same arguments as `env.up`)."""
        state_dir = Path(state_dir).absolute()
        return cls(env.up(state_dir=state_dir, **kwargs), state_dir)

    def down(self, timeout: float = 10.0) -> list[str]:
        return env.down(state_dir=self.state_dir, timeout=timeout)

    @property
    def lb(self) -> str:
        return str(self.run.lb_url)

    def status(self) -> list[env.PartStatus]:
        return env.status(state_dir=self.state_dir)[1]

    def app_env(self, instance_id: str = "worker") -> dict[str, str]:
        """The app's configuration as `up` gave it to its processes (for an extra worker, a client)."""
        if not self.run.app_env:
            raise RuntimeError("the run does not record the app's environment")
        return {**self.run.app_env, "APP_INSTANCE_ID": instance_id}

    # --- replicas and the worker

    def replica_running(self, replica_id: str) -> bool:
        replica = self.run.replica(replica_id)
        identity = self.run.identities.get(replica_id)
        return identity is not None and identity.pid == replica.pid and procs.owned(identity)

    def kill_replica(self, replica_id: str, sig: int = signal.SIGKILL, *, timeout: float = 30.0) -> None:
        env.kill_replica(self.run, replica_id, sig, timeout=timeout)

    def start_replica(self, replica_id: str) -> None:
        self.run = env.start_replica(self.run, replica_id, state_dir=self.state_dir)

    def restart_replica(self, replica_id: str, sig: int = signal.SIGTERM) -> None:
        self.kill_replica(replica_id, sig)
        self.start_replica(replica_id)

    def rolling_restart(
        self,
        back_in_rotation: Callable[[str, float], object],
        *,
        sig: int = signal.SIGTERM,
        before_each: Callable[[str], object] | None = None,
    ) -> dict[str, float]:
        """Restart every replica in turn, each only once the previous one is back in rotation:
        `back_in_rotation(replica_id, since)` waits (raising when it gives up) until the load balancer
        routes to the replacement again. Returns the seconds each replica was out; a replica that does
        not come back fails with HAProxy's server-state lines attached."""
        back: dict[str, float] = {}
        for replica in self.run.replicas:
            if before_each is not None:
                before_each(replica.id)
            began = time.monotonic()
            self.restart_replica(replica.id, sig)
            try:
                back_in_rotation(replica.id, time.monotonic())
            except Exception as exc:
                states = self.log_tail("haproxy", containing=haproxy.STATE_CHANGES)
                raise type(exc)(f"{exc}\n--- haproxy server states ---\n{states}") from exc
            back[replica.id] = round(time.monotonic() - began, 2)
        return back

    def worker_running(self) -> bool:
        identity = self.run.identities.get("worker")
        return identity is not None and procs.owned(identity)

    def stop_worker(self, *, kill: bool = False) -> str:
        return env.stop_role(self.run, "worker", kill=kill)

    def start_worker(self) -> None:
        self.run = env.start_worker(self.run, state_dir=self.state_dir)

    # --- the stores

    def restart_service(self, name: str, *, down_for: float = 0.0, kill: bool = False) -> None:
        """Stop PostgreSQL or Redis (SIGKILL with kill=True), stay down `down_for` seconds, start it again."""
        self.run = env.restart_service(self.run, name, down_for=down_for, kill=kill, state_dir=self.state_dir)

    @contextlib.contextmanager
    def stalled(self, name: str) -> Iterator[None]:
        """SIGSTOP one store (every process of it) for the body's duration, SIGCONT afterwards whatever
        happens: the store keeps its connections open and answers nothing, like a paused host."""
        pids = procs.process_tree(int(self.run.services[name]["pid"]))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def rotate_db_password(self, *, terminate_sessions: bool = False) -> rotation.Rotation:
        return rotation.rotate(self.run, terminate_sessions=terminate_sessions)

    # --- looking and healing

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
        for replica in self.run.replicas:
            if not self.replica_running(replica.id):
                self.start_replica(replica.id)
        if not self.worker_running():
            self.start_worker()
        procs.wait_for(lambda: probe.ready(self.lb), what=f"{self.lb}/readyz through HAProxy", timeout=timeout,
                       interval=0.05)


@contextlib.contextmanager
def throwaway(replicas: int = 3, *, durable: bool = False, prefix: str = "stateless-") -> Iterator[LocalEnvironment]:
    """`local up` in a directory of its own (not pytest's numbered temp dirs, which a concurrent pytest
    run may prune while PostgreSQL still uses them); down and removed afterwards."""
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
            yield LocalEnvironment(run, state_dir)
        finally:
            env.down(state_dir=state_dir)
    finally:
        # STATELESS_KEEP_STATE=1 keeps the logs and data for a post-mortem.
        if os.environ.get("STATELESS_KEEP_STATE") == "1":
            print(f"kept the local environment's state and logs in {state_dir}", flush=True)
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


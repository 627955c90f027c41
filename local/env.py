"""The whole local environment, as library functions (``python -m local`` is a thin CLI over them).

``up`` creates, under the state directory (``.local/`` at the repository root by default):
PostgreSQL, Redis and a moto server (with the receipts bucket, the work queue and its DLQ), N app
replicas, the worker and HAProxy in front, then records them in ``run.json``. Every process runs in
its own session, so the environment outlives the command that started it; ``down`` stops exactly the
recorded processes, after checking each pid still is the process that was started.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from local import app_process as apps
from local import haproxy, moto, postgres, probe, procs, redis, runinfo
from local.runinfo import Replica, RunInfo
from local.service import Service, ServiceError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
DEFAULT_REPLICAS = 3
MAX_REPLICAS = 32
# The local cluster's superuser stands in for the RDS master user.
MASTER_USER = "postgres"


class UpError(RuntimeError):
    """`up` failed; everything it had started has been stopped again."""


class AlreadyUpError(RuntimeError):
    """A previous `up` is still running in this state directory."""


@dataclass(frozen=True)
class PartStatus:
    role: str
    pid: int
    running: bool
    answers: bool
    detail: str

    @property
    def ok(self) -> bool:
        return self.running and self.answers


# --- pieces -----------------------------------------------------------------------------------------


def generate_master_password() -> str:
    """The local cluster's master password (RDS generates and keeps its own in Secrets Manager)."""
    return secrets.token_urlsafe(24)


class _Ports:
    """Free ports that are also distinct from each other (a closed probe socket reserves nothing)."""

    def __init__(self) -> None:
        self.taken: set[int] = set()

    def take(self) -> int:
        while True:
            port = procs.free_port()
            if port not in self.taken:
                self.taken.add(port)
                return port


# --- up ---------------------------------------------------------------------------------------------


def _check_not_running(state_dir: Path) -> None:
    try:
        previous = runinfo.read(state_dir)
    except runinfo.RunFileError as exc:
        raise AlreadyUpError(
            f"{exc}; run `python -m local down` (it stops what it can verify) or remove {state_dir}"
        ) from exc
    if previous is None:
        return
    alive = [role for role, pid in previous.pids().items() if _verified(previous, role, pid)]
    if alive:
        raise AlreadyUpError(
            f"the local environment is already up at {previous.lb_url} ({', '.join(alive)} running); "
            "run `python -m local down` first"
        )
    runinfo.remove(state_dir)  # every recorded process is gone: a stale record


def _fresh_state(state_dir: Path) -> None:
    """Each `up` starts with empty stores and fresh logs; nothing of a previous run leaks in."""
    lock = (state_dir / "postgres").resolve() / "data" / "postmaster.pid"
    with contextlib.suppress(OSError, IndexError, ValueError):
        pid = int(lock.read_text().splitlines()[0])
        if procs.is_running(pid):
            # An `up` that was killed outright never wrote run.json; its PostgreSQL may still be there.
            raise AlreadyUpError(
                f"PostgreSQL (pid {pid}) still runs on {lock.parent} without a run.json; stop it first"
            )
    postgres.remove_postgres_data(state_dir)
    for sub in ("redis", "logs"):
        shutil.rmtree(state_dir / sub, ignore_errors=True)
    (state_dir / "haproxy.cfg").unlink(missing_ok=True)


def up(
    *,
    replicas: int = DEFAULT_REPLICAS,
    port: int | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
    durable: bool = True,
    max_receive_count: int = 3,
    timeout: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> RunInfo:
    """Start everything, wait until it all answers, write run.json; on failure stop what was started."""
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"--replicas must be between 1 and {MAX_REPLICAS}, got {replicas}")
    if port is not None and not 1024 <= port < 65536:
        raise ValueError(f"--port must be between 1024 and 65535, got {port}")
    say = progress or (lambda _msg: None)
    state_dir = Path(state_dir).absolute()
    state_dir.mkdir(parents=True, exist_ok=True)
    _check_not_running(state_dir)
    if port is not None and not procs.port_is_free(port):
        raise UpError(f"haproxy: port {port} on 127.0.0.1 is already in use; pick another --port or omit it")
    _fresh_state(state_dir)

    started: list[Service] = []
    part = "services"
    try:
        say("starting PostgreSQL, Redis and moto")
        stores = _start_concurrently(
            {
                "postgres": lambda: postgres.start_postgres(
                    state_dir,
                    user=MASTER_USER,
                    password=generate_master_password(),
                    database=apps.DATABASE_NAME,
                    durable=durable,
                    timeout=timeout,
                ),
                "redis": lambda: redis.start_redis(state_dir, timeout=timeout),
                "moto": lambda: moto.start_moto(state_dir, timeout=timeout),
            },
            started,
        )
        pg, cache, aws = stores["postgres"], stores["redis"], stores["moto"]
        part = "moto"
        resources = moto.provision_aws(aws, max_receive_count=max_receive_count)
        cloud = moto.create_cloud_secrets(
            aws.url,
            master_user=MASTER_USER,
            master_password=str(urlsplit(pg.url).password),
            host="127.0.0.1",
            port=pg.port,
            dbname=apps.DATABASE_NAME,
        )

        ports = _Ports()
        if port is not None:
            ports.taken.add(port)
        lb_port = port or ports.take()
        lb_url = f"http://127.0.0.1:{lb_port}"

        def env_for(instance_id: str) -> dict[str, str]:
            return apps.app_environment(
                instance_id=instance_id,
                postgres=pg,
                redis_url=cache.url,
                moto_url=aws.url,
                resources=resources,
                cloud=cloud,
                lb_url=lb_url,
                inherited=os.environ,
            )

        part = "migrate"
        say("migrating the database as the master user")
        apps.run_migrations(env_for("migrate"), cloud.master_secret_arn, state_dir, timeout)

        part = "replicas"
        say(f"starting {replicas} app replicas")
        replica_services = []
        for index in range(1, replicas + 1):
            rid = f"replica-{index}"
            rport = ports.take()
            replica_services.append(
                apps.app_process(
                    rid,
                    apps.replica_command(),
                    apps.replica_environment(env_for(rid), rid, rport),
                    state_dir,
                    url=f"http://127.0.0.1:{rport}",
                    timeout=timeout,
                )
            )
        _start_concurrently({s.name: s.start for s in replica_services}, started)

        part = "worker"
        say("starting the worker")
        worker = apps.app_process("worker", apps.worker_command(), env_for("worker"), state_dir, url=None,
                                  timeout=timeout)
        worker.start()
        started.append(worker)

        part = "haproxy"
        say(f"starting HAProxy on {lb_url}")
        lb = haproxy.start_haproxy(
            state_dir,
            [haproxy.Server(s.name, s.port) for s in replica_services],
            port=lb_port,
            health=haproxy.HealthCheck.from_target_group(),
            idle_timeout_s=haproxy.stack_idle_timeout(),
            timeout=timeout,
        )
        started.append(lb)
        procs.wait_for(lambda: probe.ready(lb_url), what=f"{lb_url}/readyz through HAProxy", timeout=timeout)

        run = RunInfo(
            lb_url=lb_url,
            replicas=tuple(Replica(id=s.name, pid=s.pid, url=s.url) for s in replica_services),
            worker_pid=worker.pid,
            services={
                "redis": {"url": cache.url, "pid": cache.pid},
                "postgres": {"url": pg.url, "pid": pg.pid},
                "moto": {"url": aws.url, "pid": aws.pid, **resources.to_json(), **cloud.to_json()},
                "haproxy": {"pid": lb.pid, "url": lb_url},
            },
            identities={s.name: s.identity for s in started if s.identity is not None},
            app_env=env_for(""),
        )
        runinfo.write(state_dir, run)
        return run
    except BaseException as exc:
        for service in reversed(started):
            with contextlib.suppress(Exception):
                service.stop(timeout=5)
        if isinstance(exc, Exception) and not isinstance(exc, ValueError):
            raise UpError(f"{part} failed: {exc}") from exc
        raise


def _start_concurrently(starters: Mapping[str, Callable[[], Service]], started: list[Service]) -> dict[str, Service]:
    """Run the starters in parallel. Every service that did start is appended to `started`, even when
    another failed or Ctrl-C arrived meanwhile, so that the caller can stop it again."""
    pool = ThreadPoolExecutor(max_workers=len(starters))
    futures = {name: pool.submit(starter) for name, starter in starters.items()}
    results: dict[str, Service] = {}
    errors: list[str] = []
    try:
        wait(futures.values())
    finally:
        pool.shutdown(wait=True)
        for name, future in futures.items():
            error = future.exception()
            if error is None:
                results[name] = future.result()
                started.append(results[name])
            else:
                errors.append(str(error))
    if errors:
        raise ServiceError("; ".join(errors))
    return {name: results[name] for name in starters}


# --- inspecting and stopping -------------------------------------------------------------------------


def _verified(run: RunInfo, role: str, pid: int) -> bool:
    """True only when pid is running AND is the process `up` recorded for this role."""
    identity = run.identities.get(role)
    return identity is not None and identity.pid == pid and procs.owned(identity)


def _stop_signal(role: str) -> int:
    return {"postgres": signal.SIGINT, "haproxy": signal.SIGUSR1}.get(role, signal.SIGTERM)


def stop_role(run: RunInfo, role: str, *, kill: bool = False, timeout: float = 10.0) -> str:
    """Stop one recorded process (and its process group); says what happened."""
    pid = run.pids()[role]
    identity = run.identities.get(role)
    if identity is None:
        return f"{role}: pid {pid} left alone (no record of which process it was)"
    if not procs.is_running(pid):
        return f"{role}: already gone"
    if not procs.owned(identity):
        return f"{role}: pid {pid} now belongs to another process; left alone"
    try:
        procs.stop_group(pid, first=signal.SIGKILL if kill else _stop_signal(role), timeout=timeout)
    except procs.ProcessError as exc:
        return f"{role}: could not be stopped: {exc}"
    return f"{role}: stopped (pid {pid})"


# Traffic first, then the app (the worker finishes its current batch, which needs moto and the stores),
# then the stores. Parts within a stage stop in parallel.
_DOWN_STAGES = (("haproxy",), ("replicas", "worker"), ("moto", "redis", "postgres"))


def down(*, state_dir: Path = DEFAULT_STATE_DIR, timeout: float = 10.0) -> list[str]:
    """Stop what run.json records, then remove it. Safe to run twice (the second run does nothing)."""
    state_dir = Path(state_dir).absolute()
    run = runinfo.read(state_dir)
    if run is None:
        return ["nothing to stop (no run.json)"]
    report: list[str] = []
    for stage in _DOWN_STAGES:
        roles = [role for part in stage for role in ([r.id for r in run.replicas] if part == "replicas" else [part])]
        with ThreadPoolExecutor(max_workers=len(roles)) as pool:
            report += pool.map(lambda role: stop_role(run, role, timeout=timeout), roles)
    stuck = [line for line in report if "could not be stopped" in line]
    if stuck:
        # Keep the record so that another `down` can finish the job.
        raise procs.ProcessError("; ".join(stuck))
    runinfo.remove(state_dir)
    return report


def leftover_pids(run: RunInfo) -> list[int]:
    """Recorded pids that still run as the recorded process (empty after a clean `down`)."""
    return [pid for role, pid in run.pids().items() if _verified(run, role, pid)]


def status(*, state_dir: Path = DEFAULT_STATE_DIR) -> tuple[RunInfo | None, list[PartStatus]]:
    state_dir = Path(state_dir).absolute()
    run = runinfo.read(state_dir)
    if run is None:
        return None, []
    parts = []
    probes: dict[str, Callable[[], bool]] = {
        "haproxy": lambda: probe.ready(run.lb_url),
        "postgres": lambda: postgres.ping(run.services["postgres"]["url"]),
        "redis": lambda: redis.ping(run.services["redis"]["url"]),
        "moto": lambda: probe.answers(run.services["moto"]["url"] + "/moto-api/"),
    }
    for replica in run.replicas:
        probes[replica.id] = functools.partial(probe.ready, replica.url)
    for role, pid in run.pids().items():
        running = _verified(run, role, pid)
        check = probes.get(role)
        if check is None:
            answers, detail = running, "running" if running else "not running"
        else:
            try:
                answers = bool(check())
                detail = "answers" if answers else "does not answer"
            except Exception as exc:
                answers, detail = False, f"does not answer ({type(exc).__name__})"
        if not running:
            detail = f"process {pid} not running; {detail}"
        parts.append(PartStatus(role=role, pid=pid, running=running, answers=answers, detail=detail))
    return run, parts


# --- faults and rolling restarts (for tests and the demo) --------------------------------------------


def kill_replica(run: RunInfo, replica_id: str, sig: int = signal.SIGKILL, *, timeout: float = 10.0) -> None:
    """Send sig to a replica's process group and wait until it is gone."""
    replica = run.replica(replica_id)
    if not _verified(run, replica_id, replica.pid):
        raise procs.ProcessError(f"{replica_id} (pid {replica.pid}) is not running as recorded")
    procs.stop_group(replica.pid, first=sig, timeout=timeout)


def _environment_of(run: RunInfo) -> dict[str, str]:
    """The app configuration a sibling replica (or the worker) runs with, from its /proc environ."""
    for role, pid in run.pids().items():
        if (role == "worker" or role.startswith("replica-")) and _verified(run, role, pid):
            raw = Path(f"/proc/{pid}/environ").read_bytes()
            pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
            return {k.decode(): v.decode() for k, v in pairs}
    raise procs.ProcessError("no replica or worker is running to take the app configuration from")


def start_replica(
    run: RunInfo, replica_id: str, *, state_dir: Path = DEFAULT_STATE_DIR, timeout: float = 60.0
) -> RunInfo:
    """Start a stopped replica again on its recorded port; returns (and records) the updated run."""
    replica = run.replica(replica_id)
    if _verified(run, replica_id, replica.pid):
        raise procs.ProcessError(f"{replica_id} is still running (pid {replica.pid}); stop it first")
    port = int(replica.url.rsplit(":", 1)[1])
    env = apps.replica_environment(run.app_env or _environment_of(run), replica_id, port)
    service = apps.app_process(
        replica_id, apps.replica_command(), env, Path(state_dir).absolute(), url=replica.url, timeout=timeout
    )
    service.start()
    assert service.identity is not None
    replicas = tuple(replace(r, pid=service.pid) if r.id == replica_id else r for r in run.replicas)
    updated = replace(run, replicas=replicas, identities={**run.identities, replica_id: service.identity})
    runinfo.write(Path(state_dir).absolute(), updated)
    return updated


def start_worker(run: RunInfo, *, state_dir: Path = DEFAULT_STATE_DIR, timeout: float = 60.0) -> RunInfo:
    """Start the worker again after it was stopped or killed; returns (and records) the updated run."""
    if _verified(run, "worker", run.worker_pid):
        raise procs.ProcessError(f"the worker is still running (pid {run.worker_pid}); stop it first")
    env = dict(run.app_env or _environment_of(run))
    env["APP_INSTANCE_ID"] = "worker"
    state_dir = Path(state_dir).absolute()
    service = apps.app_process("worker", apps.worker_command(), env, state_dir, url=None, timeout=timeout)
    service.start()
    assert service.identity is not None
    updated = replace(run, worker_pid=service.pid, identities={**run.identities, "worker": service.identity})
    runinfo.write(state_dir, updated)
    return updated


def restart_service(
    run: RunInfo,
    name: str,
    *,
    kill: bool = False,
    down_for: float = 0.0,
    state_dir: Path = DEFAULT_STATE_DIR,
    timeout: float = 60.0,
) -> RunInfo:
    """Stop PostgreSQL or Redis (gracefully, or SIGKILL with kill=True), optionally stay down for
    `down_for` seconds, then start it again on the same port and data; returns the updated run."""
    if name not in ("postgres", "redis"):
        raise ValueError(f"restart_service restarts 'postgres' or 'redis', not {name!r}")
    state_dir = Path(state_dir).absolute()
    entry = run.services[name]
    stop_role(run, name, kill=kill)
    if down_for > 0:
        time.sleep(down_for)
    port = int(str(entry["url"]).rsplit(":", 1)[1].split("/", 1)[0])
    if name == "postgres":
        identity = run.identities.get(name)
        durable = identity is None or "fsync=off" not in identity.cmdline
        url = urlsplit(str(entry["url"]))
        service = postgres.start_postgres(
            state_dir,
            port=port,
            user=str(url.username),
            password=str(url.password),
            database=url.path.lstrip("/"),
            durable=durable,
            timeout=timeout,
        )
    else:
        service = redis.start_redis(state_dir, port=port, timeout=timeout)
    assert service.identity is not None
    updated = replace(
        run,
        services={**run.services, name: {**entry, "pid": service.pid}},
        identities={**run.identities, name: service.identity},
    )
    runinfo.write(state_dir, updated)
    return updated

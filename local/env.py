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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from local import haproxy, procs, runinfo, services
from local.runinfo import Replica, RunInfo
from local.services import Service, ServiceError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
DEFAULT_REPLICAS = 3
MAX_REPLICAS = 32
JWT_AUDIENCE = "stateless-stack-api"
DATABASE_NAME = "app"
# The local cluster's superuser stands in for the RDS master user.
MASTER_USER = "postgres"
# Variables a replica inherits from the caller; everything else it gets is set explicitly here.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV")


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


def replica_command() -> list[str]:
    """How to run one web replica: the app's own entry point, its port and keep-alive from the
    environment (APP_PORT, APP_KEEPALIVE_TIMEOUT_SECONDS) as in the cloud."""
    return [sys.executable, "-m", "app", "--host", "127.0.0.1"]


def replica_environment(env: Mapping[str, str], instance_id: str, port: int) -> dict[str, str]:
    return {**env, "APP_INSTANCE_ID": instance_id, "APP_PORT": str(port)}


def worker_command() -> list[str]:
    # A short long-poll keeps SIGTERM prompt: the worker finishes its current poll before it stops.
    return [sys.executable, "-m", "app.worker", "--wait-seconds", "2"]


def app_environment(
    *,
    instance_id: str,
    postgres: Service,
    redis_url: str,
    moto_url: str,
    resources: services.AwsResources,
    cloud: services.CloudSecrets,
    lb_url: str,
    inherited: Mapping[str, str],
) -> dict[str, str]:
    """The environment of a replica or the worker: the app's whole configuration, nothing on disk. The
    database password and the signing key are not in it: the app reads the one from Secrets Manager and
    signs with the other in KMS, as in the cloud."""
    env = {key: inherited[key] for key in _INHERITED if key in inherited}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            # The app writes nothing to disk, not even bytecode caches.
            "PYTHONDONTWRITEBYTECODE": "1",
            "APP_MODE": "local",
            "APP_INSTANCE_ID": instance_id,
            "APP_DATABASE_HOST": "127.0.0.1",
            "APP_DATABASE_PORT": str(postgres.port),
            "APP_DATABASE_NAME": DATABASE_NAME,
            "APP_DATABASE_SECRET_ARN": cloud.database_secret_arn,
            # Loopback; the cloud uses verify-full with the RDS CA bundle.
            "APP_DATABASE_SSLMODE": "disable",
            "APP_REDIS_URL": redis_url,
            "APP_S3_BUCKET": resources.bucket,
            "APP_SQS_QUEUE_URL": resources.queue_url,
            "APP_SQS_DLQ_URL": resources.dlq_url,
            "APP_SQS_MAX_RECEIVE_COUNT": str(resources.max_receive_count),
            "APP_JWT_KMS_KEY_ID": cloud.jwt_kms_key_id,
            "APP_JWT_ISSUER": lb_url,
            "APP_JWT_AUDIENCE": JWT_AUDIENCE,
            # The load balancer, never the app, closes idle connections (as infra sets it from the
            # stack's ALB idle timeout).
            "APP_KEEPALIVE_TIMEOUT_SECONDS": str(haproxy.app_keepalive_for(haproxy.stack_idle_timeout())),
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_REGION": services.AWS_REGION,
            "AWS_DEFAULT_REGION": services.AWS_REGION,
            **services.AWS_TEST_CREDENTIALS,
        }
    )
    return env


def run_migrations(env: Mapping[str, str], master_secret_arn: str, state_dir: Path, timeout: float) -> None:
    """`python -m app migrate` with the master secret, as the cloud's migration runner does before any
    replica starts: the schema, and the app's own role with the password from its secret."""
    log_path = state_dir / "logs" / "migrate.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        result = subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            env={**env, "APP_INSTANCE_ID": "migrate", "APP_DATABASE_MASTER_SECRET_ARN": master_secret_arn},
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise ServiceError(f"migrate: `python -m app migrate` exited {result.returncode}\n{procs.tail(log_path)}")


def _http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URLs only
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _ready(url: str) -> bool:
    return _http_status(url + "/readyz") == 200


def app_process(
    name: str, argv: list[str], env: Mapping[str, str], state_dir: Path, *, url: str | None, timeout: float
) -> Service:
    """A replica (url given: ready when /readyz answers 200) or the worker (ready when it stays up)."""
    log_path = state_dir / "logs" / f"{name}.log"
    port = int(url.rsplit(":", 1)[1]) if url else 0

    def launch() -> subprocess.Popen[bytes]:
        if url and not procs.port_is_free(port):
            raise ServiceError(f"{name}: port {port} on 127.0.0.1 is already in use")
        try:
            proc = procs.spawn(argv, log_path=log_path, env=env, cwd=REPO_ROOT)
        except procs.ProcessError as exc:
            raise ServiceError(f"{name}: {exc}") from exc
        try:
            if url:
                procs.wait_for(lambda: _ready(url), what=name, timeout=timeout, proc_pid=proc.pid, log_path=log_path)
            else:
                # The worker has no port; surviving its start-up (imports, settings, first connect) is the sign.
                settle = time.monotonic() + 1.5
                procs.wait_for(
                    lambda: time.monotonic() >= settle,
                    what=name,
                    timeout=timeout,
                    proc_pid=proc.pid,
                    log_path=log_path,
                )
        except procs.ProcessError as exc:
            with contextlib.suppress(procs.ProcessError):
                procs.stop_group(proc.pid, first=signal.SIGKILL, timeout=5)
            raise ServiceError(str(exc)) from exc
        return proc

    return Service(name=name, port=port, url=url or "", base_dir=state_dir, log_path=log_path, _launch=launch)


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
    services.remove_postgres_data(state_dir)
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
    if not (REPO_ROOT / "app" / "worker.py").exists() and not (REPO_ROOT / "app" / "worker").is_dir():
        raise UpError(f"app: the reference app is missing ({REPO_ROOT / 'app'} has no worker module)")
    _fresh_state(state_dir)

    started: list[Service] = []
    part = "services"
    try:
        say("starting PostgreSQL, Redis and moto")
        stores = _start_concurrently(
            {
                "postgres": lambda: services.start_postgres(
                    state_dir,
                    user=MASTER_USER,
                    password=generate_master_password(),
                    database=DATABASE_NAME,
                    durable=durable,
                    timeout=timeout,
                ),
                "redis": lambda: services.start_redis(state_dir, timeout=timeout),
                "moto": lambda: services.start_moto(state_dir, timeout=timeout),
            },
            started,
        )
        pg, redis, moto = stores["postgres"], stores["redis"], stores["moto"]
        part = "moto"
        resources = services.provision_aws(moto, max_receive_count=max_receive_count)
        cloud = services.create_cloud_secrets(
            moto.url,
            master_user=MASTER_USER,
            master_password=str(urlsplit(pg.url).password),
            host="127.0.0.1",
            port=pg.port,
            dbname=DATABASE_NAME,
        )

        ports = _Ports()
        if port is not None:
            ports.taken.add(port)
        lb_port = port or ports.take()
        lb_url = f"http://127.0.0.1:{lb_port}"

        def env_for(instance_id: str) -> dict[str, str]:
            return app_environment(
                instance_id=instance_id,
                postgres=pg,
                redis_url=redis.url,
                moto_url=moto.url,
                resources=resources,
                cloud=cloud,
                lb_url=lb_url,
                inherited=os.environ,
            )

        part = "migrate"
        say("migrating the database as the master user")
        run_migrations(env_for("migrate"), cloud.master_secret_arn, state_dir, timeout)

        part = "replicas"
        say(f"starting {replicas} app replicas")
        replica_services = []
        for index in range(1, replicas + 1):
            rid = f"replica-{index}"
            rport = ports.take()
            replica_services.append(
                app_process(
                    rid,
                    replica_command(),
                    replica_environment(env_for(rid), rid, rport),
                    state_dir,
                    url=f"http://127.0.0.1:{rport}",
                    timeout=timeout,
                )
            )
        _start_concurrently({s.name: s.start for s in replica_services}, started)

        part = "worker"
        say("starting the worker")
        worker = app_process("worker", worker_command(), env_for("worker"), state_dir, url=None, timeout=timeout)
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
        procs.wait_for(lambda: _ready(lb_url), what=f"{lb_url}/readyz through HAProxy", timeout=timeout)

        run = RunInfo(
            lb_url=lb_url,
            replicas=tuple(Replica(id=s.name, pid=s.pid, url=s.url) for s in replica_services),
            worker_pid=worker.pid,
            services={
                "redis": {"url": redis.url, "pid": redis.pid},
                "postgres": {"url": pg.url, "pid": pg.pid},
                "moto": {"url": moto.url, "pid": moto.pid, **resources.to_json(), **cloud.to_json()},
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
        "haproxy": lambda: _ready(run.lb_url),
        "postgres": lambda: services._pg_ping(run.services["postgres"]["url"]),
        "redis": lambda: services._redis_ping(run.services["redis"]["url"]),
        "moto": lambda: services._http_answers(run.services["moto"]["url"] + "/moto-api/"),
    }
    for replica in run.replicas:
        probes[replica.id] = functools.partial(_ready, replica.url)
    for role, pid in run.pids().items():
        running = _verified(run, role, pid)
        probe = probes.get(role)
        if probe is None:
            answers, detail = running, "running" if running else "not running"
        else:
            try:
                answers = bool(probe())
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
    env = replica_environment(run.app_env or _environment_of(run), replica_id, port)
    service = app_process(
        replica_id, replica_command(), env, Path(state_dir).absolute(), url=replica.url, timeout=timeout
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
    service = app_process("worker", worker_command(), env, state_dir, url=None, timeout=timeout)
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
        service = services.start_postgres(
            state_dir,
            port=port,
            user=str(url.username),
            password=str(url.password),
            database=url.path.lstrip("/"),
            durable=durable,
            timeout=timeout,
        )
    else:
        service = services.start_redis(state_dir, port=port, timeout=timeout)
    assert service.identity is not None
    updated = replace(
        run,
        services={**run.services, name: {**entry, "pid": service.pid}},
        identities={**run.identities, name: service.identity},
    )
    runinfo.write(state_dir, updated)
    return updated


@contextlib.contextmanager
def running(**kwargs: object) -> Iterator[RunInfo]:
    """`with running(replicas=3, state_dir=tmp) as run:` — up, then down whatever happens."""
    run = up(**kwargs)  # type: ignore[arg-type]
    try:
        yield run
    finally:
        down(state_dir=kwargs.get("state_dir", DEFAULT_STATE_DIR))  # type: ignore[arg-type]

"""Real backing services on loopback ports, for the local environment and for tests.

Creates, under a base directory:
- a PostgreSQL cluster (Debian's packages) with a role and database for the app,
- a Redis server without persistence (sessions are meant to live in an external, disposable store),
- a moto server standing in for S3 and SQS, plus the receipts bucket, the work queue and its DLQ.

Every service runs in its own process group with its output in ``<base_dir>/logs/``, and can be
stopped and started again on the same port and data directory (the fault tests restart them).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from local import procs

READY_TIMEOUT = 30.0
POSTGRES_GLOB = "/usr/lib/postgresql/*/bin/postgres"


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


def _log_path(base_dir: Path, name: str) -> Path:
    return base_dir / "logs" / f"{name}.log"


# --- PostgreSQL -------------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The bin directory of the newest PostgreSQL installed from Debian's packages."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))

    found = sorted((Path(p) for p in glob.glob(POSTGRES_GLOB)), key=version)
    if not found:
        raise ServiceError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run `apt-get install postgresql`"
        )
    return found[-1].parent


# Where clusters go when the postgres user cannot reach the base directory: world-searchable but not
# listable, one owner-only directory per base directory inside.
POSTGRES_SCRATCH = Path(tempfile.gettempdir()) / "stateless-postgres"


def _reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Can uid/gid walk down to `path`? (Every directory on the way needs the search bit for them.)"""
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == uid:
            needed = 0o100
        elif st.st_gid == gid:
            needed = 0o010
        else:
            needed = 0o001
        if not st.st_mode & needed:
            return False
    return True


def _prune_scratch() -> None:
    """Remove relocated clusters whose base directory is gone and whose postmaster no longer runs."""
    for home in POSTGRES_SCRATCH.iterdir():
        try:
            origin = Path((home / "origin").read_text().strip())
        except OSError:
            continue
        link = origin / "postgres"
        if link.is_symlink() and link.resolve() == home.resolve():
            continue
        lock = home / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, IndexError, ValueError):
            if procs.is_running(int(lock.read_text().splitlines()[0])):
                continue
        shutil.rmtree(home, ignore_errors=True)


def postgres_home(base_dir: Path, uid: int | None = None, gid: int | None = None) -> Path:
    """The directory holding the cluster (data/) and its socket (run/): base_dir/postgres itself, or,
    when the postgres user cannot reach base_dir (pytest's and mkdtemp's directories are owner-only,
    and pytest resets those modes), a directory under POSTGRES_SCRATCH that base_dir/postgres links to."""
    base_dir.mkdir(parents=True, exist_ok=True)
    link = base_dir / "postgres"
    if link.is_symlink():
        return link.resolve()
    if uid is None or gid is None or _reachable_by(link, uid, gid):
        return link
    POSTGRES_SCRATCH.mkdir(mode=0o711, exist_ok=True)
    POSTGRES_SCRATCH.chmod(0o711)
    _prune_scratch()
    home = POSTGRES_SCRATCH / hashlib.sha256(str(base_dir).encode()).hexdigest()[:20]
    home.mkdir(exist_ok=True)
    if link.exists():
        shutil.rmtree(link)  # a cluster from when base_dir was reachable; it no longer is
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(home)
    # Written last: pruning skips a directory without an origin, so a cluster being set up is safe.
    (home / "origin").write_text(f"{base_dir}\n")
    return home


def remove_postgres_data(base_dir: Path) -> None:
    """Delete the cluster of base_dir, wherever it lives (the caller has stopped it)."""
    link = Path(base_dir).absolute() / "postgres"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
        link.unlink()
    else:
        shutil.rmtree(link, ignore_errors=True)


def start_postgres(
    base_dir: Path,
    *,
    port: int | None = None,
    user: str = "app",
    password: str = "app",  # noqa: S107 - a throwaway loopback cluster
    database: str = "app",
    durable: bool = True,
    timeout: float = READY_TIMEOUT,
) -> Service:
    """Start (initialising on first use) a PostgreSQL cluster under base_dir/postgres on 127.0.0.1.

    `durable=False` turns fsync off for speed in tests; `python -m local up` keeps it on.
    """
    base_dir = Path(base_dir).absolute()
    bindir = postgres_bindir()
    port = port or procs.free_port()
    log_path = _log_path(base_dir, "postgres")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run_as: str | None = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root.
        run_as = "postgres"
        try:
            pw = pwd.getpwnam(run_as)
        except KeyError as exc:
            raise ServiceError("postgres: no `postgres` user: run `apt-get install postgresql`") from exc
        home = postgres_home(base_dir, pw.pw_uid, pw.pw_gid)
    else:
        home = postgres_home(base_dir)
    data_dir, socket_dir = home / "data", home / "run"
    home.mkdir(parents=True, exist_ok=True)
    socket_dir.mkdir(exist_ok=True)
    if run_as is not None:
        for path in (home, socket_dir):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        home.chmod(0o700)

    if not (data_dir / "PG_VERSION").exists():
        if data_dir.exists():
            shutil.rmtree(data_dir)  # a half-initialised directory from an interrupted initdb
        _initdb(bindir, data_dir, run_as, _log_path(base_dir, "postgres-initdb"))
        fresh = True
    else:
        fresh = False

    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(socket_dir),
        "max_connections": "200",
        "shared_buffers": "32MB",
        "fsync": "on" if durable else "off",
        "full_page_writes": "on" if durable else "off",
        "log_min_messages": "warning",
        "log_connections": "off",
    }
    argv = [str(bindir / "postgres"), "-D", str(data_dir)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home)}
    url = f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"
    state = {"fresh": fresh}

    def launch() -> subprocess.Popen[bytes]:
        if not procs.port_is_free(port):
            raise ServiceError(f"postgres: port {port} on 127.0.0.1 is already in use")
        _remove_stale_locks(data_dir, socket_dir)
        try:
            proc = procs.spawn(argv, log_path=log_path, env=env, user=run_as)
        except procs.ProcessError as exc:
            raise ServiceError(f"postgres: {exc}") from exc
        try:
            procs.wait_for(
                lambda: _pg_superuser_ping(socket_dir, port),
                what=f"postgres on 127.0.0.1:{port}",
                timeout=timeout,
                proc_pid=proc.pid,
                log_path=log_path,
            )
            if state["fresh"]:
                _pg_create_app_db(socket_dir, port, user, password, database)
                state["fresh"] = False
            procs.wait_for(
                lambda: _pg_ping(url),
                what=f"postgres login as {user}",
                timeout=timeout,
                proc_pid=proc.pid,
                log_path=log_path,
            )
        except (procs.ProcessError, Exception) as exc:
            _kill_quietly(proc)
            raise ServiceError(f"postgres: {exc}") from exc
        return proc

    service = Service(
        name="postgres",
        port=port,
        url=url,
        base_dir=base_dir,
        log_path=log_path,
        _launch=launch,
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for every client to disconnect.
        stop_signal=signal.SIGINT,
        details={"data_dir": str(data_dir), "socket_dir": str(socket_dir), "durable": durable},
    )
    return service.start()


def _remove_stale_locks(data_dir: Path, socket_dir: Path) -> None:
    """Drop postmaster.pid and socket lock files whose postmaster is dead.

    PostgreSQL treats any existing pid as alive, including an unreaped zombie: after a SIGKILL on a
    machine whose init does not reap orphans, the old locks would otherwise block every restart.
    """
    for lock in [data_dir / "postmaster.pid", *socket_dir.glob(".s.PGSQL.*.lock")]:
        try:
            first_line = lock.read_text().splitlines()[0].strip()
        except (FileNotFoundError, IndexError):
            continue
        if first_line.lstrip("-").isdigit() and not procs.is_running(abs(int(first_line))):
            lock.unlink(missing_ok=True)


def _initdb(bindir: Path, data_dir: Path, run_as: str | None, log_path: Path) -> None:
    argv = [
        str(bindir / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-sync",
    ]
    with open(log_path, "ab") as log:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            user=run_as,
            group=run_as,
            extra_groups=[] if run_as else None,
            check=False,
            timeout=120,
        )
    if result.returncode != 0:
        raise ServiceError(f"postgres: initdb failed (exit {result.returncode})\n{procs.tail(log_path)}")


def _pg_superuser_ping(socket_dir: Path, port: int) -> bool:
    import psycopg

    with psycopg.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres", connect_timeout=2):
        return True


def _pg_ping(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, connect_timeout=2) as conn:
        conn.execute("SELECT 1")
        return True


def _pg_create_app_db(socket_dir: Path, port: int, user: str, password: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        # The role may already exist (the cluster's own superuser, standing in for the RDS master).
        verb = sql.SQL("ALTER" if exists else "CREATE")
        conn.execute(
            sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, sql.Identifier(user), sql.Literal(password))
        )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))


def launch_on_port(
    name: str,
    port: int,
    argv: list[str],
    *,
    log_path: Path,
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    env: dict[str, str] | None = None,
    hint: str = "",
) -> subprocess.Popen[bytes]:
    """Spawn a loopback server on `port` and wait, bounded, until `ready()`; a failed start leaves nothing
    running and says which part failed and why."""
    if not procs.port_is_free(port):
        raise ServiceError(f"{name}: port {port} on 127.0.0.1 is already in use")
    try:
        proc = procs.spawn(argv, log_path=log_path, env=env)
    except procs.ProcessError as exc:
        raise ServiceError(f"{name}: {exc}") from exc
    try:
        procs.wait_for(ready, what=what, timeout=timeout, proc_pid=proc.pid, log_path=log_path)
    except procs.ProcessError as exc:
        _kill_quietly(proc)
        raise ServiceError(f"{name}: {exc}{hint}") from exc
    return proc


def _kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(procs.ProcessError):
        procs.stop_group(proc.pid, first=signal.SIGKILL, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1)


# --- Redis ------------------------------------------------------------------------------------------


def start_redis(base_dir: Path, *, port: int | None = None, timeout: float = READY_TIMEOUT) -> Service:
    """Start redis-server on 127.0.0.1 without snapshots or an append-only file."""
    base_dir = Path(base_dir).absolute()
    binary = require_binary("redis-server", "redis-server")
    port = port or procs.free_port()
    work_dir = base_dir / "redis"
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = _log_path(base_dir, "redis")
    argv = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(work_dir),
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"

    def launch() -> subprocess.Popen[bytes]:
        return launch_on_port(
            "redis", port, argv, log_path=log_path, env={"PATH": "/usr/bin:/bin"},
            ready=lambda: _redis_ping(url), what=f"redis on 127.0.0.1:{port}", timeout=timeout,
        )

    service = Service(name="redis", port=port, url=url, base_dir=base_dir, log_path=log_path, _launch=launch)
    return service.start()


def _redis_ping(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


# --- moto (S3 + SQS) --------------------------------------------------------------------------------

AWS_REGION = "us-east-1"
AWS_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class AwsResources:
    bucket: str
    queue_url: str
    dlq_url: str
    max_receive_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "queue_url": self.queue_url,
            "dlq_url": self.dlq_url,
            "max_receive_count": self.max_receive_count,
        }


def start_moto(base_dir: Path, *, port: int | None = None, timeout: float = READY_TIMEOUT) -> Service:
    """Start a moto server (S3, SQS) on 127.0.0.1. It keeps everything in memory."""
    base_dir = Path(base_dir).absolute()
    port = port or procs.free_port()
    log_path = _log_path(base_dir, "moto")
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_TEST_CREDENTIALS, AWS_DEFAULT_REGION=AWS_REGION)

    def launch() -> subprocess.Popen[bytes]:
        return launch_on_port(
            "moto", port, argv, log_path=log_path, env=env,
            ready=lambda: _http_answers(url + "/moto-api/"), what=f"moto server on 127.0.0.1:{port}",
            timeout=timeout, hint=" (is moto[server] installed in this virtualenv?)",
        )

    service = Service(name="moto", port=port, url=url, base_dir=base_dir, log_path=log_path, _launch=launch)
    return service.start()


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - a loopback URL built here
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up


def aws_client(service_name: str, endpoint_url: str) -> Any:
    import boto3

    return boto3.client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id=AWS_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def create_aws_resources(
    moto_url: str,
    *,
    bucket: str = "stateless-receipts",
    queue: str = "stateless-orders",
    max_receive_count: int = 3,
    visibility_timeout: int = 10,
) -> AwsResources:
    """Create the receipts bucket, the work queue and its dead-letter queue (idempotent)."""
    if max_receive_count < 1:
        raise ValueError(f"max_receive_count must be at least 1, got {max_receive_count}")
    if visibility_timeout < 0:
        raise ValueError(f"visibility_timeout must not be negative, got {visibility_timeout}")
    s3 = aws_client("s3", moto_url)
    sqs = aws_client("sqs", moto_url)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = sqs.create_queue(
        QueueName=queue,
        Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_timeout)},
    )["QueueUrl"]
    return AwsResources(bucket=bucket, queue_url=queue_url, dlq_url=dlq_url, max_receive_count=max_receive_count)


@dataclass(frozen=True)
class CloudSecrets:
    """What the stack creates for the app's identity: the master secret (for the migration runner only),
    the app role's secret, and the asymmetric KMS key tokens are signed with."""

    master_secret_arn: str
    database_secret_arn: str
    jwt_kms_key_id: str

    def to_json(self) -> dict[str, str]:
        return {
            "master_secret_arn": self.master_secret_arn,
            "database_secret_arn": self.database_secret_arn,
            "jwt_kms_key_id": self.jwt_kms_key_id,
        }


APP_DB_ROLE = "app"
# The characters AWS's rotation templates exclude from generated database passwords.
PASSWORD_EXCLUDED_CHARACTERS = "/@\"'\\"


def create_cloud_secrets(
    moto_url: str, *, master_user: str, master_password: str, host: str, port: int, dbname: str
) -> CloudSecrets:
    """Secrets Manager secrets in the JSON shape RDS and the rotation templates use, and a KMS RSA_2048
    SIGN_VERIFY key, as the stack creates them in the cloud."""
    sm = aws_client("secretsmanager", moto_url)
    kms = aws_client("kms", moto_url)
    common = {"engine": "postgres", "host": host, "port": port, "dbname": dbname}
    master = sm.create_secret(
        Name="stateless/database/master",
        SecretString=json.dumps({"username": master_user, "password": master_password, **common}),
    )["ARN"]
    # A password as Secrets Manager generates one for a rotation (GetRandomPassword).
    password = sm.get_random_password(PasswordLength=32, ExcludeCharacters=PASSWORD_EXCLUDED_CHARACTERS)[
        "RandomPassword"
    ]
    app = sm.create_secret(
        Name="stateless/database/app",
        SecretString=json.dumps({"username": APP_DB_ROLE, "password": password, **common}),
    )["ARN"]
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Description="stateless JWT signing key")
    return CloudSecrets(master, app, key["KeyMetadata"]["KeyId"])


def provision_aws(moto: Service, **kwargs: Any) -> AwsResources:
    """Create the AWS resources on a moto service now and again after each restart (moto forgets)."""

    def create(service: Service) -> None:
        service.details["resources"] = create_aws_resources(service.url, **kwargs)

    create(moto)
    moto.after_start.append(create)
    resources: AwsResources = moto.details["resources"]
    return resources


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll check() until it holds or time runs out; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if check():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)

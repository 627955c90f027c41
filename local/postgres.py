"""PostgreSQL for the local environment: a cluster from Debian's packages on 127.0.0.1 with the app's
master role and database (standing in for RDS), under <base_dir>/postgres, output in <base_dir>/logs/."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from local import procs
from local.service import READY_TIMEOUT, Service, ServiceError, kill_quietly, log_path_of

POSTGRES_GLOB = "/usr/lib/postgresql/*/bin/postgres"


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
    log_path = log_path_of(base_dir, "postgres")
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
        _initdb(bindir, data_dir, run_as, log_path_of(base_dir, "postgres-initdb"))
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
                lambda: ping(url),
                what=f"postgres login as {user}",
                timeout=timeout,
                proc_pid=proc.pid,
                log_path=log_path,
            )
        except (procs.ProcessError, Exception) as exc:
            kill_quietly(proc)
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


def ping(url: str) -> bool:
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

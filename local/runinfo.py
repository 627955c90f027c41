"""The record of a running local environment: ``<state dir>/run.json`` and its process identities.

``run.json`` has exactly the documented shape (lb_url, replicas, worker, services); extra keys live
only inside those objects (the moto bucket and queue URLs). What each pid was when it was started
(start time and command line) goes to ``processes.json`` beside it, so ``down`` never signals a pid
the kernel has since given to another program.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.procs import Identity

RUN_FILE = "run.json"
PROCESSES_FILE = "processes.json"
SERVICE_NAMES = ("redis", "postgres", "moto", "haproxy")


class RunFileError(ValueError):
    """run.json (or processes.json) is missing fields or is not what `up` writes."""


@dataclass(frozen=True)
class Replica:
    id: str
    pid: int
    url: str


@dataclass(frozen=True)
class RunInfo:
    lb_url: str
    replicas: tuple[Replica, ...]
    worker_pid: int
    # name -> {"pid": int, "url": str (not for haproxy), ...extra keys}
    services: Mapping[str, Mapping[str, Any]]
    # role ("replica-1", "worker", "postgres", ...) -> identity recorded at start
    identities: Mapping[str, Identity] = field(default_factory=dict)
    # The app configuration (signing key included) of the `up` that made this run. Kept in memory
    # only: never written to disk, so a RunInfo read back from run.json does not have it.
    app_env: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "lb_url": self.lb_url,
            "replicas": [{"id": r.id, "pid": r.pid, "url": r.url} for r in self.replicas],
            "worker": {"pid": self.worker_pid},
            "services": {name: dict(self.services[name]) for name in SERVICE_NAMES if name in self.services},
        }

    @classmethod
    def from_json(cls, data: object, identities: Mapping[str, Identity] | None = None) -> RunInfo:
        if not isinstance(data, dict):
            raise RunFileError("run.json must hold a JSON object")
        lb_url = _field(data, "lb_url", str, "run.json")
        raw_replicas = _field(data, "replicas", list, "run.json")
        replicas = []
        for index, item in enumerate(raw_replicas):
            where = f"run.json replicas[{index}]"
            if not isinstance(item, dict):
                raise RunFileError(f"{where} must be an object")
            replicas.append(
                Replica(id=_field(item, "id", str, where), pid=_pid(item, where), url=_field(item, "url", str, where))
            )
        worker = _field(data, "worker", dict, "run.json")
        services = _field(data, "services", dict, "run.json")
        checked: dict[str, dict[str, Any]] = {}
        for name in SERVICE_NAMES:
            where = f"run.json services.{name}"
            entry = services.get(name)
            if not isinstance(entry, dict):
                raise RunFileError(f"{where} is missing or not an object")
            _pid(entry, where)
            if name != "haproxy":
                _field(entry, "url", str, where)
            checked[name] = dict(entry)
        return cls(
            lb_url=lb_url,
            replicas=tuple(replicas),
            worker_pid=_pid(worker, "run.json worker"),
            services=checked,
            identities=dict(identities or {}),
        )

    def pids(self) -> dict[str, int]:
        """Every process `up` started, by role."""
        roles = {r.id: r.pid for r in self.replicas}
        roles["worker"] = self.worker_pid
        roles.update({name: int(entry["pid"]) for name, entry in self.services.items()})
        return roles

    def replica(self, replica_id: str) -> Replica:
        for replica in self.replicas:
            if replica.id == replica_id:
                return replica
        known = ", ".join(r.id for r in self.replicas)
        raise KeyError(f"no replica {replica_id!r} in this run (known: {known})")


def _field(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise RunFileError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RunFileError(f"{where}: field {key!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _pid(data: Mapping[str, Any], where: str) -> int:
    pid: int = _field(data, "pid", int, where)
    if pid <= 1:
        raise RunFileError(f"{where}: pid {pid} is not a process `up` could have started")
    return pid


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(state_dir: Path, run: RunInfo) -> Path:
    """Write processes.json first and run.json last: run.json existing means the record is complete."""
    identities = {role: ident.to_json() for role, ident in run.identities.items()}
    _atomic_write(state_dir / PROCESSES_FILE, json.dumps(identities, indent=2) + "\n")
    path = state_dir / RUN_FILE
    _atomic_write(path, json.dumps(run.to_json(), indent=2) + "\n")
    return path


def read(state_dir: Path) -> RunInfo | None:
    """The recorded run, or None when there is no run.json."""
    path = state_dir / RUN_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path} is not valid JSON: {exc}") from exc
    return RunInfo.from_json(data, read_identities(state_dir))


def read_identities(state_dir: Path) -> dict[str, Identity]:
    path = state_dir / PROCESSES_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RunFileError(f"{path} must hold a JSON object")
    try:
        return {str(role): Identity.from_json(entry) for role, entry in data.items()}
    except (ValueError, AttributeError) as exc:
        raise RunFileError(f"{path}: {exc}") from exc


def remove(state_dir: Path) -> None:
    (state_dir / RUN_FILE).unlink(missing_ok=True)
    (state_dir / PROCESSES_FILE).unlink(missing_ok=True)

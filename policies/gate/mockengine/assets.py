"""Reads every asset and archive a program registers, as the Pulumi engine does when it registers it.

The engine unmarshals each registration with ComputeAssetHashes and the program's working directory,
in preview as in update (pulumi/pulumi pkg/resource/deploy/source_eval.go: `workingDirectory:
src.runinfo.Pwd` at line 557, RegisterResource 2358-2366, RegisterResourceOutputs 3251;
sdk/go/common/resource/plugin/rpc.go 436-470). That directory is the one `main` names when it is
a directory, else the directory of the `main` file (pkg/engine/project.go getPwdMain 45-72), so a
relative path is read from there, whatever the program's own cwd. Hashing reads the content:
- an asset's path is opened and read; a directory is refused ("try using an archive")
  (sdk/go/common/resource/asset/asset.go readPath 274-303); a `file://` URI is read, other schemes
  than file/http/https are refused (readURI 305-333); text needs no reading;
- an archive path with an archive extension (.tar .tgz .tar.gz .zip .jar) is read as a file,
  anything else must be a directory whose files (minus `.pulumi` bookkeeping directories) are all
  read (sdk/go/common/resource/archive/archive.go readPath 476-552, ArchiveExts 851-857,
  EnsureHashWithWD 806-837); an asset archive reads each member, nested archives included
  (readAssets 418-436, Next 363-409); a URI archive needs an archive extension (readURI 554-573).
- A value that already carries a hash is not read again (EnsureHashWithWD 809).
Remote assets and archives (http/https) are what the engine downloads; they are not fetched here.

`read_registered(..., missing=LIST)` is the lenient reading of a base revision's program
(policies/gate/changes.py, --against-rev): a path that does not exist (a build output git does not
track) is recorded in LIST instead of failing the run; everything else is refused as the engine does.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

SIG_KEY = "4dabf18193072939515e22adb298388d"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
ARCHIVE_EXTENSIONS = (".tar", ".tgz", ".tar.gz", ".zip", ".jar")
BOOKKEEPING_DIR = ".pulumi"
REMOTE_SCHEMES = ("http", "https")


class AssetError(Exception):
    """A registered asset or archive the engine could not read: the program cannot be deployed."""


class _Unreadable(Exception):
    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing  # the path does not exist (as opposed to a refused or unreadable one)


def _digest_file(path: Path, hasher: Any) -> None:
    try:
        if path.is_dir():
            raise _Unreadable(f"asset path {path} is a directory; try using an archive")
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                hasher.update(chunk)
    except OSError as exc:
        raise _Unreadable(f"cannot read {path}: {exc.strerror or exc}", exc.errno == errno.ENOENT) from None


def _local(uri: str) -> Path | None:
    """The file a URI names, or None for a remote one; other schemes are refused as by the engine."""
    parts = urlsplit(uri)
    if parts.scheme in REMOTE_SCHEMES:
        return None
    if parts.scheme != "file":
        raise _Unreadable(f"unrecognized or unsupported URI scheme {parts.scheme!r} in {uri}")
    if parts.netloc not in ("", "localhost"):
        raise _Unreadable(f"file:// host {parts.netloc!r} not supported (only localhost) in {uri}")
    return Path(url2pathname(parts.path))


def _resolve(path: str, workdir: Path) -> Path:
    # An absolute path stays itself: pathlib's join starts over at an absolute part.
    return workdir / path


def _read_asset(value: Mapping[str, Any], workdir: Path, hasher: Any) -> None:
    if value.get("path"):
        _digest_file(_resolve(str(value["path"]), workdir), hasher)
    elif value.get("uri"):
        local = _local(str(value["uri"]))
        if local is not None:
            _digest_file(local, hasher)
    elif "text" in value:
        hasher.update(str(value["text"]).encode())


def _read_archive(value: Mapping[str, Any], workdir: Path, hasher: Any) -> None:
    if isinstance(value.get("assets"), Mapping):
        for member in sorted(value["assets"]):
            item = value["assets"][member]
            kind = item.get(SIG_KEY) if isinstance(item, Mapping) else None
            hasher.update(member.encode())
            try:
                if kind == ASSET_SIG:
                    _read_asset(item, workdir, hasher)
                elif kind == ARCHIVE_SIG:
                    _read_archive(item, workdir, hasher)
                else:
                    raise _Unreadable("it is not an asset or archive")
            except _Unreadable as exc:
                raise _Unreadable(f"archive member {member!r}: {exc}", exc.missing) from None
    elif value.get("path"):
        path = _resolve(str(value["path"]), workdir)
        if str(path).endswith(ARCHIVE_EXTENSIONS):
            _digest_file(path, hasher)
        elif not path.exists():
            raise _Unreadable(f"couldn't read archive path {path}: no such file or directory", missing=True)
        elif not path.is_dir():
            raise _Unreadable(f"{path} is neither a recognized archive type nor a directory")
        else:
            for file in _directory_files(path):
                hasher.update(file.relative_to(path).as_posix().encode())
                _digest_file(file, hasher)
    elif value.get("uri"):
        uri = str(value["uri"])
        if not urlsplit(uri).path.endswith(ARCHIVE_EXTENSIONS):
            raise _Unreadable(f"file at URL {uri} is not a recognized archive format")
        local = _local(uri)
        if local is not None:
            _digest_file(local, hasher)


def _directory_files(root: Path) -> Iterator[Path]:
    def fail(exc: OSError) -> None:
        raise _Unreadable(f"cannot read {exc.filename}: {exc.strerror}")

    # A link to a directory is listed among the directories and not followed: neither walked nor read.
    # A link to a file is read as the file it names.
    for directory, dirs, files in os.walk(root, onerror=fail, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != BOOKKEEPING_DIR)
        for name in sorted(files):
            if name == BOOKKEEPING_DIR:
                continue
            yield Path(directory, name)


def _walk(value: Any, where: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) in (ASSET_SIG, ARCHIVE_SIG):
            yield where, value
            return
        for key, item in value.items():
            if key == SIG_KEY:
                continue
            # A secret or output value wraps its content in "value"; the property keeps its name.
            inner = where if value.get(SIG_KEY) and key == "value" else (f"{where}.{key}" if where else key)
            yield from _walk(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]")


def read_registered(
    type_: str, name: str, props: Mapping[str, Any], workdir: Path, missing: list[str] | None = None
) -> dict[str, str]:
    """Reads every asset and archive in a registration's properties; property path -> SHA-256.

    Raises AssetError naming the resource, the property and the path the engine would fail on; with
    a `missing` list, an asset whose path does not exist is appended to it (resource, property, path)
    and left without a digest instead.
    """
    digests: dict[str, str] = {}
    for where, value in _walk(props):
        if value.get("hash"):
            continue
        hasher = hashlib.sha256()
        kind = "asset" if value[SIG_KEY] == ASSET_SIG else "archive"
        try:
            if kind == "asset":
                _read_asset(value, workdir, hasher)
            else:
                _read_archive(value, workdir, hasher)
        except _Unreadable as exc:
            if missing is not None and exc.missing:
                missing.append(f'{type_} "{name}": property {where}: {exc}')
                continue
            raise AssetError(
                f'{type_} "{name}": property {where}: {exc} (the engine reads {kind}s relative to the '
                f"program directory {workdir} when the resource is registered, in preview too)"
            ) from None
        digests[where] = hasher.hexdigest()
    return digests

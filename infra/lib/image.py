"""The app image's build context: which files it holds and a content tag derived from them.

The repository's ECR tags are immutable, so every pushed tag must name one content. pulumi-docker-build
rebuilds and pushes (Update is Create) whenever its Diff finds a change: any build input but the registry
password, or its own hash of the build context, which covers the Dockerfile's bytes and, per context
file, the bytes, the path and the file mode (pulumi/pulumi-docker-build provider/internal/context.go
hashFile 164-196, `h.Write([]byte(fileMode.String()))`; hashBuildContext 202-259; Diff in
provider/internal/image.go 928-1056, at 7bad76a). So the tag hashes at least all of that: each file's
path, mode and bytes, the Dockerfile, and the build inputs the program sets (platform, locations, push,
the provider's version, since an upgrade may hash differently). Whenever the provider would push, the
tag is new; the same sources and inputs always give the same tag.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_REF = re.compile(r"^[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")


def dockerignore_patterns(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _included(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        candidates = [body, body.replace("**/", "")]
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, c) for c in candidates for p in prefixes):
            included = negate
    return included


def context_files(context: Path, dockerignore: Path) -> list[Path]:
    """The files of the build context that BuildKit sends, sorted."""
    patterns = dockerignore_patterns(dockerignore)
    roots = [context]
    if patterns and patterns[0] == "*":
        # Everything is excluded but what `!` patterns bring back: walk only those top-level entries.
        tops = {p[1:].split("/", 1)[0] for p in patterns if p.startswith("!")}
        roots = [context / top for top in sorted(tops) if (context / top).exists()]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file() and _included(path.relative_to(context).as_posix(), patterns):
                found.append(path)
    return sorted(found)


def content_hash(context: Path, dockerfile: Path, dockerignore: Path,
                 build_inputs: Mapping[str, str] | None = None) -> str:
    """sha256 over the Dockerfile and every context file (path, mode and bytes), and the build inputs."""
    digest = hashlib.sha256()
    for path in [dockerfile, *context_files(context, dockerignore)]:
        digest.update(path.relative_to(context).as_posix().encode())
        digest.update(b"\0")
        # The provider hashes Go's FileMode.String() of the entry it walks (lstat); any change of it
        # changes stat.filemode of the same entry.
        digest.update(stat.filemode(os.lstat(path).st_mode).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for key in sorted(build_inputs or {}):
        digest.update(f"{key}={(build_inputs or {})[key]}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def content_tag(label: str, context: Path, dockerfile: Path, dockerignore: Path,
                build_inputs: Mapping[str, str] | None = None) -> str:
    """`<label>-<12 hex of the content hash>`, a valid image tag."""
    tag = f"{label}-{content_hash(context, dockerfile, dockerignore, build_inputs)[:12]}"
    if not _TAG.match(tag):
        raise ValueError(f"{tag!r} is not a container image tag")
    return tag


DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_reference(repository_url: str, digest: str) -> str:
    """`<repository>@sha256:...`: the one reference that names exactly the pushed image."""
    ref = f"{repository_url}@{digest}"
    if not DIGEST_REF.match(ref):
        raise ValueError(f"{ref!r} is not a repository@sha256 image reference")
    return ref

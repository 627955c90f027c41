"""The app image: its build context, content tag and digest reference, and the Dockerfile's side of the
environment contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.lib import app_env, image

ROOT = Path(__file__).resolve().parents[4]
DIGEST = "sha256:" + "0f" * 32


def context(tmp_path: Path) -> tuple[Path, Path, Path]:
    (tmp_path / "app" / "__pycache__").mkdir(parents=True)
    (tmp_path / "app" / "main.py").write_text("print('v1')\n")
    (tmp_path / "app" / "__pycache__" / "main.cpython-312.pyc").write_bytes(b"\0")
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "secret.txt").write_text("not in the image")
    dockerfile = tmp_path / "app" / "Dockerfile"
    dockerfile.write_text("FROM scratch\nCOPY app /srv/app\n")
    ignore = tmp_path / "app" / "Dockerfile.dockerignore"
    ignore.write_text("*\n!app/\napp/**/__pycache__\n")
    return tmp_path, dockerfile, ignore


def test_context_is_what_the_dockerignore_lets_through(tmp_path: Path) -> None:
    root, _, ignore = context(tmp_path)
    files = [p.relative_to(root).as_posix() for p in image.context_files(root, ignore)]
    assert files == ["app/Dockerfile", "app/Dockerfile.dockerignore", "app/main.py"]


def test_the_tag_follows_the_sources_and_nothing_else(tmp_path: Path) -> None:
    root, dockerfile, ignore = context(tmp_path)
    first = image.content_tag("0.1.0", root, dockerfile, ignore)
    assert re.fullmatch(r"0\.1\.0-[0-9a-f]{12}", first)
    (root / "infra" / "secret.txt").write_text("changed outside the context")
    (root / "app" / "__pycache__" / "main.cpython-312.pyc").write_bytes(b"\1")
    assert image.content_tag("0.1.0", root, dockerfile, ignore) == first
    (root / "app" / "main.py").write_text("print('v2')\n")
    assert image.content_tag("0.1.0", root, dockerfile, ignore) != first


def test_digest_reference_names_exactly_one_image() -> None:
    repo = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dev-image-repo-1a2b3c4"
    assert image.digest_reference(repo, DIGEST) == f"{repo}@{DIGEST}"
    with pytest.raises(ValueError, match="repository@sha256"):
        image.digest_reference(repo, "latest")


def test_the_repository_dockerfile_context_leaves_out_the_program_and_caches() -> None:
    files = image.context_files(ROOT, ROOT / "app" / "Dockerfile.dockerignore")
    relative = {p.relative_to(ROOT).as_posix() for p in files}
    assert "app/requirements.txt" in relative and "app/Dockerfile" in relative
    assert all(r.startswith("app/") and "__pycache__" not in r for r in relative)


def test_dockerfile_honours_the_environment_contract() -> None:
    text = (ROOT / "app" / "Dockerfile").read_text()
    # The web tier's command reads APP_HOST/APP_PORT/APP_KEEPALIVE_TIMEOUT_SECONDS; nothing hard-codes 8000.
    assert 'CMD ["python", "-m", "app"]' in text
    assert "--port" not in text
    assert f"APP_KEEPALIVE_TIMEOUT_SECONDS={app_env.keepalive_timeout(60)}" in text
    assert "APP_HOST=0.0.0.0" in text
    # The RDS CA bundle sits where APP_DATABASE_SSLROOTCERT points.
    assert re.search(rf"ADD [^\n]*global-bundle\.pem {re.escape(app_env.RDS_CA_BUNDLE)}\n", text)
    # The Lambda functions start the runtime interface client from the same image.
    assert "awslambdaric" in text
    assert re.search(r"^USER 10001", text, re.MULTILINE)


def test_the_tag_follows_every_file_mode_the_build_provider_hashes(tmp_path: Path) -> None:
    # pulumi-docker-build hashes each file's mode too (provider/internal/context.go hashFile): a checkout
    # with another umask rebuilds and pushes, so the tag must change with it or the push hits an
    # existing immutable tag.
    root, dockerfile, ignore = context(tmp_path)
    main = root / "app" / "main.py"
    main.chmod(0o644)
    first = image.content_tag("0.1.0", root, dockerfile, ignore)
    main.chmod(0o664)
    assert image.content_tag("0.1.0", root, dockerfile, ignore) != first
    main.chmod(0o644)
    assert image.content_tag("0.1.0", root, dockerfile, ignore) == first


def test_the_tag_follows_every_build_input_besides_the_files(tmp_path: Path) -> None:
    root, dockerfile, ignore = context(tmp_path)
    inputs = {"platforms": "linux/amd64", "provider": "0.0.22", "context.location": ".."}
    first = image.content_tag("0.1.0", root, dockerfile, ignore, inputs)
    assert image.content_tag("0.1.0", root, dockerfile, ignore, dict(reversed(list(inputs.items())))) == first
    for key in inputs:
        assert image.content_tag("0.1.0", root, dockerfile, ignore, {**inputs, key: "other"}) != first, key
    assert image.content_tag("0.1.0", root, dockerfile, ignore, {**inputs, "push": "false"}) != first

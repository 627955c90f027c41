"""Where a PostgreSQL cluster lives when its user cannot reach the base directory, and its clean-up."""

import os
from pathlib import Path

import pytest

from local import postgres

OTHER_UID, OTHER_GID = 54321, 54321  # a user that owns nothing here


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "scratch"
    monkeypatch.setattr(postgres, "POSTGRES_SCRATCH", path)
    return path


def private_base(tmp_path: Path) -> Path:
    outer = tmp_path / "private"
    outer.mkdir(mode=0o700)
    outer.chmod(0o700)
    return outer / "state"


def test_reachable_base_keeps_the_cluster_inside(tmp_path: Path, scratch: Path):
    base = private_base(tmp_path)
    # The owner of every directory on the way can reach it, however private the modes.
    assert postgres.postgres_home(base, os.getuid(), os.getgid()) == base / "postgres"
    assert not scratch.exists()


def test_unreachable_base_relocates_and_links(tmp_path: Path, scratch: Path):
    base = private_base(tmp_path)
    home = postgres.postgres_home(base, OTHER_UID, OTHER_GID)
    assert home.parent == scratch
    assert (base / "postgres").is_symlink()
    assert (base / "postgres").resolve() == home.resolve()
    assert (home / "origin").read_text().strip() == str(base)
    assert scratch.stat().st_mode & 0o777 == 0o711
    # The same base directory finds the same cluster again (restarts reuse the data).
    assert postgres.postgres_home(base, OTHER_UID, OTHER_GID) == home.resolve()


def test_removing_the_data_removes_the_relocated_cluster(tmp_path: Path, scratch: Path):
    base = private_base(tmp_path)
    home = postgres.postgres_home(base, OTHER_UID, OTHER_GID)
    (home / "data").mkdir()
    postgres.remove_postgres_data(base)
    assert not home.exists()
    assert not (base / "postgres").exists()


def test_clusters_of_vanished_base_directories_are_pruned(tmp_path: Path, scratch: Path):
    (tmp_path / "gone").mkdir()
    gone = private_base(tmp_path / "gone")
    stale = postgres.postgres_home(gone, OTHER_UID, OTHER_GID)
    (gone / "postgres").unlink()  # its base directory was deleted
    half_made = scratch / "being-set-up"  # no origin yet: another process is creating it
    half_made.mkdir()
    (tmp_path / "kept").mkdir()
    kept_base = private_base(tmp_path / "kept")
    kept = postgres.postgres_home(kept_base, OTHER_UID, OTHER_GID)
    assert not stale.exists()
    assert half_made.exists()
    assert kept.exists()

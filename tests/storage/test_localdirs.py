"""The directories of a local batch write: made once each, checked from the root down."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_vectors.exceptions import KeyConflictError, StoreError
from zarr_vectors.storage.localdirs import make_directories, needed_directories


def _error(key: str, exc: OSError) -> Exception:
    return StoreError(f"cannot write {key}: {exc.strerror}")


def _make(root: Path, keys: list[str]) -> None:
    make_directories(str(root), needed_directories(keys), url="test://", error=_error)


def test_needed_directories_lists_ancestors_parents_first() -> None:
    needed = needed_directories(["0/v/c/1/2/3", "0/v/c/1/2/4", "0/v/c/1/5/0", "zarr.json"])
    assert list(needed) == ["0", "0/v", "0/v/c", "0/v/c/1", "0/v/c/1/2", "0/v/c/1/5"]
    assert needed["0/v/c/1/5"] == "0/v/c/1/5/0"


def test_makes_every_directory_and_the_root(tmp_path: Path) -> None:
    root = tmp_path / "new" / "store"
    _make(root, ["a/b/c/k", "a/d/k", "top"])
    assert (root / "a" / "b" / "c").is_dir() and (root / "a" / "d").is_dir()
    _make(root, ["a/b/c/k", "a/e/k"])  # existing ones are kept, missing ones made
    assert (root / "a" / "e").is_dir()


def test_an_object_in_the_way_is_a_key_conflict(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"an object")
    with pytest.raises(KeyConflictError, match="both an object and a prefix"):
        _make(tmp_path, ["a/b/k"])


def test_a_link_outside_the_root_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    outside.mkdir()
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="outside the store root"):
        _make(root, ["aaa/k", "link/new/k"])
    assert not (root / "aaa").exists() and not (outside / "new").exists()


def test_a_link_inside_the_root_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    _make(tmp_path, ["alias/sub/k"])
    assert (tmp_path / "real" / "sub").is_dir()


def test_other_failures_go_through_the_error_callback(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreError, match="cannot write a/k"):
        _make(tmp_path / "file", ["a/k"])

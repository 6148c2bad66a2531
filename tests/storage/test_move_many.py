"""``move_many``: the protocol operation, the local backend's renames, and a replace built on it.

A replace (``mode="w"``) stages its new store under ``.zv-staged-*/`` and moves it
into place with ``move_many``. On the local backend that is a rename per file:
no staged file is read and each keeps its inode. A replace killed half way
through the move is finished by the next writer without losing the objects
moved already (the root records that the old objects are gone before the
first move). The S3 request counts are in test_delete_requests.py.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import InvalidKeyError, KeyConflictError, StoreError
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

#: These tests kill writers; the next writer waits out the dead one's lease.
pytestmark = pytest.mark.usefixtures("short_lease")

CHUNK = (100.0, 100.0, 100.0)
STAGED = ".zv-staged-"


def _points(seed: int, n: int = 3000) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1000, (n, 3)).astype(np.float32)


def _sorted(points: np.ndarray) -> np.ndarray:
    return points[np.lexsort(points.T[::-1])]


# -- the operation --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [LocalBackend, lambda root: DictBackend(f"dict://move-{root}")])
def test_move_many_replaces_skips_missing_and_reruns(tmp_path: Path, make: object) -> None:
    backend = make(tmp_path / "store")  # type: ignore[operator]
    backend.put_many({"a/1": b"one", "a/2": b"two", "b": b"old b", "keep": b"k"})
    moves = [("a/1", "b"), ("a/2", "c/d/2"), ("gone", "e")]
    backend.move_many(moves)
    assert backend.get_bytes("b") == b"one"  # replaced
    assert backend.get_bytes("c/d/2") == b"two"
    assert sorted(backend.list_prefix("", recursive=True)) == ["b", "c/d/2", "keep"]
    backend.move_many(moves)  # a re-run finds the moves done and changes nothing
    assert sorted(backend.list_prefix("", recursive=True)) == ["b", "c/d/2", "keep"]
    asyncio.run(backend.amove_many({"keep": "x/keep", "b": "b"}))  # a -> a: nothing
    assert sorted(backend.list_prefix("", recursive=True)) == ["b", "c/d/2", "x/keep"]


def test_move_many_refuses_ambiguous_or_invalid_pairs_before_touching_anything(
    tmp_path: Path,
) -> None:
    backend = LocalBackend(tmp_path)
    backend.put_many({"a": b"a", "b": b"b", "c": b"c"})
    bad = [
        [("a", "x"), ("b", "x")],  # two sources, one destination
        [("a", "x"), ("a", "y")],  # one source, two destinations
        [("a", "b"), ("b", "c")],  # a chain: the outcome would depend on the order
        [("a", "x"), ("b", "../escape")],
        [("a", "x"), "bc"],
    ]
    for pairs in bad:
        with pytest.raises(InvalidKeyError):
            backend.move_many(pairs)  # type: ignore[arg-type]
        assert sorted(backend.list_prefix("", recursive=True)) == ["a", "b", "c"]


def test_local_move_is_a_rename_that_keeps_the_inode_and_gives_a_new_version(
    tmp_path: Path,
) -> None:
    backend = LocalBackend(tmp_path)
    backend.put_many({"s/1": b"new", "d/1": b"old"})
    inode = os.stat(tmp_path / "s" / "1").st_ino
    old_version = backend.head("d/1").version
    backend.move_many([("s/1", "d/1")])
    assert os.stat(tmp_path / "d" / "1").st_ino == inode
    assert backend.head("d/1").version not in (None, old_version)
    assert not (tmp_path / "s").exists()  # the emptied source directory is pruned


def test_local_move_keeps_the_key_rules(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    backend = LocalBackend(root)
    backend.put_many({"a": b"a", "dir/x": b"x", "f": b"f"})
    with pytest.raises(KeyConflictError):
        backend.move_many([("a", "dir")])  # a destination that is a directory
    with pytest.raises(KeyConflictError):
        backend.move_many([("a", "f/under")])  # a parent that is an object
    os.symlink(outside, root / "link")
    with pytest.raises(StoreError, match="outside the store root"):
        backend.move_many([("a", "link/a")])
    assert list(outside.iterdir()) == []
    assert backend.get_bytes("a") == b"a"


# -- a replace ------------------------------------------------------------------------------
class ReadCounting(LocalBackend):
    """A local backend that records every key read and the inode of every file moved."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[str] = []
        self.inodes: dict[str, int] = {}

    def _get(self, key: str) -> bytes:
        self.read.append(key)
        return super()._get(key)

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        self.read.append(key)
        return super()._get_range(key, start, length)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        self.read.extend(keys)
        return super()._get_many(keys)

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        for source, destination in pairs:
            self.inodes[destination] = os.stat(self.root / source).st_ino
        super()._move_many(pairs)


def test_a_local_replace_renames_the_staged_files_without_reading_them(tmp_path: Path) -> None:
    url = tmp_path / "cloud.zv"
    write_points(str(url), _points(1), chunk_shape=CHUNK)
    backend = ReadCounting(url)
    new = _points(2)
    write_points(backend, new, chunk_shape=CHUNK, mode="w")
    assert len(backend.inodes) > 100, "the replace moved its staged store with move_many"
    staged_reads = [k for k in backend.read if k.startswith(STAGED)]
    assert staged_reads == [], f"the replace read {len(staged_reads)} staged objects"
    moved = {k: os.stat(url / k).st_ino for k in backend.inodes}
    assert moved == backend.inodes  # renamed: every file kept its inode
    keys = list(LocalBackend(url).list_prefix("", recursive=True))
    assert not [k for k in keys if k.startswith(STAGED)]
    assert np.array_equal(_sorted(read_points(str(url)).positions), _sorted(new))


class Crash(BaseException):
    """Stands for the writer being killed (nothing catches it)."""


class DiesHalfWay(LocalBackend):
    """Moves every other pair of its first move_many call, then dies."""

    destinations: ClassVar[set[str]] = set()

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        self.destinations.update(dest for _, dest in pairs)
        super()._move_many(pairs[::2])
        raise Crash


def test_a_replace_killed_half_way_through_its_move_is_finished_by_the_next_writer(
    tmp_path: Path,
) -> None:
    url = tmp_path / "cloud.zv"
    old, new, more = _points(1), _points(2), _points(3, 500)
    box = ((0.0,) * 3, (1000.0,) * 3)
    write_points(str(url), old, chunk_shape=CHUNK, bounds=box)
    with pytest.raises(Crash):
        write_points(DiesHalfWay(url), new, chunk_shape=CHUNK, bounds=box, mode="w")
    keys = list(LocalBackend(url).list_prefix("", recursive=True))
    assert [k for k in keys if k.startswith(STAGED)], "the move was left half done"
    # The committed replace reads as the new store (staged objects first) ...
    assert np.array_equal(_sorted(read_points(str(url)).positions), _sorted(new))
    # ... and the next writer finishes the move before its own write.
    write_points(str(url), more, mode="a")
    keys = set(LocalBackend(url).list_prefix("", recursive=True))
    assert not [k for k in keys if k.startswith(STAGED)]
    # Every object of the new store is in place, those moved before the crash included.
    assert len(DiesHalfWay.destinations) > 100
    assert DiesHalfWay.destinations <= keys, sorted(DiesHalfWay.destinations - keys)[:5]
    got = read_points(str(url)).positions
    assert np.array_equal(_sorted(got), _sorted(np.concatenate([new, more])))

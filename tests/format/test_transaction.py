"""A failed write gives the store back as it found it: lease returned, staged copy and spill gone.

Faults are real OS errors: ENOSPC raised by a real local backend's own write
path (a subclass that fails the way a full disk does, until space is freed),
and a real full disk where a small tmpfs can be mounted. Also the refusals
that must come before anything is written: an append onto nothing without a
chunk shape (the refusals of an append onto a store are in test_appending.py).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.tmpfs import small_tmpfs
from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.format.lease import lease_of
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

CS = (200.0, 200.0, 200.0)
BOX = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
RNG = np.random.default_rng(7)
OLD = RNG.uniform(0, 1000, (5_000, 3)).astype(np.float32)
NEW = RNG.uniform(0, 1000, (20_000, 3)).astype(np.float32)


class FullDiskBackend(LocalBackend):
    """A local disk that fills up once ``room`` staged bytes are written (ENOSPC).

    Every write fails while the staged objects it allowed are still there, as on
    a full disk: the root write that gives the lease back succeeds only once the
    failed writer has deleted its staged copy.
    """

    room = 60_000

    def _write(self, key: str, path: Path, data: bytes) -> None:
        if self._staged_bytes() + len(data) > self.room:
            raise self._error("write", key, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        super()._write(key, path, data)

    def _staged_bytes(self) -> int:
        return sum(
            _bytes_under(entry)
            for entry in self.root.iterdir()
            if entry.name.startswith(".zv-staged-")
        )


def _bytes_under(folder: Path) -> int:
    """Bytes of the files under ``folder``, while other threads of the write rename theirs.

    A temporary file that was renamed between the listing and its ``stat`` holds no
    bytes any more (its content is counted under its new name, or not yet listed).
    """
    total = 0
    for directory, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.stat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                continue
    return total


def _root(store: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((store / "zarr.json").read_text())


def _leftovers(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.name.startswith(".zv-staged-"))


def _sorted(points: np.ndarray) -> np.ndarray:
    return points[np.lexsort(points.T[::-1])]


def test_failed_replace_removes_its_staged_copy_and_gives_the_lease_back(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    with pytest.raises(StoreError, match="No space left"):
        write_points(FullDiskBackend(store), NEW, chunk_shape=CS, bounds=BOX, mode="w")
    assert _leftovers(store) == []
    root = _root(store)
    assert lease_of(root) is None  # given back: the next writer need not wait
    assert "pending" not in root["attributes"].get("zarr_vectors_writer", {})
    np.testing.assert_array_equal(_sorted(read_points(store).positions), _sorted(OLD))
    write_points(store, NEW, chunk_shape=CS, bounds=BOX, mode="w", lock_timeout=0)
    assert len(read_points(store).positions) == len(NEW)


def test_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"

    class FullAtOnce(FullDiskBackend):
        def _staged_bytes(self) -> int:  # cells go in place on a first write: count them all
            return _bytes_under(self.root)

    with pytest.raises(StoreError, match="No space left"):
        write_points(FullAtOnce(store), NEW, chunk_shape=CS, bounds=BOX)
    assert not store.exists() or [p for p in store.rglob("*") if p.is_file()] == []
    write_points(store, OLD, chunk_shape=CS, bounds=BOX, mode="w-", lock_timeout=0)


def test_append_creating_a_store_while_another_writer_creates_it(tmp_path: Path) -> None:
    """Another writer creates the store between our root read and our listing.

    Its cells are then listed with no root read, which once looked like foreign
    data and refused the append (seen racing appends on S3); the root read again
    shows a store, and the append goes on under the lease after the other write.
    """
    store = tmp_path / "s.zv"
    store.mkdir()

    class OtherWriterMeanwhile(LocalBackend):
        listed = False

        def list_prefix(self, prefix: str = "", recursive: bool = False):  # type: ignore[no-untyped-def]
            if not self.listed:
                self.listed = True
                write_points(store, OLD, chunk_shape=CS, bounds=BOX, mode="a")
            return super().list_prefix(prefix, recursive)

    write_points(OtherWriterMeanwhile(store), NEW, chunk_shape=CS, bounds=BOX, mode="a")
    got = read_points(store)["positions"]
    np.testing.assert_array_equal(_sorted(got), _sorted(np.concatenate([OLD, NEW])))


def test_append_onto_nothing_without_chunk_shape_leaves_nothing(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    with pytest.raises(ValidationError, match="chunk_shape is required"):
        write_points(store, OLD, mode="a")
    assert not store.exists() or list(store.iterdir()) == []


def test_full_disk_during_replace_on_a_real_tmpfs(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "3m") as disk:
        store = disk / "s.zv"
        write_points(store, OLD, chunk_shape=CS, bounds=BOX)  # 125 cells: fits
        big = RNG.uniform(0, 1000, (400_000, 3)).astype(np.float32)
        with pytest.raises(StoreError, match="No space left"):
            write_points(
                store, big, chunk_shape=(100.0,) * 3, bounds=BOX, mode="w", compressor=None
            )
        assert _leftovers(store) == []
        assert lease_of(_root(store)) is None
        np.testing.assert_array_equal(_sorted(read_points(store).positions), _sorted(OLD))
        # The next writer is not stopped by the failed one's leftovers.
        write_points(store, OLD[:100], chunk_shape=CS, bounds=BOX, mode="w", lock_timeout=0)
        assert len(read_points(store).positions) == 100

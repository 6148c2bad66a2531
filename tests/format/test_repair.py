"""``verify --repair`` (and the next writer) remove what a killed writer left.

An append that dies after rewriting its cells leaves them holding uncommitted
rows: readers that know the journal cut them away, but readers that do not
(zarr-vectors 0.9.2, plain zarr) would see them. The cell objects a writer
that died this way left are made here by a real local backend that fails the
append just before its commit; repair must give back exactly the committed
bytes, and drop staged copies nobody names.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.format.test_transaction import FullDiskBackend
from zarr_vectors.exceptions import StoreError
from zarr_vectors.format.lease import lease_of
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.store import verify_store
from zarr_vectors.types.points import read_points, write_points

#: These tests kill writers; the next writer waits out the dead one's lease.
pytestmark = pytest.mark.usefixtures("short_lease")

CS = (200.0, 200.0, 200.0)
BOX = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
RNG = np.random.default_rng(13)
OLD = RNG.uniform(0, 1000, (5_000, 3)).astype(np.float32)
MORE = RNG.uniform(0, 1000, (2_000, 3)).astype(np.float32)
CLI = str(Path(sys.executable).with_name("zarr-vectors"))


class DiesBeforeCommit(LocalBackend):
    """Fails the append's level documents: its cells are rewritten, nothing is committed."""

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        if any(key.startswith("0/") and key.endswith("zarr.json") for key, _ in items):
            raise StoreError("the writer died here")
        super()._put_many(items)


def _cells(store: Path) -> dict[str, bytes]:
    base = store / "0" / "vertices" / "c"
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


@pytest.fixture
def unfinished(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    store = tmp_path / "s.zv"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    committed = _cells(store)
    with pytest.raises(StoreError, match="died here"):
        write_points(DiesBeforeCommit(store), MORE, mode="a")
    assert _cells(store) != committed  # what a journal-unaware reader would see
    assert lease_of(json.loads((store / "zarr.json").read_text())) is None  # given back
    assert len(read_points(store).positions) == len(OLD)  # ours cut it away
    return store, committed


def test_verify_repair_rolls_back_an_unfinished_append(
    unfinished: tuple[Path, dict[str, bytes]],
) -> None:
    store, committed = unfinished
    (store / ".zv-staged-0123456789ab" / "0").mkdir(parents=True)
    (store / ".zv-staged-0123456789ab" / "0" / "zarr.json").write_text("{}")
    report = verify_store(store, repair=True)
    assert report.ok
    assert any("rolled back" in r for r in report.repaired)
    assert any(".zv-staged-0123456789ab" in r for r in report.repaired)
    assert not (store / ".zv-staged-0123456789ab").exists()
    assert _cells(store) == committed  # a journal-unaware reader sees the committed points
    assert len(read_points(store).positions) == len(OLD)


def test_the_cli_repairs_and_the_next_writer_too(
    unfinished: tuple[Path, dict[str, bytes]],
) -> None:
    store, committed = unfinished
    plain = subprocess.run([CLI, "verify", str(store)], capture_output=True, text=True)
    assert plain.returncode == 0 and "did not finish" in plain.stdout + plain.stderr
    done = subprocess.run([CLI, "verify", "--repair", str(store)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "repaired: an unfinished append was rolled back" in done.stdout
    assert _cells(store) == committed
    write_points(store, MORE, mode="a")  # and a store repaired by a writer is whole too
    assert len(read_points(store).positions) == len(OLD) + len(MORE)


@pytest.mark.parametrize("backend", ["local", "fsspec"])
def test_repair_deletes_the_temporary_files_of_killed_puts(tmp_path: Path, backend: str) -> None:
    # A local put writes .zv-tmp-* beside its key and renames it; a writer killed in
    # between leaves the file. One is made here in a cell folder and at the top.
    url = (tmp_path / "tmp.zarr").as_uri()
    write_points(url, OLD, chunk_shape=CS, bounds=BOX, backend=backend)
    cell_dir = next(p for p in (tmp_path / "tmp.zarr" / "0" / "vertices").rglob("*") if p.is_dir())
    leftovers = [cell_dir / ".zv-tmp-killed1", tmp_path / "tmp.zarr" / ".zv-tmp-killed2"]
    for path in leftovers:
        path.write_bytes(b"half a cell")
    with LocalBackend(url) as local:
        assert not any(".zv-tmp-" in key for key in local.list_prefix("", recursive=True))

    report = verify_store(url, repair=True, backend=backend)

    assert not any(path.exists() for path in leftovers)
    assert any("2 temporary file(s)" in line for line in report.repaired), report.repaired
    assert report.ok
    assert read_points(url, backend=backend).vertex_count == len(OLD)


# -- a writer killed on a full disk -------------------------------------------------------
class KilledOnFullDisk(FullDiskBackend):
    """A writer SIGKILLed when its staged copy filled the disk: nothing of it runs after.

    Its first refused write is its death; from then on every write and delete of
    this instance fails, so it neither deletes its staged copy nor gives its lease
    back, as a killed process would not.
    """

    dead = False

    def _write(self, key: str, path: Path | str, data: bytes) -> None:
        if self.dead:
            raise StoreError("the writer is dead")
        try:
            super()._write(key, path, data)  # type: ignore[arg-type]
        except StoreError:
            self.dead = True
            raise

    def _delete_many(self, keys: list[str]) -> None:
        if self.dead:
            raise StoreError("the writer is dead")
        super()._delete_many(keys)

    def _delete_prefix(self, prefix: str) -> None:
        if self.dead:
            raise StoreError("the writer is dead")
        super()._delete_prefix(prefix)


def _killed_on_a_full_disk(store: Path) -> None:
    """A replace of ``store`` killed with the disk full of its staged copy, its lease run out."""
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    big = RNG.uniform(0, 1000, (8_000, 3)).astype(np.float32)  # 96 kB: more than the room
    with pytest.raises(StoreError):
        write_points(KilledOnFullDisk(store), big, chunk_shape=CS, bounds=BOX, mode="w")
    assert [p.name for p in store.iterdir() if p.name.startswith(".zv-staged-")]
    root = json.loads((store / "zarr.json").read_text())
    writer = root["attributes"]["zarr_vectors_writer"]
    assert writer["pending"]["staged"] and writer["lease"]  # killed: nothing given back
    writer["lease"]["expires"] = 0  # the lease ran out (rather than waiting 60 s for it)
    (store / "zarr.json").write_text(json.dumps(root))


def test_the_next_writer_deletes_a_killed_writers_staged_copy_before_it_writes(
    tmp_path: Path,
) -> None:
    store = tmp_path / "s.zv"
    _killed_on_a_full_disk(store)
    write_points(FullDiskBackend(store), MORE, chunk_shape=CS, bounds=BOX, mode="w")
    assert not [p for p in store.iterdir() if p.name.startswith(".zv-staged-")]
    assert read_points(store).vertex_count == len(MORE)


def test_verify_repair_succeeds_on_the_full_disk(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    _killed_on_a_full_disk(store)
    report = verify_store(FullDiskBackend(store), repair=True)
    assert report.ok, report.problems
    assert any("unfinished replace" in line for line in report.repaired)
    assert not [p for p in store.iterdir() if p.name.startswith(".zv-staged-")]
    assert read_points(store).vertex_count == len(OLD)  # the old store, whole


class NoSpaceAtAll(LocalBackend):
    """A disk with no byte left, full of nothing this package wrote."""

    def _write(self, key: str, path: Path | str, data: bytes) -> None:
        raise self._error("write", key, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def test_a_disk_full_of_other_things_is_one_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    before = (store / "zarr.json").read_bytes()
    with pytest.raises(StoreError, match=r"disk is full.*Free space on that disk") as caught:
        write_points(NoSpaceAtAll(store), MORE, mode="a", lock_timeout=0)
    assert "verify --repair" in str(caught.value) and "\n" not in str(caught.value)
    assert (store / "zarr.json").read_bytes() == before

"""What an unfinished write left, repaired by the next writer (``zarr_vectors.format.recovery``).

``recover`` runs under the lease on a store whose root holds a journal entry: an
append that died before its commit is undone (touched cells back to their committed
bytes, cells it created gone, its commit record dropped); a replace that died before
its commit is dropped (its staged copy deleted), one that died after it is finished.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.format.test_repair import DiesBeforeCommit
from tests.helpers.stores import snapshot_of
from zarr_vectors.exceptions import StoreError
from zarr_vectors.format.journal import Pending, log_key
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.recovery import recover
from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

CS = (250.0, 250.0, 250.0)
BOX = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
RNG = np.random.default_rng(5)
#: The old points fill the lower half of the box; the new ones the whole, so an
#: append both rewrites cells and creates some.
OLD = RNG.uniform(0, 499, (600, 3)).astype(np.float32)
MORE = RNG.uniform(0, 1000, (300, 3)).astype(np.float32)


class DiesMovingIntoPlace(LocalBackend):
    """Fails every move: a replace dies just after its commit, its new store still staged."""

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        raise StoreError("the writer died here")


def cell_objects(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes()
        for p in (store / "0").rglob("*")
        if p.is_file() and "/c/" in p.as_posix()
    }


def state(store: Path) -> tuple[int, Pending | None, int]:
    """(generation, journal entry, level 0's vertex count) of the store as it is."""
    with snapshot_of(store) as snap:
        return snap.generation, snap.pending, snap.level_meta(0).vertex_count


def recovered(store: Path) -> None:
    with LocalBackend(store) as backend, RootLease(backend) as lease:
        snap = recover(backend, load_snapshot(backend), lease)
        assert snap.pending is None
        lease.release(snap.root_doc)


@pytest.mark.parametrize("consolidate", [True, False])
def test_an_unfinished_append_is_undone(tmp_path: Path, consolidate: bool) -> None:
    store = tmp_path / "s"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX, consolidate=consolidate)
    committed = cell_objects(store)
    generation = state(store)[0]
    with pytest.raises(StoreError, match="died here"):
        write_points(DiesBeforeCommit(store), MORE, mode="a")
    assert cell_objects(store) != committed and len(cell_objects(store)) > len(committed)
    assert state(store)[1] is not None

    recovered(store)

    assert cell_objects(store) == committed  # byte for byte, the created cells gone
    assert state(store) == (generation, None, len(OLD))
    assert not (store / log_key(generation + 1)).exists()
    assert read_points(store).vertex_count == len(OLD)
    write_points(store, MORE, mode="a")  # and the store takes the next write
    assert read_points(store).vertex_count == len(OLD) + len(MORE)


def test_a_replace_that_died_before_its_commit_is_dropped(tmp_path: Path) -> None:
    store = tmp_path / "s"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    committed = cell_objects(store)
    root = json.loads((store / "zarr.json").read_text())
    staged = ".zv-staged-0123456789ab"
    root["attributes"]["zarr_vectors_writer"]["pending"] = {
        "mode": "w",
        "staged": staged,
        "state": "writing",
    }
    (store / "zarr.json").write_text(json.dumps(root))
    (store / staged / "0").mkdir(parents=True)
    (store / staged / "0" / "zarr.json").write_text("{}")

    recovered(store)

    assert not (store / staged).exists()
    assert cell_objects(store) == committed
    assert read_points(store).vertex_count == len(OLD)


def test_a_replace_that_died_after_its_commit_is_finished(tmp_path: Path) -> None:
    store = tmp_path / "s"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    with pytest.raises(StoreError, match="died here"):
        write_points(DiesMovingIntoPlace(store), MORE, chunk_shape=CS, bounds=BOX, mode="w")
    _, pending, _ = state(store)
    assert pending is not None and pending.state == "moving"
    assert read_points(store).vertex_count == len(MORE)  # committed: read from the staged copy

    recovered(store)

    assert not [p for p in store.iterdir() if p.name.startswith(".zv-staged-")]
    assert read_points(store).vertex_count == len(MORE)


def test_a_store_with_nothing_unfinished_is_left_alone(tmp_path: Path) -> None:
    store = tmp_path / "s"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    before = cell_objects(store)
    with LocalBackend(store) as backend, RootLease(backend) as lease:
        snap = load_snapshot(backend)
        assert recover(backend, snap, lease) is snap
        lease.release(snap.root_doc)
    assert cell_objects(store) == before

"""Create and replace (``zarr_vectors.format.staging``).

A replace stages the new store beside the old one and swaps it in: readers see the
old store, whole, until the commit and the new one after; a replace that fails before
its commit leaves the old store and nothing of the staged one. A failed first write
leaves nothing; clearing a store keeps its root, log and claims.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.format.journal import (
    CLAIMS_PREFIX,
    ROOT_KEY,
    bump,
    gather_node_docs,
    log_key,
)
from zarr_vectors.format.lease import RootLease
from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.format.staging import _points_progress, clear_store, swap_in
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

CS = (50.0, 50.0, 50.0)
BOX = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
RNG = np.random.default_rng(3)
OLD = RNG.uniform(0, 100, (300, 3)).astype(np.float32)
NEW = RNG.uniform(0, 100, (120, 3)).astype(np.float32)


def keys(store: Path) -> set[str]:
    return {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    """The store replaced (``OLD``) and a store of what replaces it (``NEW``)."""
    write_points(tmp_path / "old", OLD, chunk_shape=CS, bounds=BOX)
    write_points(tmp_path / "new", NEW, chunk_shape=CS, bounds=BOX)
    return tmp_path / "old", tmp_path / "new"


def test_readers_see_the_old_store_until_the_commit(stores: tuple[Path, Path]) -> None:
    old, new = stores
    seen_while_staging: list[int] = []
    with LocalBackend(new) as source:
        docs = gather_node_docs(source)
        objects = [(k, source.get_bytes(k)) for k in sorted(keys(new)) if k != ROOT_KEY]
        new_meta = load_snapshot(source).meta
    with LocalBackend(old) as backend, RootLease(backend) as lease:
        snap = load_snapshot(backend)
        meta = replace(new_meta, generation=snap.generation + 1)

        def write(prefix: str) -> dict[str, dict[str, object]]:
            assert prefix.startswith(".zv-staged-")
            backend.put_many([(prefix + k, v) for k, v in objects if not k.endswith("zarr.json")])
            seen_while_staging.append(read_points(old).vertex_count)
            return docs  # type: ignore[return-value]

        swap_in(backend, snap.root_doc, meta, lease, write, consolidate=True)
    assert seen_while_staging == [len(OLD)]
    got = read_points(old)
    np.testing.assert_array_equal(np.sort(got.positions, axis=0), np.sort(NEW, axis=0))
    assert not [k for k in keys(old) if k.startswith(".zv-staged-")]
    assert (old / log_key(meta.generation)).exists()  # the commit record


def test_a_replace_failing_before_its_commit_leaves_the_old_store(
    stores: tuple[Path, Path],
) -> None:
    old, _ = stores
    before = keys(old)
    with LocalBackend(old) as backend, RootLease(backend) as lease:
        snap = load_snapshot(backend)

        def write(prefix: str) -> dict[str, dict[str, object]]:
            backend.put_bytes(prefix + "0/vertices/c/0/0/0", b"half a store")
            raise StoreError("the disk went away")

        with pytest.raises(StoreError, match="the disk went away"):
            swap_in(backend, snap.root_doc, bump(snap.meta), lease, write, consolidate=True)
        after = load_snapshot(backend)
        assert after.pending is None  # the journal entry cleared once the copy was gone
        lease.release(after.root_doc)
    assert keys(old) == before
    assert read_points(old).vertex_count == len(OLD)


def test_clearing_a_store_keeps_its_root_log_claims_and_what_is_asked(tmp_path: Path) -> None:
    with LocalBackend(tmp_path) as backend:
        for key in [ROOT_KEY, log_key(1), f"{CLAIMS_PREFIX}/abc", "0/zarr.json", "0/c/0", "keep"]:
            backend.put_bytes(key, b"x")
        clear_store(backend, keep=["keep"])
    assert keys(tmp_path) == {ROOT_KEY, log_key(1), f"{CLAIMS_PREFIX}/abc", "keep"}


def test_a_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with pytest.raises(ValidationError, match="outside the bounds"):
        write_points(store, iter([OLD, OLD + 500]), chunk_shape=CS, bounds=BOX)
    assert not store.exists() or keys(store) == set()


def test_a_sharded_store_with_levels_from_batches_needs_a_corner_on_the_grid(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="lower corner is a multiple of chunk_shape \\* 2"):
        write_points(
            tmp_path / "s",
            iter([OLD]),
            chunk_shape=CS,
            bounds=((-50.0, 0.0, 0.0), (100.0, 100.0, 100.0)),
            levels=2,
            shard_shape=(2, 2, 2),
        )


def test_progress_is_counted_in_points() -> None:
    seen: list[tuple[int, int]] = []
    report = _points_progress(lambda done, total: seen.append((done, total)), 100, 50, 400)
    report(0, 10)
    report(5, 10)
    report(10, 10)
    assert seen == [(100, 400), (125, 400), (150, 400)]
    unknown = _points_progress(lambda done, total: seen.append((done, total)), 0, 8, None)
    unknown(0, 0)  # a partition with no objects: all of its points are placed
    assert seen[-1] == (8, 8)

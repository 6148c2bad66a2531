"""Objects read back whole across cells (``zarr_vectors.format.objread``).

A read by id, by group or by box fetches only the cells its objects touch; what it
gathers is verified (cells whose fragments disagree with the manifests, a changed
byte) and a read of what is not there is refused naming what is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.format.test_objects import BOUNDS, CS, walks
from tests.helpers.stores import snapshot_of
from tests.types.test_points_backends import CountingBackend
from zarr_vectors.exceptions import CorruptStoreError, ValidationError
from zarr_vectors.format.objects import encode_fragment_ranges
from zarr_vectors.format.objread import group_members, read_objects
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points
from zarr_vectors.types.polylines import read_polylines, write_polylines


def test_reads_by_id_and_group_fetch_only_the_cells_touched(tmp_path: Path) -> None:
    lines = walks(50)
    write_polylines(
        tmp_path / "s", lines, chunk_shape=CS, bounds=BOUNDS, groups={0: [4, 9], 1: [1]}
    )
    backend = CountingBackend(LocalBackend(tmp_path / "s"))
    got = read_polylines(backend, object_ids=[4, 9])
    np.testing.assert_array_equal(got.polylines[0], lines[4])
    cells = {tuple(c) for i in (4, 9) for c in np.floor(lines[i] / 100).astype(int).tolist()}
    vertex_gets = [k for op, k in backend.requests if op == "get" and k.startswith("0/vertices/c/")]
    assert len(vertex_gets) == len(cells)
    assert {tuple(int(x) for x in k.split("/")[3:]) for k in vertex_gets} == cells
    everything = len(list((tmp_path / "s" / "0" / "vertices" / "c").rglob("*/*/*")))
    assert len(cells) < everything / 2
    backend.requests.clear()
    got = read_polylines(backend, group_ids=[1])
    assert got.object_ids.tolist() == [1]
    gets = {k for op, k in backend.requests if op == "get" and k.startswith("0/vertices/c/")}
    assert len(gets) == len({tuple(c) for c in np.floor(lines[1] / 100).astype(int).tolist()})


def test_an_object_whose_cells_disagree_is_a_corrupt_store(tmp_path: Path) -> None:
    lines = walks(10, 1)
    write_polylines(tmp_path / "s", lines, chunk_shape=CS, bounds=BOUNDS)
    # Replace one cell's fragment index by one naming a single fragment: the objects whose
    # manifests name its other fragments no longer agree with it.
    cells = sorted((tmp_path / "s" / "0" / "vertex_fragments" / "c").rglob("*/*/*"))
    victim = max(cells, key=lambda p: p.stat().st_size)
    from zarr_vectors.format.cells import CellCodec, codec_chain

    codec = CellCodec(tuple(codec_chain(None)))
    victim.write_bytes(
        codec.encode(encode_fragment_ranges(np.zeros(1, np.int64), np.ones(1, np.int64)))
    )
    with pytest.raises(CorruptStoreError, match=r"disagree|fragment"):
        read_polylines(tmp_path / "s")


def test_a_flipped_byte_in_a_cell_is_caught(tmp_path: Path) -> None:
    write_polylines(tmp_path / "s", walks(5, 2), chunk_shape=CS, bounds=BOUNDS)
    victim = next((tmp_path / "s" / "0" / "vertices" / "c").rglob("*/*/*"))
    data = bytearray(victim.read_bytes())
    data[10] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match="checksum"):
        read_polylines(tmp_path / "s")


@pytest.fixture
def snap(tmp_path: Path) -> Iterator[Snapshot]:
    write_polylines(
        tmp_path / "s",
        walks(8, 4),
        chunk_shape=CS,
        bounds=BOUNDS,
        groups={0: [1, 2], 1: [7]},
        object_attributes={"len": np.arange(8, dtype=np.float32)},
    )
    with snapshot_of(tmp_path / "s") as snap:
        yield snap


def test_group_members_and_unknown_groups(snap: Snapshot) -> None:
    np.testing.assert_array_equal(group_members(snap, 0, [1, 0]), [1, 2, 7])
    assert group_members(snap, 0, []).tolist() == []
    with pytest.raises(
        ValidationError, match=r"group ids \[2, -1\] do not exist; the store has groups 0..1"
    ):
        group_members(snap, 0, [2, -1])


def test_a_group_may_be_stored_as_a_range_of_ids(tmp_path: Path) -> None:
    store = tmp_path / "r"
    write_polylines(
        store,
        walks(6, 5),
        chunk_shape=CS,
        bounds=BOUNDS,
        groups={0: [0], 1: [5]},
        consolidate=False,
    )
    doc_path = store / "0" / "groups" / "zarr.json"
    doc = json.loads(doc_path.read_text())
    doc["attributes"]["group_ranges"] = {"1": [2, 5]}  # ids 2, 3, 4 (the stored blob says 5)
    doc_path.write_text(json.dumps(doc))
    with snapshot_of(store) as snap:
        np.testing.assert_array_equal(group_members(snap, 0, [1]), [2, 3, 4])
        np.testing.assert_array_equal(group_members(snap, 0, [0, 1]), [0, 2, 3, 4])


def test_objects_are_read_whole_by_id_or_box(snap: Snapshot) -> None:
    lines = walks(8, 4)
    got = read_objects(snap, 0, object_ids=[5, 3, 99], object_attribute_names=["len"])
    assert got.object_ids.tolist() == [3, 5]  # an id the store does not hold is not read
    for k, i in enumerate(got.object_ids.tolist()):
        np.testing.assert_array_equal(got.positions[got.offsets[k] : got.offsets[k + 1]], lines[i])
    np.testing.assert_array_equal(got.object_attributes["len"], [3, 5])
    box = (lines[6].min(axis=0), lines[6].max(axis=0))
    near = read_objects(snap, 0, bbox=box)
    assert 6 in near.object_ids.tolist() and near.cells_read > 0


def test_reading_what_is_not_there_is_refused(snap: Snapshot, tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"attribute\(s\) \['width'\] do not exist at level 0"
    ):
        read_objects(snap, 0, attribute_names=["width"])
    write_points(tmp_path / "pts", np.zeros((3, 3)), chunk_shape=CS)
    with LocalBackend(tmp_path / "pts") as backend:
        with pytest.raises(
            ValidationError, match=r"has no object index .* read it with read_points"
        ):
            read_objects(load_snapshot(backend), 0)
        with pytest.raises(ValidationError, match="level 0 of this store has no groups"):
            group_members(load_snapshot(backend), 0, [0])

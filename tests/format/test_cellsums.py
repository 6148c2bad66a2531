"""Attribute cells are bound to their keys by the table of their checksums (issue 18).

Vertices cells are bound to their keys by their points; an attribute cell has
no positions, so two attribute cells of equal row counts swapped on disk read
silently as each other's values unless each array lists its cells' checksums.
Real files are swapped here (plain, compressed, without the crc32c codec,
sharded), and reads (whole, by box, through Dask) and ``verify`` must name the
cell; writes that keep cells (appends, a repaired append) keep the table right.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError, StoreError
from zarr_vectors.format.cells import CellCodec, codec_chain
from zarr_vectors.format.cellsums import TABLE, known_checksums, restrict_listing, table_for
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.store import verify_store
from zarr_vectors.types.points import read_points, write_points

CS = (200.0, 200.0, 200.0)
BOX = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
PER_CELL = 40  # cells 0/0/1 and 0/0/2 hold as many points each: same sizes when swapped
INTENSITY = "0/vertex_attributes/intensity"


def _points() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    one = rng.uniform((10, 10, 210), (190, 190, 390), (PER_CELL, 3))
    two = rng.uniform((10, 10, 410), (190, 190, 590), (PER_CELL, 3))
    rest = rng.uniform((200, 0, 0), (1000, 1000, 1000), (600, 3))  # none in cells 0.0.*
    pos = np.concatenate([one, two, rest]).astype(np.float32)
    return pos, {"intensity": np.arange(len(pos), dtype=np.float32)}


def _swap(a: Path, b: Path) -> None:
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)


def _attrs(store: Path, path: str) -> dict[str, Any]:
    root = json.loads((store / "zarr.json").read_text())
    return root["consolidated_metadata"]["metadata"][path]["attributes"]  # type: ignore[no-any-return]


KINDS = {
    "plain": {},
    "zstd": {"compressor": "zstd"},
    "no crc32c codec": {"checksum": False},
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_swapped_attribute_cells_of_equal_size_are_named(tmp_path: Path, kind: str) -> None:
    store = tmp_path / "s.zv"
    pos, attrs = _points()
    write_points(store, pos, vertex_attributes=attrs, chunk_shape=CS, bounds=BOX, **KINDS[kind])
    cells = store / INTENSITY / "c" / "0" / "0"
    _swap(cells / "1", cells / "2")

    with pytest.raises(CorruptStoreError, match=r"intensity/c/0/0/[12] .*another cell's bytes"):
        read_points(store)
    with pytest.raises(CorruptStoreError, match=r"intensity/c/0/0/1 .*another cell's bytes"):
        read_points(store, bbox=((10, 10, 210), (190, 190, 390)))
    report = verify_store(store)
    named = sorted(p.where for p in report.errors)
    assert named == ["level 0 cell 0.0.1", "level 0 cell 0.0.2"], report.problems
    # Another box, and the positions alone, read as ever.
    assert read_points(store, bbox=((600, 600, 600), (999, 999, 999))).vertex_count > 0


def test_a_cell_rewritten_whole_by_a_writer_without_tables_is_read_and_warned_of(
    tmp_path: Path,
) -> None:
    # The published 0.9.2 edits cells in place and knows nothing of the table: a cell
    # it rewrote (its own crc32c sound, its bytes no listed cell's) is not corruption.
    store = tmp_path / "s.zv"
    pos, attrs = _points()
    write_points(store, pos, vertex_attributes=attrs, chunk_shape=CS, bounds=BOX)
    cell = store / INTENSITY / "c/0/0/1"
    edited = np.full(PER_CELL, -1.0, dtype="<f4")
    cell.write_bytes(CellCodec(tuple(codec_chain(None))).encode(edited.tobytes()))

    got = read_points(store, bbox=((10, 10, 210), (190, 190, 390)))
    assert got.vertex_attributes["intensity"].tolist() == [-1.0] * PER_CELL
    report = verify_store(store)
    assert report.ok
    assert [p.where for p in report.problems] == ["level 0 0/vertex_attributes/intensity/c/0/0/1"]
    assert report.problems[0].severity == "warning"


def test_sharded_stores_bind_the_cells_inside_shards(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    pos, attrs = _points()
    write_points(store, pos, vertex_attributes=attrs, chunk_shape=CS, bounds=BOX, shard_shape=1)
    _swap(store / INTENSITY / "c/0/0/1", store / INTENSITY / "c/0/0/2")  # shards of one cell
    with pytest.raises(CorruptStoreError, match="another cell's bytes"):
        read_points(store, bbox=((10, 10, 410), (190, 190, 590)))
    assert len(verify_store(store).errors) == 2


def test_appends_and_streamed_writes_keep_every_cell_bound(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    pos, attrs = _points()
    batches = ((pos[i : i + 200], {"intensity": attrs["intensity"][i : i + 200]}) for i in (0, 200))
    write_points(store, batches, vertex_attributes=None, chunk_shape=CS, bounds=BOX)
    rest = slice(400, None)
    write_points(
        store, pos[rest], vertex_attributes={"intensity": attrs["intensity"][rest]}, mode="a"
    )
    listed = known_checksums(_attrs(store, INTENSITY))
    assert len(listed) == len(_attrs(store, "0/vertices")["nonempty_chunks"])
    assert verify_store(store).ok
    assert read_points(store).vertex_count == len(pos)
    _swap(store / INTENSITY / "c/0/0/1", store / INTENSITY / "c/0/0/2")
    with pytest.raises(CorruptStoreError, match="another cell's bytes"):
        read_points(store)


class DiesBeforeCommit(LocalBackend):
    """Fails an append's level documents: its cells are rewritten, nothing is committed."""

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        if any(key.startswith("0/") and key.endswith("zarr.json") for key, _ in items):
            raise StoreError("the writer died here")
        super()._put_many(items)


def test_a_rolled_back_append_lists_the_cells_it_cut_back(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    pos, attrs = _points()
    write_points(store, pos, vertex_attributes=attrs, chunk_shape=CS, bounds=BOX)
    before = _attrs(store, INTENSITY)[TABLE]
    more = np.array([[100.0, 100.0, 300.0], [950.0, 950.0, 950.0]], dtype=np.float32)
    with pytest.raises(StoreError, match="died here"):
        write_points(
            DiesBeforeCommit(store), more, vertex_attributes={"intensity": more[:, 0]}, mode="a"
        )
    report = verify_store(store, repair=True)
    assert report.ok and report.repaired
    assert _attrs(store, INTENSITY)[TABLE] == before  # the cut-back cells are the old bytes
    assert read_points(store).vertex_count == len(pos)


def test_a_dask_partition_checks_its_cells_against_its_share_of_the_table(tmp_path: Path) -> None:
    # What each Dask read task does, without Dask: the driver's root cut to the task's
    # cells (dask.read._partition_root), then the cells read from that snapshot.
    from zarr_vectors.dask.read import _partition_root
    from zarr_vectors.format.levels import fetch_cells
    from zarr_vectors.format.snapshot import load_snapshot, snapshot_from_doc

    store = tmp_path / "s.zv"
    pos, attrs = _points()
    write_points(store, pos, vertex_attributes=attrs, chunk_shape=CS, bounds=BOX)
    _swap(store / INTENSITY / "c/0/0/1", store / INTENSITY / "c/0/0/2")
    with LocalBackend(store) as backend:
        snap = load_snapshot(backend)
        paths = ["0/vertices", "0/vertex_fragments", INTENSITY]
        docs = {p: snap.node(p) for p in paths}
        # A task knows its share of the table: swaps among its own cells are caught.
        for share, bad in ((["2.0.0", "0.0.1", "0.0.2"], True), (["1.0.0", "3.3.3"], False)):
            part = snapshot_from_doc(backend, _partition_root(snap, 0, docs, share))
            assert known_checksums(part.node(INTENSITY)["attributes"]).keys() == set(share)
            if bad:
                with pytest.raises(CorruptStoreError, match=r"0/0/[12] .*another cell's bytes"):
                    fetch_cells(part, 0, only=set(share))
            else:
                cells, _, _ = fetch_cells(part, 0, only=set(share))
                assert len(cells) == len(share)


def test_a_table_that_does_not_fit_its_listing_is_not_used() -> None:
    listing = ["0.0.1", "0.0.2", "1.0.0"]
    table = table_for(listing, {"0.0.1": 1, "0.0.2": 2, "1.0.0": 2**32 - 1})
    assert table is not None
    attrs = {"nonempty_chunks": listing, TABLE: table}
    assert known_checksums(attrs) == {"0.0.1": 1, "0.0.2": 2, "1.0.0": 2**32 - 1}
    assert table_for(listing, {"0.0.1": 1}) is None  # a cell without a checksum: no table
    assert known_checksums({**attrs, "nonempty_chunks": listing[:2]}) == {}
    assert known_checksums({**attrs, TABLE: "not base64!"}) == {}
    share = restrict_listing(attrs, ["1.0.0"])
    assert known_checksums(share) == {"1.0.0": 2**32 - 1}

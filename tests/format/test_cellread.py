"""Fetching, verifying and decoding a level's cells as of a snapshot (``format.cellread``).

A read plans its cells (all, those meeting a box, or those named), fetches them in
one batch and decodes them; every listed cell must be there and its arrays agree,
or the cell is named in a ``CorruptStoreError``; cells appended to since the
snapshot are cut back to the snapshot's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.stores import snapshot_of
from zarr_vectors.exceptions import CorruptStoreError, ValidationError
from zarr_vectors.format.cellread import (
    Cell,
    appended_since,
    changed_since,
    fetch_cells,
    listed_cells,
    plan_cells,
)
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points

CS = (10.0, 10.0)
BOX = ((0.0, 0.0), (30.0, 30.0))
PTS = np.random.default_rng(2).uniform(0, 30, (300, 2)).astype(np.float32)
IDS = np.arange(len(PTS), dtype=np.int64)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s"
    write_points(
        path, PTS, chunk_shape=CS, bounds=BOX, vertex_attributes={"id": IDS}, consolidate=False
    )
    return path


@pytest.fixture
def snap(store: Path) -> Iterator[Snapshot]:
    with snapshot_of(store) as snap:
        yield snap


def ids_of(cells: list[Cell]) -> np.ndarray:
    return np.sort(np.concatenate([c.attributes["id"] for c in cells]))


def test_a_whole_level_reads_back_every_row_in_its_cell(snap: Snapshot) -> None:
    cells, dtype, layout = fetch_cells(snap, 0)
    assert len(cells) == 9 and dtype == np.float32 and layout == {"id": (np.dtype("<i8"), ())}
    np.testing.assert_array_equal(ids_of(cells), IDS)
    for c in cells:
        i, j = (int(v) for v in c.key.split("."))
        assert (c.positions // 10 == [i, j]).all()
        np.testing.assert_array_equal(c.positions, PTS[c.attributes["id"]])


def test_cells_are_chosen_by_box_or_by_key(snap: Snapshot) -> None:
    cells, _, _ = fetch_cells(snap, 0, bbox=((0.0, 0.0), (9.0, 19.0)))
    assert sorted(c.key for c in cells) == ["0.0", "0.1"]
    cells, _, _ = fetch_cells(snap, 0, only={"2.2"}, attribute_names_=[])
    assert [c.key for c in cells] == ["2.2"] and cells[0].attributes == {}
    with pytest.raises(ValidationError, match=r"attribute\(s\) \['rgb'\] do not exist at level 0"):
        plan_cells(snap, 0, bbox=None, only=None, attribute_names_=["rgb"])


def test_a_missing_listed_cell_is_named(store: Path) -> None:
    (store / "0" / "vertices" / "c" / "1" / "2").unlink()
    with (
        LocalBackend(store) as backend,
        pytest.raises(
            CorruptStoreError,
            match=r"0/vertices/c/1/2 \(level 0\): the cell is listed in nonempty_chunks but",
        ),
    ):
        fetch_cells(load_snapshot(backend), 0)


def test_cells_that_disagree_are_named(store: Path) -> None:
    cell = store / "0" / "vertex_attributes" / "id" / "c" / "0" / "0"
    other = store / "0" / "vertex_attributes" / "id" / "c" / "2" / "2"
    cell.write_bytes(other.read_bytes())  # another cell's ids: a different count
    with (
        LocalBackend(store) as backend,
        pytest.raises(
            CorruptStoreError, match=r"id/c/0/0 \(level 0\): \d+ attribute values for \d+ points"
        ),
    ):
        fetch_cells(load_snapshot(backend), 0)
    vertices = store / "0" / "vertices" / "c"
    (vertices / "0" / "0").write_bytes((vertices / "2" / "2").read_bytes())
    with (
        LocalBackend(store) as backend,
        pytest.raises(CorruptStoreError, match=r"0/vertices/c/0/0 \(level 0\)"),
    ):
        fetch_cells(load_snapshot(backend), 0, attribute_names_=[])


def test_a_level_whose_cells_do_not_add_up_is_corrupt(store: Path) -> None:
    level = store / "0" / "zarr.json"
    doc = json.loads(level.read_text())
    doc["attributes"]["zarr_vectors_level"]["vertex_count"] = 301
    level.write_text(json.dumps(doc))
    with (
        LocalBackend(store) as backend,
        pytest.raises(
            CorruptStoreError, match="level 0 says it holds 301 points but its cells hold 300"
        ),
    ):
        fetch_cells(load_snapshot(backend), 0)


def test_cells_are_listed_from_the_document_or_the_store(snap: Snapshot) -> None:
    from_doc = listed_cells(snap, 0, {"nonempty_chunks": ["0.1", "2.0"]}, [0, 0])
    np.testing.assert_array_equal(from_doc, [[0, 1], [2, 0]])
    listed = listed_cells(snap, 0, {}, [0, 0])  # no list: the cell objects are listed
    assert sorted(map(tuple, listed.tolist())) == [(i, j) for i in range(3) for j in range(3)]
    shifted = listed_cells(snap, 0, {}, [-1, 5])
    assert (-1, 5) in set(map(tuple, shifted.tolist()))


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("0.0", "nonempty_chunks is a str, not a list"),
        (["0.x"], "nonempty_chunks holds '0.x', not a cell key like '0.1.2'"),
        (["0.0.0"], "nonempty_chunks entry '0.0.0' has 3 coordinates, the store has 2 axes"),
    ],
)
def test_a_damaged_cell_list_is_named(snap: Snapshot, listed: object, message: str) -> None:
    with pytest.raises(CorruptStoreError, match=f"level 0 vertices: {message}"):
        listed_cells(snap, 0, {"nonempty_chunks": listed}, [0, 0])


def test_an_append_since_the_snapshot_is_cut_back(store: Path) -> None:
    with LocalBackend(store) as backend:
        snap = load_snapshot(backend)
        assert not appended_since(snap, 0)
        more = np.array([[1.0, 1.0], [25.0, 25.0]], np.float32)
        write_points(store, more, mode="a", vertex_attributes={"id": np.array([900, 901])})
        assert appended_since(snap, 0) and not appended_since(snap, 1)
        limits = changed_since(snap, 0, {})
        assert set(limits) == {"0.0", "2.2"}
        assert limits["0.0"] == int((PTS // 10 == [0, 0]).all(axis=1).sum())
        cells, _, _ = fetch_cells(snap, 0)  # the snapshot's state, not the appended one
        np.testing.assert_array_equal(ids_of(cells), IDS)
        fresh, _, _ = fetch_cells(load_snapshot(backend), 0)
        assert len(ids_of(fresh)) == len(IDS) + 2

"""What a reader knows after reading a store's root (``zarr_vectors.format.snapshot``).

One request opens a store; node documents come from consolidated metadata or are
fetched once; a snapshot keeps showing the store as it was when opened (appends
since are found through the commit records, a replace since is stale).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import (
    CorruptStoreError,
    StaleSnapshotError,
    StoreError,
    ValidationError,
)
from zarr_vectors.format.snapshot import load_snapshot, parse_json_doc, snapshot_from_doc
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points

CS = (50.0, 50.0, 50.0)
BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
PTS = np.random.default_rng(0).uniform(0, 100, (200, 3)).astype(np.float32)


def store(tmp_path: Path, *, consolidate: bool) -> Path:
    path = tmp_path / f"s{int(consolidate)}"
    write_points(
        path,
        PTS,
        chunk_shape=CS,
        bounds=BOUNDS,
        vertex_attributes={"id": np.arange(len(PTS))},
        consolidate=consolidate,
    )
    return path


class CountingLocal(LocalBackend):
    """Counts ``get_many`` calls (requests for objects)."""

    gets = 0

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        self.gets += 1
        return super().get_many(keys)


@pytest.mark.parametrize("consolidate", [True, False])
def test_node_documents_come_from_the_root_or_are_fetched_once(
    tmp_path: Path, consolidate: bool
) -> None:
    with CountingLocal(store(tmp_path, consolidate=consolidate)) as backend:
        snap = load_snapshot(backend)
        assert backend.gets == 1
        assert (snap.consolidated is not None) is consolidate
        docs = snap.nodes(["0/vertices", "0/nothing"])
        assert docs["0/vertices"] is not None and docs["0/vertices"]["node_type"] == "array"
        assert docs["0/nothing"] is None
        assert snap.node("0/vertices") == docs["0/vertices"] and snap.node("0/nothing") is None
        assert backend.gets == (1 if consolidate else 2)  # fetched together, then cached
        assert snap.children("0/vertex_attributes") == ["id"]
        assert "vertices" in snap.children("0")
        assert snap.level_meta(0).vertex_count == len(PTS)
        with pytest.raises(ValidationError, match="level 3 does not exist; this store has"):
            snap.level_meta(3)


def test_an_append_since_opening_is_found_and_the_old_count_kept(tmp_path: Path) -> None:
    path = store(tmp_path, consolidate=False)
    with LocalBackend(path) as backend:
        snap = load_snapshot(backend)
        assert snap.appends_since() == []
        write_points(path, PTS[:10], mode="a", vertex_attributes={"id": np.arange(10)})
        (change,) = snap.appends_since()
        assert change.mode == "a" and change.level == "0" and change.vertex_count == len(PTS)
        # the level document fetched now counts 210; the snapshot shows its own 200
        assert snap.level_meta(0).vertex_count == len(PTS)
        assert load_snapshot(backend).level_meta(0).vertex_count == len(PTS) + 10


def test_a_replace_since_opening_makes_the_snapshot_stale(tmp_path: Path) -> None:
    path = store(tmp_path, consolidate=True)
    with LocalBackend(path) as backend:
        snap = load_snapshot(backend)
        write_points(path, PTS[:5], chunk_shape=CS, bounds=BOUNDS, mode="w")
        with pytest.raises(StaleSnapshotError, match=r"changed from generation .* open it again"):
            snap.appends_since()
        write_points(path, PTS[:5], mode="a")
        appended = load_snapshot(backend)  # generation 3: made, replaced, appended to
        shutil.rmtree(path)
        write_points(path, PTS[:5], chunk_shape=CS, bounds=BOUNDS)  # made again: generation 1
        with pytest.raises(StaleSnapshotError, match="changed from generation 3 to 1"):
            appended.appends_since()
        (path / "zarr.json").unlink()
        with pytest.raises(StaleSnapshotError, match="deleted since it was opened"):
            snap.appends_since()


def test_what_is_not_a_store_is_named(tmp_path: Path) -> None:
    with LocalBackend(tmp_path / "empty") as backend:
        with pytest.raises(StoreError, match=r"no Zarr Vectors store at .*: it has no root"):
            load_snapshot(backend)
        with pytest.raises(StoreError, match=r"root zarr.json is not a zarr v3 group"):
            snapshot_from_doc(backend, {"zarr_format": 2, "node_type": "group"})
        with pytest.raises(CorruptStoreError, match=r"root zarr.json has no attributes object"):
            snapshot_from_doc(backend, {"zarr_format": 3, "node_type": "group", "attributes": 1})


def test_a_document_that_is_not_a_json_object_is_corrupt() -> None:
    assert parse_json_doc(json.dumps({"a": 1}).encode(), "x") == {"a": 1}
    with pytest.raises(CorruptStoreError, match=r"here/zarr.json is not valid JSON"):
        parse_json_doc(b"{nope", "here/zarr.json")
    with pytest.raises(CorruptStoreError, match="x holds a JSON list, not the object"):
        parse_json_doc(b"[1]", "x")

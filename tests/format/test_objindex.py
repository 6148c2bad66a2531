"""An append reads and writes only the tail of the object index (format/objindex.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.types.test_points_backends import CountingBackend
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format import objects
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.polylines import read_polylines, write_polylines

CS = (250.0,) * 3
B = ([0.0] * 3, [1000.0] * 3)
INDEX = ("0/object_index/", "0/object_attributes/")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index chunks of 32 rows (ids) and 16 (manifests, attributes): many chunks, few objects."""
    monkeypatch.setattr(objects, "OBJECT_ID_ROWS", 32)
    monkeypatch.setattr(objects, "MANIFEST_ROWS", 16)
    monkeypatch.setattr(objects, "OBJECT_ATTRIBUTE_ROWS", 16)


def lines(k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 999, (3, 3)).astype(np.float32) for _ in range(k)]


def index_reads(backend: CountingBackend) -> set[str]:
    return {k for op, k in backend.requests if op == "get" and k.startswith(INDEX)}


def index_writes(backend: CountingBackend) -> set[str]:
    staged = (k.split("/", 1)[1] for op, k in backend.requests if op == "put" and "/" in k)
    return {k for k in staged if k.startswith(INDEX) and "/c/" in k}


def test_an_append_of_higher_ids_reads_and_writes_only_the_last_index_chunks(
    tmp_path: Path, small_chunks: None
) -> None:
    old = lines(200, seed=1)  # ids 0..199: 7 id chunks, 13 manifest and attribute chunks
    write_polylines(
        tmp_path / "s", old, chunk_shape=CS, bounds=B, object_attributes={"w": np.arange(200.0)}
    )
    new = lines(3, seed=2)
    backend = CountingBackend(LocalBackend(tmp_path / "s"))
    write_polylines(
        backend, new, object_ids=[200, 201, 202], mode="a", object_attributes={"w": [7.0, 8.0, 9.0]}
    )
    # rows 200..202 follow row 199: ids chunk 6 (rows 192..223), manifests and w chunk 12 (192..207)
    last = {
        "0/object_index/object_ids/c/6",
        "0/object_index/manifests/c/12",
        "0/object_attributes/w/c/12",
    }
    assert index_reads(backend) == last
    assert index_writes(backend) == last
    got = read_polylines(tmp_path / "s")
    assert got.object_ids.tolist() == list(range(203))
    assert [p.tolist() for p in got.polylines] == [p.tolist() for p in old + new]
    np.testing.assert_array_equal(got.object_attributes["w"], [*range(200), 7.0, 8.0, 9.0])


def test_ids_among_the_stored_ones_move_only_the_rows_after_them(
    tmp_path: Path, small_chunks: None
) -> None:
    old = lines(100, seed=3)
    ids = np.arange(100) * 2  # 0, 2, ..., 198
    write_polylines(tmp_path / "s", old, chunk_shape=CS, bounds=B, object_ids=ids)
    backend = CountingBackend(LocalBackend(tmp_path / "s"))
    new = lines(2, seed=4)
    write_polylines(backend, new, object_ids=[171, 301], mode="a")  # 171 lands at row 86
    reads = index_reads(backend)
    assert "0/object_index/manifests/c/4" not in reads  # rows 64..79 stay where they were
    assert {k for k in reads if "manifests" in k} == {
        "0/object_index/manifests/c/5",
        "0/object_index/manifests/c/6",
    }
    got = read_polylines(tmp_path / "s")
    want = sorted(
        [*zip(ids.tolist(), old, strict=True), (171, new[0]), (301, new[1])], key=lambda t: t[0]
    )
    assert got.object_ids.tolist() == [i for i, _ in want]
    assert [p.tolist() for p in got.polylines] == [p.tolist() for _, p in want]
    # a stored id is refused before anything is written; the check read only the tail too
    backend = CountingBackend(LocalBackend(tmp_path / "s"))
    with pytest.raises(ValidationError, match="object id 150 is already in the store"):
        write_polylines(backend, new[:1], object_ids=[150], mode="a")
    assert not [k for op, k in backend.requests if op == "put" and "/c/" in k]


def test_a_one_chunk_index_grows_into_the_chunk_a_fresh_write_would_have(tmp_path: Path) -> None:
    write_polylines(tmp_path / "s", lines(5, seed=5), chunk_shape=CS, bounds=B)
    doc = tmp_path / "s" / "0" / "object_index" / "manifests" / "zarr.json"
    assert json.loads(doc.read_text())["chunk_grid"]["configuration"]["chunk_shape"] == [5]
    write_polylines(tmp_path / "s", lines(40, seed=6), object_ids=range(5, 45), mode="a")
    got = json.loads(doc.read_text())
    assert got["shape"] == [45] and got["chunk_grid"]["configuration"]["chunk_shape"] == [45]
    assert len(read_polylines(tmp_path / "s").polylines) == 45

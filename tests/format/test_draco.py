"""Draco cells of quad meshes: quads go in as triangle pairs and come back as the same quads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.types.test_meshes import BOUNDS, CS, spheres
from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.draco import QUAD_PAIRS, DracoCells, max_error
from zarr_vectors.format.faces import triangulate
from zarr_vectors.types.meshes import read_mesh, write_mesh

pytest.importorskip("DracoPy")


def rows_of(got: object, v: np.ndarray, err: float) -> np.ndarray:
    """Each read vertex's row in ``v`` (its ``idx`` attribute), its position within ``err``."""
    idx = got.vertex_attributes["idx"].astype(np.int64)  # type: ignore[attr-defined]
    assert np.abs(got.vertices - v[idx]).max() <= err  # type: ignore[attr-defined]
    return idx


def quads(rows: np.ndarray, faces: np.ndarray) -> set[tuple[int, ...]]:
    """Faces as tuples of original rows, corner order and winding as they are."""
    return {tuple(x) for x in rows[faces].tolist()}


def test_a_quad_mesh_in_draco_reads_back_as_the_same_quads(tmp_path: Path) -> None:
    v, f, ids = spheres(k=2, quads=True, seed=7)
    s = write_mesh(
        tmp_path / "d",
        v,
        f,
        chunk_shape=CS,
        bounds=BOUNDS,
        object_ids=ids,
        encoding="draco",
        draco_quantization_bits=12,
        vertex_attributes={"idx": np.arange(len(v), dtype=np.int32)},
    )
    assert s.encoding == "draco" and s.cross_face_count and s.intra_face_count
    doc = json.loads((tmp_path / "d" / "0" / "vertices" / "zarr.json").read_text())
    assert doc["attributes"]["draco_quads"] == QUAD_PAIRS == "triangle_pairs"
    err = max_error(CS, 12)
    got = read_mesh(tmp_path / "d")
    assert got.faces.shape == f.shape == (s.face_count, 4)
    rows = rows_of(got, v, err)
    assert quads(rows, got.faces) == quads(np.arange(len(v)), f)  # every quad, exactly
    np.testing.assert_array_equal(got.object_ids, ids[rows])
    one = read_mesh(tmp_path / "d", object_ids=[20])
    want = f[(ids == 20)[f[:, 0]]]
    assert quads(rows_of(one, v, err), one.faces) == quads(np.arange(len(v)), want)
    lo, hi = v[0] - 80.0, v[0] + 80.0
    box = read_mesh(tmp_path / "d", bbox=(lo, hi))
    inside = np.all((v >= lo) & (v <= hi), axis=1)
    want = f[inside[f].any(axis=1)]
    assert quads(rows_of(box, v, err), box.faces) == quads(np.arange(len(v)), want)


def test_a_triangle_mesh_records_no_quads(tmp_path: Path) -> None:
    v, f, _ = spheres(k=1, seed=3)
    write_mesh(tmp_path / "d", v, f, chunk_shape=CS, bounds=BOUNDS, encoding="draco")
    doc = json.loads((tmp_path / "d" / "0" / "vertices" / "zarr.json").read_text())
    assert "draco_quads" not in doc["attributes"]
    assert read_mesh(tmp_path / "d").faces.shape == f.shape


def test_an_unknown_quad_record_is_refused_by_name() -> None:
    import DracoPy

    q = np.array([[0, 1, 2, 3]])
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    blob = DracoPy.encode(pts, triangulate(q).astype(np.uint32), preserve_order=True)
    attrs = {"draco_order": "preserved", "draco_quads": QUAD_PAIRS}
    _, faces = DracoCells().decode(blob, attrs, "cell 0/0/0")
    assert faces is not None and faces.tolist() == q.tolist()
    with pytest.raises(CorruptStoreError, match="cell 0/0/0: draco_quads is 'fans'"):
        DracoCells().decode(blob, {**attrs, "draco_quads": "fans"}, "cell 0/0/0")

"""Skeletons and meshes served in Neuroglancer's precomputed formats, decoded and compared."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.serve.conftest import Served, fetch, raw_get
from zarr_vectors.types.graphs import read_graph, write_graph
from zarr_vectors.types.meshes import read_mesh, triangulate, write_mesh


def write_skeletons(path: str, **options: Any) -> None:
    """Two skeletons (ids 7 and 9) over several cells, with a float and a 3-wide attribute."""
    pos = np.array(
        [[5, 5, 5], [50, 5, 5], [150, 20, 5], [250, 30, 40], [5, 5, 500], [5, 60, 520]],
        np.float32,
    )
    edges = np.array([[1, 0], [2, 1], [3, 2], [5, 4]])
    write_graph(
        path,
        pos,
        edges,
        kind="skeleton",
        object_ids=[7, 7, 7, 7, 9, 9],
        chunk_shape=(100, 100, 100),
        vertex_attributes={
            "radius": np.arange(6, dtype=np.float32) + 0.5,
            "normal": np.arange(18, dtype=np.float32).reshape(6, 3),
        },
        **options,
    )


def write_meshes(path: str, **options: Any) -> None:
    """A quad mesh (id 3) and a triangle-pair mesh (id 5) in different cells."""
    v = np.array(
        [
            [0, 0, 0],
            [1, 0, 0],
            [1, 1, 0],
            [0, 1, 0],
            [200, 0, 0],
            [201, 0, 0],
            [201, 1, 0],
            [200, 1, 0],
        ],
        np.float32,
    )
    faces = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    write_mesh(path, v, faces, object_ids=[3] * 4 + [5] * 4, chunk_shape=(100, 100, 100), **options)


def decode_skeleton(body: bytes, attrs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    n, m = np.frombuffer(body, "<u4", 2)
    at = 8
    pos = np.frombuffer(body, "<f4", 3 * n, at).reshape(n, 3)
    at += 12 * n
    edges = np.frombuffer(body, "<u4", 2 * m, at).reshape(m, 2)
    at += 8 * m
    out = {"positions": pos, "edges": edges}
    for a in attrs:
        dtype = np.dtype(a["data_type"]).newbyteorder("<")
        count = n * a["num_components"]
        out[a["id"]] = np.frombuffer(body, dtype, count, at).reshape(n, a["num_components"])
        at += dtype.itemsize * count
    assert at == len(body)
    return out


def decode_fragment(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    (n,) = np.frombuffer(body, "<u4", 1)
    pos = np.frombuffer(body, "<f4", 3 * n, 4).reshape(n, 3)
    rest = np.frombuffer(body, "<u4", offset=4 + 12 * n)
    assert len(rest) % 3 == 0
    return pos, rest.reshape(-1, 3)


def edge_set(positions: np.ndarray, edges: np.ndarray) -> set[frozenset[tuple[float, ...]]]:
    return {frozenset(tuple(positions[i].tolist()) for i in e) for e in edges}


def face_set(positions: np.ndarray, faces: np.ndarray) -> set[tuple[tuple[float, ...], ...]]:
    """Triangles by their corner positions, rotated to start at the smallest (winding kept)."""
    out = set()
    for f in faces:
        corners = [tuple(positions[i].tolist()) for i in f]
        k = corners.index(min(corners))
        out.add(tuple(corners[k:] + corners[:k]))
    return out


def test_skeletons_are_served_as_read(tmp_path: Path, serve: Callable[..., Served]) -> None:
    path = str(tmp_path / "skel.zarrvectors")
    write_skeletons(path)
    url, _ = serve(path)
    status, headers, body = fetch(f"{url}/skeletons/info")
    assert status == 200 and headers.get("Access-Control-Allow-Origin") == "*"
    info = json.loads(body)
    assert info["@type"] == "neuroglancer_skeletons"
    assert len(info["transform"]) == 12
    attrs = {a["id"]: a for a in info["vertex_attributes"]}
    assert attrs["radius"] == {"id": "radius", "data_type": "float32", "num_components": 1}
    assert attrs["normal"]["num_components"] == 3
    for object_id in (7, 9):
        status, _, body = fetch(f"{url}/skeletons/{object_id}")
        assert status == 200, body
        got = decode_skeleton(body, info["vertex_attributes"])
        want = read_graph(path, object_ids=[object_id])
        assert len(got["positions"]) == len(want.positions) > 0
        order = np.lexsort(got["positions"].T)
        ref = np.lexsort(want.positions.T)
        np.testing.assert_array_equal(got["positions"][order], want.positions[ref])
        assert edge_set(got["positions"], got["edges"]) == edge_set(want.positions, want.edges)
        np.testing.assert_array_equal(
            got["radius"][order, 0], want.vertex_attributes["radius"][ref]
        )
        np.testing.assert_array_equal(got["normal"][order], want.vertex_attributes["normal"][ref])
    for missing in (
        "/skeletons/8",
        "/skeletons/9999999999999999999",
        "/meshes/info",
        "/meshes/7:0",
    ):
        status, _, _ = fetch(url + missing)
        assert status == 404, missing
    assert fetch(f"{url}/info")[0] == 200  # the points are served as before


def test_meshes_are_served_as_read(tmp_path: Path, serve: Callable[..., Served]) -> None:
    path = str(tmp_path / "mesh.zarrvectors")
    write_meshes(path)
    url, _ = serve(path)
    status, _, body = fetch(f"{url}/meshes/info")
    assert status == 200 and json.loads(body) == {"@type": "neuroglancer_legacy_mesh"}
    for object_id in (3, 5):
        status, _, body = fetch(f"{url}/meshes/{object_id}:0")
        assert status == 200, body
        fragments = json.loads(body)["fragments"]
        assert fragments == [f"{object_id}.frag"]
        status, _, body = fetch(f"{url}/meshes/{fragments[0]}")
        assert status == 200, body
        pos, triangles = decode_fragment(body)
        want = read_mesh(path, object_ids=[object_id])
        assert len(triangles) == 2 * len(want.faces)  # quads split into two triangles
        assert face_set(pos, triangles) == face_set(want.vertices, triangulate(want.faces))
    for missing in ("/meshes/4:0", "/meshes/4.frag", "/meshes/3:1", "/skeletons/info"):
        status, _, _ = fetch(url + missing)
        assert status == 404, missing


@pytest.mark.parametrize(
    "path",
    [
        "/meshes/../zarr.json",
        "/meshes/..%2Fzarr.json",
        "/meshes/3:0/../../zarr.json",
        "/skeletons/../0/vertices/zarr.json",
        "/skeletons/%2e%2e/zarr.json",
        "/meshes/3.frag/x",
        "/skeletons/-1",
    ],
)
def test_object_urls_name_no_key(tmp_path: Path, serve: Callable[..., Served], path: str) -> None:
    store = str(tmp_path / "mesh.zarrvectors")
    write_meshes(store)
    url, _ = serve(store)
    status, body = raw_get(url, path)
    assert status == 404, (path, body[:200])
    assert b"zarr_format" not in body


def test_a_draco_mesh_serves_its_meshes_not_its_points(
    tmp_path: Path, serve: Callable[..., Served]
) -> None:
    pytest.importorskip("DracoPy")
    path = str(tmp_path / "mesh.zarrvectors")
    write_meshes(path, encoding="draco")
    url, _ = serve(path)
    for points in ("/info", "/spatial0/0_0_0", "/by_id/0"):
        status, _, body = fetch(url + points)
        assert status == 404 and b"encoded as 'draco'" in body and b"/meshes" in body, points
    status, _, body = fetch(f"{url}/meshes/5.frag")
    assert status == 200, body
    pos, triangles = decode_fragment(body)
    want = read_mesh(path, object_ids=[5])
    assert len(triangles) == 2 * len(want.faces)
    np.testing.assert_allclose(np.sort(pos, axis=0), np.sort(want.vertices, axis=0))


def test_objects_are_placed_in_nanometres(tmp_path: Path, serve: Callable[..., Served]) -> None:
    """Neuroglancer puts standalone skeletons and meshes in nanometres: a store in
    micrometres is scaled by 1000 (the skeleton's transform, the mesh's vertices)."""
    axes = [{"name": n, "unit": "micrometer"} for n in "xyz"]
    skeletons, meshes = str(tmp_path / "skel.zarrvectors"), str(tmp_path / "mesh.zarrvectors")
    write_skeletons(skeletons, axes=axes)
    write_meshes(meshes, axes=axes)
    skeleton_url, _ = serve(skeletons)
    info = json.loads(fetch(f"{skeleton_url}/skeletons/info")[2])
    assert info["transform"] == [1000.0, 0, 0, 0, 0, 1000.0, 0, 0, 0, 0, 1000.0, 0]
    assert json.loads(fetch(f"{skeleton_url}/info")[2])["dimensions"]["x"] == [1e-6, "m"]
    mesh_url, _ = serve(meshes)
    pos, _ = decode_fragment(fetch(f"{mesh_url}/meshes/5.frag")[2])
    want = read_mesh(meshes, object_ids=[5]).vertices
    np.testing.assert_allclose(np.sort(pos, axis=0), np.sort(want, axis=0) * 1000)


def test_a_damaged_cell_is_named(tmp_path: Path, serve: Callable[..., Served]) -> None:
    path = tmp_path / "skel.zarrvectors"
    write_skeletons(str(path))
    url, _ = serve(str(path))
    want = read_graph(str(path), object_ids=[9])
    cells = sorted((path / "0" / "vertices" / "c").glob("*/*/*"))
    # skeleton 9 lies in the cells with z index 5 only
    damaged = [c for c in cells if c.name == "5"]
    assert damaged and len(want.positions) == 2
    damaged[0].write_bytes(b"\x00garbage" * 10)
    status, _, body = fetch(f"{url}/skeletons/9")
    assert status == 500
    cell = ".".join(damaged[0].relative_to(path / "0" / "vertices" / "c").parts)
    assert f"0/vertices cell {cell}" in body.decode(), body
    assert fetch(f"{url}/skeletons/7")[0] == 200  # the server goes on

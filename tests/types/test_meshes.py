"""write_mesh / read_mesh: faces across cells once with their vertices, objects, boxes, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from tests.types.test_points_backends import CountingBackend
from zarr_vectors.exceptions import StoreExistsError, ValidationError
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.meshes import Mesh, read_mesh, write_mesh

CS = (100.0, 100.0, 100.0)
BOUNDS = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def spheres(
    k: int = 4, res: int = 12, quads: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k`` closed UV spheres (no pole duplicates), vertices shuffled, ids 10, 20, ..."""
    rng = np.random.default_rng(seed)
    vs, fs, ids, base = [], [], [], 0
    for o in range(k):
        c, r = rng.uniform(250, 750, 3), rng.uniform(60, 180)
        th = np.linspace(0, np.pi, res + 2)[1:-1]
        ph = np.linspace(0, 2 * np.pi, 2 * res, endpoint=False)
        t, p = np.meshgrid(th, ph, indexing="ij")
        ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1)
        v = np.concatenate([ring.reshape(-1, 3), [[0, 0, 1], [0, 0, -1]]]) * r + c
        m, top, bottom = 2 * res, len(v) - 2, len(v) - 1
        f: list[tuple[int, ...]] = []
        for i in range(res - 1):
            for j in range(m):
                a, b = i * m + j, i * m + (j + 1) % m
                if quads:
                    f.append((a, b, b + m, a + m))
                else:
                    f += [(a, b, a + m), (b, b + m, a + m)]
        if not quads:
            f += [(top, (j + 1) % m, j) for j in range(m)]
            last = (res - 1) * m
            f += [(bottom, last + j, last + (j + 1) % m) for j in range(m)]
        vs.append(v)
        fs.append(np.array(f) + base)
        ids += [10 * (o + 1)] * len(v)
        base += len(v)
    verts = np.concatenate(vs).astype(np.float32)
    faces = np.concatenate(fs).astype(np.int64)
    perm = rng.permutation(len(verts))
    inv = np.argsort(perm)
    return verts[perm], inv[faces], np.array(ids, dtype=np.int64)[perm]


def face_set(v: np.ndarray, f: np.ndarray) -> set[tuple[tuple[float, ...], ...]]:
    """Faces as vertex positions, rotated to start at the smallest (winding kept)."""
    out = set()
    for face in f:
        pts = [tuple(v[i].tolist()) for i in face]
        k = min(range(len(pts)), key=lambda i: pts[i])
        out.add(tuple(pts[k:] + pts[:k]))
    return out


@pytest.mark.parametrize("quads", [False, True])
def test_faces_across_cells_come_back_once_with_their_vertices(tmp_path: Path, quads: bool) -> None:
    v, f, ids = spheres(quads=quads)
    colour = np.arange(len(v) * 3, dtype=np.uint8).reshape(-1, 3)
    s = write_mesh(
        tmp_path / "m",
        v,
        f,
        chunk_shape=CS,
        bounds=BOUNDS,
        object_ids=ids,
        vertex_attributes={"colour": colour},
        object_attributes={"volume": np.array([1.0, 2.0, 3.0, 4.0])},
    )
    assert s.face_count == len(f) and s.object_count == 4 and s.cross_face_count > 0
    assert s.intra_face_count + s.cross_face_count == len(f)
    got = read_mesh(tmp_path / "m")
    assert isinstance(got, Mesh) and got.faces.shape == (len(f), 4 if quads else 3)
    assert len(got.faces) == len({tuple(sorted(x)) for x in got.faces.tolist()})  # once each
    assert face_set(got.vertices, got.faces) == face_set(v, f)
    want = {(*p.tolist(), int(o), *c.tolist()) for p, o, c in zip(v, ids, colour, strict=True)}
    have = {
        (*p.tolist(), int(o), *c.tolist())
        for p, o, c in zip(
            got.vertices, got.object_ids, got.vertex_attributes["colour"], strict=True
        )
    }
    assert have == want
    np.testing.assert_array_equal(got.objects, [10, 20, 30, 40])
    np.testing.assert_array_equal(got["object_attributes"]["volume"], [1.0, 2.0, 3.0, 4.0])


def test_read_by_object_fetches_only_the_cells_it_touches(tmp_path: Path) -> None:
    v, f, ids = spheres(k=6, seed=3)
    write_mesh(tmp_path / "m", v, f, chunk_shape=CS, bounds=BOUNDS, object_ids=ids)
    backend = CountingBackend(LocalBackend(tmp_path / "m"))
    got = read_mesh(backend, object_ids=[30])
    keep = ids == 30
    assert face_set(got.vertices, got.faces) == face_set(v, f[keep[f[:, 0]]])
    assert set(got.object_ids.tolist()) == {30} and len(got.vertices) == int(keep.sum())
    cells = {tuple(c) for c in np.floor(v[keep] / 100).astype(int).tolist()}
    gets = {
        tuple(int(x) for x in k.split("/")[3:])
        for op, k in backend.requests
        if op == "get" and k.startswith("0/vertices/c/")
    }
    assert gets == cells
    everything = len(list((tmp_path / "m" / "0" / "vertices" / "c").rglob("*/*/*")))
    assert len(cells) < everything
    assert read_mesh(tmp_path / "m", object_ids=[999]).face_count == 0


def test_a_box_read_returns_every_face_with_a_vertex_inside(tmp_path: Path) -> None:
    v, f, ids = spheres(k=5, seed=1)
    write_mesh(tmp_path / "m", v, f, chunk_shape=CS, bounds=BOUNDS, object_ids=ids)
    lo, hi = np.array([300.0, 300.0, 300.0]), np.array([520.0, 610.0, 480.0])
    got = read_mesh(tmp_path / "m", bbox=(lo, hi))
    inside = np.all((v >= lo) & (v <= hi), axis=1)
    assert inside.any()
    want = f[inside[f].any(axis=1)]
    assert face_set(got.vertices, got.faces) == face_set(v, want)
    have_pts = {tuple(p) for p in got.vertices.tolist()}
    assert {tuple(p) for p in v[inside].tolist()} <= have_pts
    assert have_pts == {tuple(p) for p in v[inside].tolist()} | {
        tuple(p) for p in v[want.reshape(-1)].tolist()
    }
    assert set(got.objects.tolist()) == set(ids[inside].tolist())


def test_results_keys_pandas_html_and_trimesh(tmp_path: Path) -> None:
    v, f, ids = spheres(k=2)
    write_mesh(tmp_path / "m", v, f, chunk_shape=CS, bounds=BOUNDS, object_ids=ids)
    got = read_mesh(tmp_path / "m", object_ids=[20])
    assert got["faces"] is got.faces and "vertices" in got and got.get("nope") is None
    assert got.vertex_count == len(got.vertices) and got.face_count == len(got) == got["face_count"]
    df = got.to_pandas()
    assert list(df.columns) == ["object_id", "x", "y", "z"] and len(df) == got.vertex_count
    html = got._repr_html_()
    assert "Mesh" in html and "triangles" in html and f"{got.face_count:,}" in html
    tm = got.to_trimesh()
    assert tm.faces.shape == got.faces.shape and tm.is_watertight
    np.testing.assert_allclose(tm.vertices, got.vertices)
    with pytest.raises(KeyError):
        got["edges"]


def test_quads_become_two_triangles_in_trimesh(tmp_path: Path) -> None:
    v, f, _ = spheres(k=1, quads=True)
    write_mesh(tmp_path / "m", v, f, chunk_shape=CS, bounds=BOUNDS)
    got = read_mesh(tmp_path / "m")
    assert got.faces.shape[1] == 4 and got.to_trimesh().faces.shape == (2 * len(f), 3)


def test_appending_whole_objects(tmp_path: Path) -> None:
    v, f, ids = spheres(k=3, seed=5)
    first = ids != 30
    old = np.flatnonzero(first)
    remap = np.full(len(v), -1)
    remap[old] = np.arange(len(old))
    fa = remap[f[first[f[:, 0]]]]
    write_mesh(tmp_path / "m", v[first], fa, chunk_shape=CS, bounds=BOUNDS, object_ids=ids[first])
    new = np.flatnonzero(~first)
    remap[new] = np.arange(len(new))
    fb = remap[f[~first[f[:, 0]]]]
    write_mesh(tmp_path / "m", v[~first], fb, object_ids=ids[~first], mode="a")
    got = read_mesh(tmp_path / "m")
    assert face_set(got.vertices, got.faces) == face_set(v, f)
    np.testing.assert_array_equal(got.objects, [10, 20, 30])
    with pytest.raises(ValidationError, match="already in the store"):
        write_mesh(tmp_path / "m", v[~first], fb, object_ids=ids[~first], mode="a")
    tri = np.array([[0, 1, 2, 3]])
    with pytest.raises(ValidationError, match="face width"):
        write_mesh(tmp_path / "m", v[:4] * 0 + 5, tri, object_ids=[99] * 4, mode="a")


def test_memory_and_sharded_stores(tmp_path: Path) -> None:
    v, f, ids = spheres(k=3, seed=2)
    write_mesh("memory://meshes-test", v, f, chunk_shape=CS, bounds=BOUNDS, object_ids=ids)
    assert face_set(*_vf(read_mesh("memory://meshes-test", object_ids=[20]))) == face_set(
        v, f[(ids == 20)[f[:, 0]]]
    )
    write_mesh(tmp_path / "s", v, f, chunk_shape=CS, bounds=BOUNDS, object_ids=ids, shard_shape=2)
    got = read_mesh(tmp_path / "s")
    assert face_set(got.vertices, got.faces) == face_set(v, f)
    idx = {"idx": np.arange(len(v), dtype=np.int32)}
    write_mesh(
        tmp_path / "d",
        v,
        f,
        chunk_shape=CS,
        object_ids=ids,
        shard_shape=2,
        encoding="draco",
        vertex_attributes=idx,
    )
    got = read_mesh(tmp_path / "d", object_ids=[30])
    rows = _truth_index(got, v, 100.0 / (2**11 - 1))
    want = f[(ids == 30)[f[:, 0]]]
    assert {tuple(x) for x in rows[got.faces].tolist()} == {tuple(x) for x in want.tolist()}
    doc = (tmp_path / "d" / "0" / "vertices" / "zarr.json").read_text()
    assert "sharding_indexed" in doc and '"draco"' in doc


def _vf(m: Mesh) -> tuple[np.ndarray, np.ndarray]:
    return m.vertices, m.faces


@pytest.mark.parametrize(
    ("faces", "vertices", "ids", "match"),
    [
        ([[0, 1, 7]], None, None, r"1 faces name vertices that do not exist \(first: face 0"),
        ([[0, 1, 2], [0, 0, 1], [3, 3, 3]], None, None, r"2 of 3 faces repeat a vertex"),
        ([[0, 1, 2], [0, 1, 2, 3]], None, None, r"faces mix widths \[3, 4\]"),
        ([[0, 1, 2]], "nan", None, r"NaN or infinite"),
        ([[0, 1, 2], [3, 4, 5]], None, [1, 1, 2, 2, 2, 2], r"face 0 joins objects \[1, 2\]"),
        ([[0, 1]], None, None, r"\(F, 3\) or \(F, 4\)"),
        ([[0.0, 1.0, 2.0]], None, None, r"\(F, 3\) or \(F, 4\)"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_writing(
    tmp_path: Path, faces: list, vertices: str | None, ids: list | None, match: str
) -> None:
    v = np.random.default_rng(0).uniform(0, 500, (6, 3)).astype(np.float32)
    if vertices == "nan":
        v[1, 2] = np.nan
    with pytest.raises(ValidationError, match=match) as info:
        write_mesh(tmp_path / "m", v, faces, chunk_shape=CS, bounds=BOUNDS, object_ids=ids)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "m").exists()


def test_refusals_of_arguments(tmp_path: Path) -> None:
    v, f, _ = spheres(k=1)
    with pytest.raises(ValidationError, match="encoding must be"):
        write_mesh(tmp_path / "m", v, f, chunk_shape=CS, encoding="zip")
    with pytest.raises(ValidationError, match="object attribute 'a' has 2 values"):
        write_mesh(tmp_path / "m", v, f, chunk_shape=CS, object_attributes={"a": [1, 2]})
    assert not (tmp_path / "m").exists()
    write_mesh(tmp_path / "m", v, f, chunk_shape=CS)
    with pytest.raises(ValidationError, match="attribute"):
        read_mesh(tmp_path / "m", attribute_names=["nope"])


def test_top_level_names() -> None:
    assert zv.write_mesh is write_mesh and zv.read_mesh is read_mesh and zv.Mesh is Mesh
    assert {"write_mesh", "read_mesh", "Mesh"} <= set(dir(zv))


def _truth_index(got: Mesh, v: np.ndarray, err: float) -> np.ndarray:
    """Each read vertex's row in ``v`` (the attribute ``idx``), checked within ``err``."""
    idx = got.vertex_attributes["idx"].astype(np.int64)
    assert np.abs(got.vertices - v[idx]).max() <= err
    return idx


def test_draco_round_trip_within_the_recorded_error(tmp_path: Path) -> None:
    from zarr_vectors.format.draco import max_error

    v, f, ids = spheres(k=4, seed=4)
    idx = {"idx": np.arange(len(v), dtype=np.int32)}
    s = write_mesh(
        tmp_path / "d",
        v,
        f,
        chunk_shape=CS,
        bounds=BOUNDS,
        object_ids=ids,
        encoding="draco",
        draco_quantization_bits=12,
        vertex_attributes=idx,
    )
    assert s.encoding == "draco" and s.cross_face_count > 0
    err = max_error(CS, 12)
    got = read_mesh(tmp_path / "d")
    assert got.encoding == "draco" and got.faces.shape == f.shape
    rows = _truth_index(got, v, err)
    assert {tuple(x) for x in rows[got.faces].tolist()} == {tuple(x) for x in f.tolist()}
    np.testing.assert_array_equal(got.object_ids, ids[rows])
    one = read_mesh(tmp_path / "d", object_ids=[20])
    r1 = _truth_index(one, v, err)
    want = f[(ids == 20)[f[:, 0]]]
    assert {tuple(x) for x in r1[one.faces].tolist()} == {tuple(x) for x in want.tolist()}
    lo, hi = v[0] - 60.0, v[0] + 60.0
    box = read_mesh(tmp_path / "d", bbox=(lo, hi))
    inside = np.all((v >= lo) & (v <= hi), axis=1)
    rb = _truth_index(box, v, err)
    want = f[inside[f].any(axis=1)]
    assert {tuple(x) for x in rb[box.faces].tolist()} == {tuple(x) for x in want.tolist()}
    # appends of whole objects keep the encoding
    w, g, _ = spheres(k=1, seed=9)
    write_mesh(
        tmp_path / "d",
        w,
        g,
        object_ids=[77] * len(w),
        mode="a",
        vertex_attributes={"idx": np.arange(len(v), len(v) + len(w), dtype=np.int32)},
    )
    both = read_mesh(tmp_path / "d")
    assert both.face_count == len(f) + len(g) and both.objects.tolist() == [10, 20, 30, 40, 77]
    rows = _truth_index(both, np.concatenate([v, w]), err)
    assert {tuple(x) for x in rows[both.faces].tolist()} == {
        tuple(x) for x in np.concatenate([f, g + len(v)]).tolist()
    }


def test_draco_refusals(tmp_path: Path) -> None:
    v, f, _ = spheres(k=1)  # quads are written too: tests/format/test_draco.py
    with pytest.raises(ValidationError, match="draco_quantization_bits must be"):
        write_mesh(
            tmp_path / "d", v, f, chunk_shape=CS, encoding="draco", draco_quantization_bits=0
        )
    with pytest.raises(ValidationError, match="3-D vertices"):
        write_mesh(tmp_path / "d", v[:, :2], f, chunk_shape=CS[:2], encoding="draco")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("encoding", ["raw", "draco"])
def test_verify_of_mesh_stores(tmp_path: Path, encoding: str) -> None:
    from zarr_vectors.format.verify import verify_backend

    v, f, ids = spheres(k=2, seed=6)
    write_mesh(
        tmp_path / "m", v, f, chunk_shape=CS, bounds=BOUNDS, object_ids=ids, encoding=encoding
    )
    report = verify_backend(LocalBackend(tmp_path / "m"))
    assert report.ok and report.points_checked == len(v) and report.cells_checked > 1
    cells = sorted((tmp_path / "m" / "0" / "vertices" / "c").rglob("*/*/*"))
    victim = max(cells, key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    bad = verify_backend(LocalBackend(tmp_path / "m"))
    assert not bad.ok and any("0/vertices" in str(p) for p in bad.errors)


@pytest.mark.servers
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["obstore", "fsspec"])
def test_meshes_on_s3(s3_server: Any, s3_bucket: str, backend: str) -> None:
    from tests.types.test_points_backends import s3_options

    options: dict[str, Any] = {**s3_options(s3_server), "backend": backend}
    if backend == "fsspec":  # s3fs's own option names
        options = {
            "backend": "fsspec",
            "key": s3_server.access_key,
            "secret": s3_server.secret_key,
            "endpoint_url": s3_server.endpoint,
            "client_kwargs": {"region_name": s3_server.region},
        }
    v, f, ids = spheres(k=3, seed=7)
    url = f"s3://{s3_bucket}/m.zarrvectors"
    # Cells of 250: the spheres still cross cell borders, in a tenth of the requests.
    cells = (250.0, 250.0, 250.0)
    write_mesh(url, v, f, chunk_shape=cells, bounds=BOUNDS, object_ids=ids, **options)
    got = read_mesh(url, **options)
    assert face_set(got.vertices, got.faces) == face_set(v, f)
    one = read_mesh(url, object_ids=[20], **options)
    assert face_set(one.vertices, one.faces) == face_set(v, f[(ids == 20)[f[:, 0]]])
    d = f"s3://{s3_bucket}/d.zarrvectors"
    write_mesh(
        d, v, f, chunk_shape=cells, bounds=BOUNDS, object_ids=ids, encoding="draco", **options
    )
    assert read_mesh(d, **options).face_count == len(f)
    write_mesh(url, v[:3] + 1, [[0, 1, 2]], object_ids=[99] * 3, mode="a", **options)
    assert read_mesh(url, **options).objects.tolist() == [10, 20, 30, 99]
    with pytest.raises(StoreExistsError, match="already exists"):
        write_mesh(url, v, f, chunk_shape=CS, **options)

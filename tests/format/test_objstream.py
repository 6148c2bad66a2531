"""Objects written from batches (format/objstream.py) through the curve and mesh writers."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.upstream_env import run_published
from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.types.meshes import read_mesh, write_mesh
from zarr_vectors.types.polylines import read_polylines, write_polylines

CS = (125.0,) * 3
B = ([0.0] * 3, [1000.0] * 3)


def lines_of(k: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(
            np.cumsum(rng.normal(0, 40, (int(rng.integers(2, 30)), 3)), axis=0) + 500, 0, 1000
        ).astype(np.float32)
        for _ in range(k)
    ]


def batches_of(lines: list[np.ndarray], fa: list[np.ndarray], size: int):  # type: ignore[no-untyped-def]
    for i in range(0, len(lines), size):
        yield {
            "polylines": lines[i : i + size],
            "vertex_attributes": {"fa": fa[i : i + size]},
            "object_attributes": {"w": np.arange(i, min(i + size, len(lines)), dtype=np.float64)},
        }


@pytest.mark.parametrize("shards", [None, 2])
def test_streamed_polylines_read_back_as_the_same_polylines_written_in_memory(
    tmp_path: Path, shards: int | None
) -> None:
    lines = lines_of(60)
    fa = [np.arange(len(p), dtype=np.float32) for p in lines]
    w = np.arange(60, dtype=np.float64)
    kw = {"chunk_shape": CS, "bounds": B, "shard_shape": shards}
    write_polylines(
        tmp_path / "mem", lines, vertex_attributes={"fa": fa}, object_attributes={"w": w}, **kw
    )
    spill = tmp_path / "spill"
    spill.mkdir()
    summary = write_polylines(
        tmp_path / "st", batches_of(lines, fa, 25), memory_limit="32MB", spill_dir=str(spill), **kw
    )
    assert (summary.polyline_count, summary.vertex_count) == (60, sum(map(len, lines)))
    assert os.listdir(spill) == []  # the spill directory is gone
    a, b = read_polylines(tmp_path / "mem"), read_polylines(tmp_path / "st")
    assert [p.tolist() for p in a.polylines] == [p.tolist() for p in b.polylines]
    assert [p.tolist() for p in b.vertex_attributes["fa"]] == [p.tolist() for p in fa]
    np.testing.assert_array_equal(b.object_attributes["w"], w)
    box = ([400.0] * 3, [600.0] * 3)
    assert [p.tolist() for p in read_polylines(tmp_path / "mem", bbox=box).polylines] == [
        p.tolist() for p in read_polylines(tmp_path / "st", bbox=box).polylines
    ]
    one = read_polylines(tmp_path / "st", object_ids=[59])
    np.testing.assert_array_equal(one.polylines[0], lines[59])


def test_a_bad_batch_anywhere_in_the_stream_leaves_nothing_written(tmp_path: Path) -> None:
    lines = lines_of(30)
    bad = [*lines[10:20]]
    bad[3] = bad[3].copy()
    bad[3][0, 0] = np.nan

    def stream():  # type: ignore[no-untyped-def]
        yield lines[:10]
        yield bad

    with pytest.raises(ValidationError, match="NaN"):
        write_polylines(tmp_path / "s", stream(), chunk_shape=CS, bounds=B, spill_dir=str(tmp_path))
    assert not (tmp_path / "s").exists()
    assert glob.glob(str(tmp_path / "zarr-vectors-spill-*")) == []
    write_polylines(tmp_path / "t", iter([lines]), chunk_shape=CS, bounds=B)
    dup = [
        {"polylines": lines[:2], "object_ids": [7, 8]},
        {"polylines": lines[2:4], "object_ids": [8, 9]},
    ]
    with pytest.raises(ValidationError, match="object id 8"):
        write_polylines(tmp_path / "t", iter(dup), chunk_shape=CS, bounds=B, mode="w")
    assert len(read_polylines(tmp_path / "t").polylines) == 30  # the old store, untouched
    with pytest.raises(ValidationError, match="bounds"):
        write_polylines(tmp_path / "u", iter([lines]), chunk_shape=CS)
    with pytest.raises(ValidationError, match="object id 0 is already in the store"):
        write_polylines(tmp_path / "t", iter([lines]), bounds=B, mode="a")
    assert len(read_polylines(tmp_path / "t").polylines) == 30


def test_a_full_spill_disk_is_a_store_error_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="spill"):
        write_polylines(
            tmp_path / "s",
            iter([lines_of(3)]),
            chunk_shape=CS,
            bounds=B,
            spill_dir=str(tmp_path / "no" / "such"),
        )
    assert not (tmp_path / "s").exists()


def sphere(center: np.ndarray, k: int = 7) -> tuple[np.ndarray, np.ndarray]:
    th, ph = np.meshgrid(np.linspace(0.2, 2.9, k), np.linspace(0, 6.0, k))
    v = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1)
    idx = np.arange(k * k).reshape(k, k)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:], idx[1:, 1:]
    f = np.concatenate([np.stack([a, b, c], -1), np.stack([b, d, c], -1)]).reshape(-1, 3)
    return (v.reshape(-1, 3) * 70 + center).astype(np.float32), f


def triangles(m):  # type: ignore[no-untyped-def]
    return sorted(map(tuple, m.vertices[m.faces].reshape(len(m.faces), -1).tolist()))


def test_a_streamed_mesh_has_the_faces_of_the_mesh_written_in_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    objs = [sphere(rng.uniform(100, 900, 3)) for _ in range(8)]
    sizes = [len(v) for v, _ in objs]
    at = np.cumsum([0, *sizes])
    verts = np.concatenate([v for v, _ in objs])
    faces = np.concatenate([f + at[i] for i, (_, f) in enumerate(objs)])
    ids = np.repeat(np.arange(8), sizes)
    write_mesh(tmp_path / "m", verts, faces, object_ids=ids, chunk_shape=CS, bounds=B)
    stream = ((v, f, np.full(len(v), i)) for i, (v, f) in enumerate(objs))
    summary = write_mesh(tmp_path / "s", stream, chunk_shape=CS, bounds=B)
    assert (summary.vertex_count, summary.face_count, summary.object_count) == (
        len(verts),
        len(faces),
        8,
    )
    assert triangles(read_mesh(tmp_path / "m")) == triangles(read_mesh(tmp_path / "s"))
    more = ((v + 1.0, f, np.full(len(v), 10 + i)) for i, (v, f) in enumerate(objs[:3]))
    added = write_mesh(tmp_path / "s", more, mode="a")  # counts what it adds, not the store
    assert (added.vertex_count, added.face_count, added.object_count) == (
        sum(sizes[:3]),
        sum(len(f) for _, f in objs[:3]),
        3,
    )
    for k in (0, 5):
        want = read_mesh(tmp_path / "m", object_ids=[k])
        assert triangles(read_mesh(tmp_path / "s", object_ids=[k])) == triangles(want)
    with pytest.raises(ValidationError, match="draco"):
        write_mesh(tmp_path / "d", iter(objs), chunk_shape=CS, bounds=B, encoding="draco")


READ_STREAMED = r"""
import json, sys
import numpy as np
from zarr_vectors.types.polylines import read_polylines
r = read_polylines(sys.argv[1])
polys = [np.concatenate(p).tolist() for p in r["polylines"]]
print(json.dumps([polys, list(map(int, r["object_ids"]))]))
"""


@pytest.mark.slow
def test_the_published_package_reads_a_streamed_store_exactly(tmp_path: Path) -> None:
    lines = lines_of(40, seed=5)
    write_polylines(
        tmp_path / "s", (lines[i : i + 9] for i in range(0, 40, 9)), chunk_shape=CS, bounds=B
    )
    polys, ids = json.loads(run_published(READ_STREAMED, str(tmp_path / "s")).stdout)
    assert ids == list(range(40))
    for p, want in zip(polys, lines, strict=True):
        np.testing.assert_array_equal(np.array(p, np.float32), want)


def test_streamed_skeletons_have_every_edge_of_the_skeletons_written_in_memory(
    tmp_path: Path,
) -> None:
    from zarr_vectors.types.graphs import read_graph, write_graph

    rng = np.random.default_rng(4)
    trees = []
    for _ in range(12):
        n = 40
        parent = np.maximum(np.arange(n) - rng.integers(1, 4, n), 0)
        pos = np.empty((n, 3))
        pos[0] = rng.uniform(200, 800, 3)
        for j in range(1, n):
            pos[j] = pos[parent[j]] + rng.normal(0, 25, 3)
        edges = np.stack([np.arange(1, n), parent[1:]], axis=1)
        trees.append((np.clip(pos, 0, 1000).astype(np.float32), edges))
    at = np.cumsum([0, *(len(p) for p, _ in trees)])
    pos = np.concatenate([p for p, _ in trees])
    edges = np.concatenate([e + at[i] for i, (_, e) in enumerate(trees)])
    ids = np.repeat(np.arange(12), 40)
    kw = {"chunk_shape": CS, "bounds": B, "kind": "skeleton"}
    write_graph(tmp_path / "m", pos, edges, object_ids=ids, **kw)  # type: ignore[arg-type]
    stream = (
        {"positions": p, "edges": e, "object_ids": np.full(len(p), i)}
        for i, (p, e) in enumerate(trees)
    )
    summary = write_graph(tmp_path / "s", stream, **kw)  # type: ignore[arg-type]
    assert (summary.node_count, summary.edge_count) == (len(pos), len(edges))

    def edge_set(g):  # type: ignore[no-untyped-def]
        return {tuple(g.positions[a].tolist() + g.positions[b].tolist()) for a, b in g.edges}

    assert edge_set(read_graph(tmp_path / "s")) == edge_set(read_graph(tmp_path / "m"))
    one = read_graph(tmp_path / "s", object_ids=[7])
    assert edge_set(one) == edge_set(read_graph(tmp_path / "m", object_ids=[7]))

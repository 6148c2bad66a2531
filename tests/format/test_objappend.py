"""Appends of whole objects write only what they change (format/objappend.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.upstream_env import run_published
from tests.types.test_points_backends import CountingBackend
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.journal import ROOT_KEY
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.graphs import read_graph, write_graph
from zarr_vectors.types.meshes import read_mesh, write_mesh
from zarr_vectors.types.polylines import read_polylines, write_polylines

CS = (100.0,) * 3
B = ([0.0] * 3, [1000.0] * 3)


def walks(k: int, centre: float, spread: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(centre + np.cumsum(rng.normal(0, spread, (12, 3)), axis=0), 0, 999).astype(
            np.float32
        )
        for _ in range(k)
    ]


def cells_of(lines: list[np.ndarray]) -> set[tuple[int, ...]]:
    return {tuple(c) for c in np.floor(np.concatenate(lines) / 100).astype(int).tolist()}


def test_an_append_puts_only_the_cells_its_objects_touch(tmp_path: Path) -> None:
    old = walks(80, 500.0, 60.0, seed=1)  # all over the middle of the volume
    new = [np.full((4, 3), 50.0, np.float32) + np.arange(4)[:, None] for _ in range(3)]
    fa = [np.arange(len(p), dtype=np.float32) for p in old + new]
    write_polylines(
        tmp_path / "s", old, chunk_shape=CS, bounds=B, vertex_attributes={"fa": fa[:80]}
    )
    backend = CountingBackend(LocalBackend(tmp_path / "s"))
    write_polylines(
        backend,
        new,
        vertex_attributes={"fa": fa[80:]},
        object_ids=[80, 81, 82],
        mode="a",
    )
    puts = [k for op, k in backend.requests if op == "put"]
    staged = [k.split("/", 1)[1] for k in puts if k.startswith(".zv-staged-")]
    cell_puts = {k for k in staged if "/c/" in k and not k.startswith("0/object_index")}
    touched = {tuple(int(x) for x in k.rsplit("/c/", 1)[1].split("/")) for k in cell_puts}
    assert touched == cells_of(new)  # the new objects' one cell, nothing else
    every = len(list((tmp_path / "s" / "0" / "vertices" / "c").rglob("*/*/*")))
    assert every > 20 * len(touched)
    index = {k for k in staged if k.startswith("0/object_index/") and "/c/" in k}
    assert index == {"0/object_index/object_ids/c/0", "0/object_index/manifests/c/0"}
    # The documents that changed: vertices (a new cell listed), the level's count, ...
    docs = {k for k in staged if k.endswith("zarr.json")}
    assert "0/zarr.json" in docs and len(docs) < 12
    got = read_polylines(tmp_path / "s")
    assert [p.tolist() for p in got.polylines] == [p.tolist() for p in old + new]
    assert [p.tolist() for p in got.vertex_attributes["fa"]] == [p.tolist() for p in fa]
    assert not list(tmp_path.glob("s/.zv-staged-*"))


def test_appended_ids_go_in_order_and_a_second_append_extends_cells_again(
    tmp_path: Path,
) -> None:
    lines = walks(30, 500.0, 40.0, seed=2)
    w = np.arange(30, dtype=np.float64)
    write_polylines(
        tmp_path / "s",
        lines[:10],
        chunk_shape=CS,
        bounds=B,
        object_ids=range(100, 110),
        object_attributes={"w": w[:10]},
        shard_shape=2,
    )
    write_polylines(
        tmp_path / "s",
        lines[10:20],
        object_ids=range(0, 10),
        object_attributes={"w": w[10:20]},
        mode="a",
    )
    write_polylines(
        tmp_path / "s",
        lines[20:],
        object_ids=range(200, 210),
        object_attributes={"w": w[20:]},
        mode="a",
    )
    got = read_polylines(tmp_path / "s")
    want_ids = [*range(0, 10), *range(100, 110), *range(200, 210)]
    assert got.object_ids.tolist() == want_ids
    order = [*range(10, 20), *range(0, 10), *range(20, 30)]
    assert [p.tolist() for p in got.polylines] == [lines[i].tolist() for i in order]
    np.testing.assert_array_equal(got.object_attributes["w"], w[order])
    one = read_polylines(tmp_path / "s", object_ids=[105])
    np.testing.assert_array_equal(one.polylines[0], lines[5])
    with pytest.raises(ValidationError, match="object id 5 is already"):
        write_polylines(
            tmp_path / "s", lines[:1], object_ids=[5], object_attributes={"w": [0.0]}, mode="a"
        )
    with pytest.raises(ValidationError, match="attributes"):
        write_polylines(tmp_path / "s", lines[:1], object_ids=[999], mode="a")


def test_skeletons_and_meshes_appended_in_place_keep_every_edge_and_face(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    pos = np.clip(500 + np.cumsum(rng.normal(0, 30, (200, 3)), axis=0), 0, 999).astype(np.float32)
    j = np.arange(100)
    local = np.maximum(j - rng.integers(1, 4, 100), 0)
    child = np.concatenate([j[1:], j[1:] + 100])
    edges = np.stack([child, np.concatenate([local[1:], local[1:] + 100])], axis=1)
    ids = np.repeat([1, 2], 100)
    first = edges[:, 0] < 100
    write_graph(
        tmp_path / "g",
        pos[:100],
        edges[first],
        object_ids=ids[:100],
        kind="skeleton",
        chunk_shape=CS,
        bounds=B,
    )
    write_graph(
        tmp_path / "g",
        pos[100:],
        edges[~first] - 100,
        object_ids=ids[100:],
        kind="skeleton",
        mode="a",
    )
    g = read_graph(tmp_path / "g")

    def edge_set(p: np.ndarray, e: np.ndarray) -> set[Any]:
        return {tuple(p[a].tolist() + p[b].tolist()) for a, b in e}

    assert edge_set(g.positions, g.edges) == edge_set(pos, edges)
    tet = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    v = np.array([[90, 90, 90], [130, 90, 95], [95, 140, 90], [100, 100, 150]], np.float32)
    write_mesh(tmp_path / "m", v, tet, chunk_shape=CS, bounds=B)
    write_mesh(tmp_path / "m", v + 5, tet, object_ids=np.full(4, 1), mode="a")
    m = read_mesh(tmp_path / "m")
    assert m.face_count == 8 and sorted(set(m.object_ids.tolist())) == [0, 1]
    assert edge_set(m.vertices, m.faces[:, :2]) == edge_set(
        np.concatenate([v, v + 5]), np.concatenate([tet, tet + 4])[:, :2]
    )


class FailingMoves(CountingBackend):
    """Fails the first move of staged objects into place: the append has committed."""

    failed = False

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("the machine went away")
        super()._move_many(pairs)


class FailingPuts(CountingBackend):
    """Fails a put of a staged cell: the append has not committed."""

    def _put(self, key: str, data: bytes) -> None:
        if key.startswith(".zv-staged-") and "/vertices/c/" in key:
            raise OSError("disk full")
        super()._put(key, data)


def test_an_append_that_fails_before_or_after_its_commit_leaves_old_or_old_plus_new(
    tmp_path: Path,
) -> None:
    old, new = walks(20, 500.0, 50.0, seed=3), walks(5, 300.0, 30.0, seed=4)
    write_polylines(tmp_path / "s", old, chunk_shape=CS, bounds=B)
    with pytest.raises(OSError, match="disk full"):
        write_polylines(
            FailingPuts(LocalBackend(tmp_path / "s")), new, object_ids=range(20, 25), mode="a"
        )
    got = read_polylines(tmp_path / "s")
    assert [p.tolist() for p in got.polylines] == [p.tolist() for p in old]
    assert not list(tmp_path.glob("s/.zv-staged-*"))
    with pytest.raises(OSError, match="went away"):
        write_polylines(
            FailingMoves(LocalBackend(tmp_path / "s")), new, object_ids=range(20, 25), mode="a"
        )
    pending = json.loads((tmp_path / "s" / ROOT_KEY).read_text())["attributes"][
        "zarr_vectors_writer"
    ]["pending"]
    assert pending["state"] == "moving" and pending["overlay"] is True
    want = [p.tolist() for p in old + new]
    assert [p.tolist() for p in read_polylines(tmp_path / "s").polylines] == want
    # The next writer finishes the move and deletes nothing of the old store.
    more = walks(2, 700.0, 20.0, seed=6)
    write_polylines(tmp_path / "s", more, object_ids=[25, 26], mode="a")
    got = read_polylines(tmp_path / "s")
    assert [p.tolist() for p in got.polylines] == want + [p.tolist() for p in more]


READ = r"""
import json, sys
import numpy as np
from zarr_vectors.types.polylines import read_polylines
r = read_polylines(sys.argv[1])
polys = [np.concatenate(p).tolist() for p in r["polylines"]]
print(json.dumps([polys, list(map(int, r["object_ids"]))]))
"""


@pytest.mark.slow
def test_the_published_package_reads_an_appended_store_exactly(tmp_path: Path) -> None:
    lines = walks(30, 500.0, 50.0, seed=7)
    write_polylines(tmp_path / "s", lines[:20], chunk_shape=CS, bounds=B)
    write_polylines(tmp_path / "s", lines[20:], object_ids=range(20, 30), mode="a")
    polys, ids = json.loads(run_published(READ, str(tmp_path / "s")).stdout)
    assert ids == list(range(30))
    for p, want in zip(polys, lines, strict=True):
        np.testing.assert_array_equal(np.array(p, np.float32), want)

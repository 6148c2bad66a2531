"""Appends of whole objects write only what they change (format/objappend.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.upstream_env import run_published
from tests.types.test_points_backends import CountingBackend
from zarr_vectors.exceptions import ConcurrentWriteError, ValidationError
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
    lines = walks(40, 500.0, 50.0, seed=7)
    write_polylines(tmp_path / "s", lines[:20], chunk_shape=CS, bounds=B)
    write_polylines(tmp_path / "s", lines[20:30], object_ids=range(20, 30), mode="a")
    batches = ({"polylines": lines[i : i + 5], "object_ids": range(i, i + 5)} for i in (30, 35))
    write_polylines(tmp_path / "s", batches, mode="a")  # and from batches
    polys, ids = json.loads(run_published(READ, str(tmp_path / "s")).stdout)
    assert ids == list(range(40))
    for p, want in zip(polys, lines, strict=True):
        np.testing.assert_array_equal(np.array(p, np.float32), want)


def tree(shift: float) -> tuple[np.ndarray, np.ndarray]:
    """A 7-node skeleton around (shift, shift, shift): a root, a chain and a branch."""
    pos = np.array(
        [[0, 0, 0], [60, 0, 0], [120, 0, 0], [180, 0, 0], [60, 60, 0], [60, 120, 0], [60, 180, 0]],
        np.float32,
    )
    edges = np.array([[1, 0], [2, 1], [3, 2], [4, 1], [5, 4], [6, 5]])
    return pos + shift, edges


def store_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_a_streamed_append_adds_batches_to_a_sharded_store_in_place(tmp_path: Path) -> None:
    old = walks(20, 500.0, 60.0, seed=7)
    fa = [np.arange(len(p), dtype=np.float32) for p in old]
    write_polylines(
        tmp_path / "s", old, chunk_shape=CS, bounds=B, vertex_attributes={"fa": fa}, shard_shape=2
    )
    new = walks(12, 450.0, 60.0, seed=8)
    batches = (
        {
            "polylines": new[i : i + 4],
            "object_ids": range(20 + i, 24 + i),
            "vertex_attributes": {"fa": [p[:, 0] for p in new[i : i + 4]]},
        }
        for i in range(0, 12, 4)
    )
    backend = CountingBackend(LocalBackend(tmp_path / "s"))
    summary = write_polylines(
        backend, batches, mode="a", memory_limit="64MB", spill_dir=str(tmp_path)
    )
    assert summary.vertex_count == sum(map(len, new))
    got = read_polylines(tmp_path / "s")
    assert got.object_ids.tolist() == list(range(32))
    assert [p.tolist() for p in got.polylines] == [p.tolist() for p in old + new]
    want_fa = [*fa, *(p[:, 0] for p in new)]
    assert [a.tolist() for a in got.vertex_attributes["fa"]] == [a.tolist() for a in want_fa]
    staged = {
        k.split("/", 1)[1]
        for op, k in backend.requests
        if op == "put" and k.startswith(".zv-staged-")
    }
    shards = {k for k in staged if k.startswith("0/vertices/c/")}
    every = {
        str(p.relative_to(tmp_path / "s")) for p in (tmp_path / "s/0/vertices/c").rglob("*/*/*")
    }
    assert shards < every  # only the shards of the touched cells
    assert not list(tmp_path.glob("zarr-vectors-spill-*")) and not list(
        tmp_path.glob("s/.zv-staged-*")
    )


def test_a_skeleton_stream_appended_keeps_every_edge_across_cells(tmp_path: Path) -> None:
    p0, e0 = tree(420.0)
    write_graph(
        tmp_path / "g", p0, e0, object_ids=[1] * 7, kind="skeleton", chunk_shape=CS, bounds=B
    )
    items = [(tree(s)[0], tree(s)[1], [k] * 7) for k, s in ((2, 430.0), (3, 90.0))]
    write_graph(tmp_path / "g", iter(items), kind="skeleton", mode="a")
    g = read_graph(tmp_path / "g")

    def edge_set(p: np.ndarray, e: np.ndarray) -> set[Any]:
        return {tuple(p[a].tolist() + p[b].tolist()) for a, b in e}

    want = set().union(*(edge_set(tree(s)[0], e0) for s in (420.0, 430.0, 90.0)))
    assert edge_set(g.positions, g.edges) == want
    assert np.unique(g.object_ids).tolist() == [1, 2, 3]


def test_a_streamed_append_that_fails_anywhere_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    old = walks(10, 500.0, 60.0, seed=9)
    write_polylines(tmp_path / "s", old, chunk_shape=CS, bounds=B)
    before = store_files(tmp_path / "s")
    bad = walks(2, 500.0, 60.0, seed=10)
    bad[1] = bad[1].copy()
    bad[1][0, 0] = np.nan
    cases = [
        (
            [
                {"polylines": walks(2, 500.0, 60.0, seed=11), "object_ids": [10, 11]},
                {"polylines": bad, "object_ids": [12, 13]},
            ],
            "NaN",
        ),
        (
            [{"polylines": walks(2, 500.0, 60.0, seed=12), "object_ids": [10, 3]}],
            "object id 3 is already",
        ),
        (
            [{"polylines": walks(1, 500.0, 60.0, seed=13), "object_ids": [10]}] * 2,
            "more than one object",
        ),
        (
            [{"polylines": [np.full((2, 3), 2000.0, np.float32)], "object_ids": [10]}],
            "outside the bounds",
        ),
        (
            [
                {
                    "polylines": walks(1, 500.0, 60.0, seed=14),
                    "object_ids": [10],
                    "vertex_attributes": {"x": [np.ones(12)]},
                }
            ],
            "attributes",
        ),
    ]
    for batches, needle in cases:
        with pytest.raises(ValidationError, match=needle):
            write_polylines(tmp_path / "s", iter(batches), mode="a", spill_dir=str(tmp_path))
        assert store_files(tmp_path / "s") == before, needle
    assert not list(tmp_path.glob("zarr-vectors-spill-*"))
    good = iter([{"polylines": walks(2, 500.0, 60.0, seed=16), "object_ids": [10, 11]}])
    with pytest.raises(OSError, match="disk full"):  # a put of the commit fails
        write_polylines(FailingPuts(LocalBackend(tmp_path / "s")), good, mode="a")
    got = read_polylines(tmp_path / "s")
    assert [p.tolist() for p in got.polylines] == [p.tolist() for p in old]
    assert not list(tmp_path.glob("s/.zv-staged-*"))


def test_a_writer_that_commits_into_the_same_cells_while_batches_spill_wins(tmp_path: Path) -> None:
    """The spilled rows are numbered after the cells as they were; a commit meanwhile that
    adds to those cells makes the append refuse, nothing written, while one elsewhere does not."""
    write_polylines(tmp_path / "s", walks(10, 500.0, 60.0, seed=15), chunk_shape=CS, bounds=B)
    here = [np.full((3, 3), 50.0, np.float32) + np.arange(3)[:, None]]

    def meanwhile(ids: list[int], other: list[np.ndarray], other_id: int):  # type: ignore[no-untyped-def]
        yield {"polylines": here, "object_ids": ids}
        write_polylines(tmp_path / "s", other, object_ids=[other_id], mode="a")

    with pytest.raises(ConcurrentWriteError, match="another writer"):
        write_polylines(tmp_path / "s", meanwhile([20], [here[0] + 1.0], 21), mode="a")
    after = read_polylines(tmp_path / "s")
    assert after.object_ids.tolist() == [*range(10), 21]  # the other writer's, not ours
    far = [np.full((2, 3), 950.0, np.float32)]
    write_polylines(tmp_path / "s", meanwhile([30], far, 31), mode="a")
    got = read_polylines(tmp_path / "s", object_ids=[30, 31])
    assert [p.tolist() for p in got.polylines] == [here[0].tolist(), far[0].tolist()]
    # a replace meanwhile that keeps those cells but adds an object attribute: refused too
    lines = walks(10, 500.0, 60.0, seed=17)
    write_polylines(tmp_path / "t", lines, chunk_shape=CS, bounds=B)

    def replaced():  # type: ignore[no-untyped-def]
        yield {"polylines": here, "object_ids": [40]}
        w = {"w": np.arange(10.0)}
        write_polylines(
            tmp_path / "t", lines, chunk_shape=CS, bounds=B, mode="w", object_attributes=w
        )

    with pytest.raises(ConcurrentWriteError, match="another writer"):
        write_polylines(tmp_path / "t", replaced(), mode="a")
    assert read_polylines(tmp_path / "t").object_ids.tolist() == list(range(10))

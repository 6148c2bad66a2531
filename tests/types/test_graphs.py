"""write_graph / read_graph: graphs and skeletons whole, every edge, objects and attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.types.graphs import Graph, read_graph, write_graph

CS = (100.0, 100.0, 100.0)
BOUNDS = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def forest(trees: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random trees (edges (child, parent)), vertices shuffled so roots are anywhere."""
    rng = np.random.default_rng(seed)
    pos, edges, oid, base = [], [], [], 0
    for t in range(trees):
        m = int(rng.integers(20, 120))
        p = [rng.uniform(300, 700, 3)]
        for j in range(1, m):
            q = int(rng.integers(max(0, j - 6), j))
            p.append(p[q] + rng.normal(0, 25, 3))
            edges.append((base + j, base + q))
        pos += p
        oid += [t * 10 + 5] * m
        base += m
    perm = rng.permutation(base)
    inv = np.argsort(perm)
    return (
        np.clip(np.array(pos), 0, 1000)[perm].astype(np.float32),
        inv[np.array(edges)],
        np.array(oid)[perm],
    )


def directed(
    pos: np.ndarray, edges: np.ndarray
) -> set[tuple[tuple[float, ...], tuple[float, ...]]]:
    return {(tuple(pos[a].tolist()), tuple(pos[b].tolist())) for a, b in edges}


def test_skeletons_come_back_with_every_edge_and_direction(tmp_path: Path) -> None:
    pos, edges, oid = forest(5)
    radius = np.arange(len(pos), dtype=np.float32)
    s = write_graph(
        tmp_path / "s",
        pos,
        edges,
        kind="skeleton",
        chunk_shape=CS,
        bounds=BOUNDS,
        vertex_attributes={"radius": radius},
        object_ids=oid,
        object_attributes={"soma": np.arange(5.0)},
    )
    assert s.object_count == 5 and s.edge_count == len(edges)
    got = read_graph(tmp_path / "s")
    assert isinstance(got, Graph) and got.kind == "skeleton"
    assert directed(got.positions, got.edges) == directed(pos, edges)
    # every vertex with its own id and radius
    want = {
        (*tuple(p.tolist()), int(o), float(r)) for p, o, r in zip(pos, oid, radius, strict=True)
    }
    have = {
        (*tuple(p.tolist()), int(o), float(r))
        for p, o, r in zip(
            got.positions, got.object_ids, got.vertex_attributes["radius"], strict=True
        )
    }
    assert have == want
    np.testing.assert_array_equal(got.objects, [5, 15, 25, 35, 45])
    np.testing.assert_array_equal(got["object_attributes"]["soma"], np.arange(5.0))
    one = read_graph(tmp_path / "s", object_ids=[25])
    keep = oid == 25
    sub = edges[keep[edges[:, 0]]]
    assert directed(one.positions, one.edges) == directed(pos, sub)


def test_graph_with_cycles_and_edge_attributes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 1000, (300, 3)).astype(np.float32)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    edges = np.argwhere(np.triu(d < 120, 1))
    length = d[edges[:, 0], edges[:, 1]].astype(np.float32)
    write_graph(
        tmp_path / "g",
        pos,
        edges,
        chunk_shape=CS,
        bounds=BOUNDS,
        link_attributes={"length": length},
    )
    got = read_graph(tmp_path / "g")
    want = {
        frozenset((tuple(pos[a].tolist()), tuple(pos[b].tolist()))): float(w)
        for (a, b), w in zip(edges, length, strict=True)
    }
    have = {
        frozenset((tuple(got.positions[a].tolist()), tuple(got.positions[b].tolist()))): float(w)
        for (a, b), w in zip(got.edges, got.link_attributes["length"], strict=True)
    }
    assert have == want and len(got.edges) == len(edges)


def test_skeleton_edges_with_attributes_are_all_kept(tmp_path: Path) -> None:
    pos, edges, oid = forest(2, 1)
    w = np.arange(len(edges), dtype=np.float64)
    write_graph(
        tmp_path / "s",
        pos,
        edges,
        kind="skeleton",
        object_ids=oid,
        chunk_shape=CS,
        bounds=BOUNDS,
        link_attributes={"w": w},
    )
    got = read_graph(tmp_path / "s")
    want = {
        (tuple(pos[a].tolist()), tuple(pos[b].tolist())): x
        for (a, b), x in zip(edges, w, strict=True)
    }
    have = {
        (tuple(got.positions[a].tolist()), tuple(got.positions[b].tolist())): x
        for (a, b), x in zip(got.edges, got.link_attributes["w"], strict=True)
    }
    assert have == want


def test_append_whole_skeletons(tmp_path: Path) -> None:
    pos, edges, oid = forest(3, 2)
    write_graph(
        tmp_path / "s", pos, edges, kind="skeleton", object_ids=oid, chunk_shape=CS, bounds=BOUNDS
    )
    p2, e2, o2 = forest(2, 5)
    write_graph(tmp_path / "s", p2, e2, kind="skeleton", object_ids=o2 + 1000, mode="a")
    got = read_graph(tmp_path / "s")
    both = directed(pos, edges) | directed(p2, e2)
    assert directed(got.positions, got.edges) == both
    with pytest.raises(ValidationError, match="already in the store"):
        write_graph(tmp_path / "s", p2, e2, kind="skeleton", object_ids=o2 + 1000, mode="a")


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("past", "points past the 4 vertices"),
        ("two_roots", "object 0 has 2 roots"),
        ("two_parents", "2 parents"),
        ("cycle", "cycle"),
        ("nan", "NaN"),
        ("links", "edge attribute 'w' has 1 values"),
        ("kind", "kind must be"),
    ],
)
def test_bad_graphs_are_refused_before_writing(tmp_path: Path, case: str, match: str) -> None:
    pos = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]], np.float32)
    edges = np.array([[1, 0], [2, 1], [3, 2]])
    kw: dict = {"kind": "skeleton"}
    if case == "past":
        edges = np.array([[1, 0], [4, 1]])
    elif case == "two_roots":
        edges = np.array([[1, 0], [3, 2]])
    elif case == "two_parents":
        edges = np.array([[1, 0], [2, 1], [2, 0], [3, 2]])
    elif case == "cycle":
        pos = np.concatenate([pos, [[5, 5, 5]]]).astype(np.float32)
        edges = np.array([[1, 0], [2, 3], [3, 4], [4, 2]])
    elif case == "nan":
        pos[2, 0] = np.nan
    elif case == "links":
        kw["link_attributes"] = {"w": [1.0]}
    elif case == "kind":
        kw["kind"] = "tree"
    with pytest.raises(ValidationError, match=match) as info:
        write_graph(tmp_path / "s", pos, edges, chunk_shape=CS, bounds=BOUNDS, **kw)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "s").exists()

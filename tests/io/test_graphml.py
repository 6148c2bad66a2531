"""GraphML graphs through networkx: files made by networkx, to a store and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zarr_vectors.cli.files_cmd import read_cmd, write_cmd
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.graphml import read_graphml
from zarr_vectors.types.graphs import read_graph, write_graph

nx = pytest.importorskip("networkx")


def library_graph(path: Path) -> nx.Graph:
    """Two objects (a triangle and a path) with numeric, text and partial attributes."""
    rng = np.random.default_rng(5)
    g = nx.Graph()
    for i in range(7):
        x, y, z = rng.uniform(0, 100, 3).tolist()
        g.add_node(f"node{i}", x=x, y=y, z=z, object_id=int(i >= 3), radius=0.5 * i, label=f"n{i}")
    g.nodes["node1"]["note"] = "only one node has this"
    for u, v, w in [(0, 1, 1.0), (1, 2, 2.0), (2, 0, 3.0), (3, 4, 4.0), (4, 5, 5.0), (5, 6, 6.0)]:
        g.add_edge(f"node{u}", f"node{v}", weight=w, hops=u + v)
    nx.write_graphml(g, str(path))
    return g


def key(p: np.ndarray) -> tuple[float, ...]:
    """A position as the store holds it (float32), comparable across float widths."""
    return tuple(np.asarray(p, np.float32).astype(np.float64).round(3).tolist())


def edge_set(pos: np.ndarray, edges: np.ndarray, values: np.ndarray) -> set[tuple[object, ...]]:
    """Edges as unordered coordinate pairs with their value (independent of node order)."""
    out = set()
    for (a, b), w in zip(edges.tolist(), values.tolist(), strict=True):
        out.add((*sorted([key(pos[a]), key(pos[b])]), w))
    return out


def test_a_graphml_file_goes_to_a_store_and_back(tmp_path: Path) -> None:
    g = library_graph(tmp_path / "in.graphml")
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "in.graphml"), str(tmp_path / "s")])
    assert run.exit_code == 0, run.output
    assert "Wrote a graph of 7 nodes and 6 edges" in run.output
    assert "'label' is not numeric" in run.output
    assert "'note' is on 1 of 7: left out" in run.output
    got = read_graph(tmp_path / "s")
    assert got.kind == "graph"
    assert sorted(got.objects.tolist()) == [0, 1]
    pos = np.array([[d["x"], d["y"], d["z"]] for _, d in g.nodes(data=True)])
    src = {n: i for i, n in enumerate(g.nodes)}
    want_edges = np.array([(src[u], src[v]) for u, v in g.edges])
    want_w = np.array([d["weight"] for _, _, d in g.edges(data=True)])
    assert edge_set(got.positions, got.edges, got.link_attributes["weight"]) == edge_set(
        pos, want_edges, want_w
    )
    by_pos = {key(p): i for i, p in enumerate(got.positions)}
    for i, (_, d) in enumerate(g.nodes(data=True)):
        j = by_pos[key(pos[i])]
        assert got.vertex_attributes["radius"][j] == d["radius"]
        assert got.object_ids[j] == d["object_id"]
    assert set(got.vertex_attributes) == {"radius"}
    assert set(got.link_attributes) == {"weight", "hops"}

    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "out.graphml")])
    assert run.exit_code == 0, run.output
    back = read_graphml(tmp_path / "out.graphml")
    assert back.notes == [] and not back.directed  # a graph store's links are undirected
    np.testing.assert_allclose(back.positions, got.positions)
    np.testing.assert_array_equal(back.object_ids, got.object_ids)
    np.testing.assert_array_equal(back.vertex_attributes["radius"], got.vertex_attributes["radius"])
    assert edge_set(back.positions, back.edges, back.link_attributes["hops"]) == edge_set(
        got.positions, got.edges, got.link_attributes["hops"]
    )


def test_a_skeleton_store_is_written_as_graphml_with_its_columns(tmp_path: Path) -> None:
    pos = np.array([[0, 0, 0], [10, 0, 0], [20, 5, 0], [20, -5, 0]], np.float32)
    edges = np.array([[1, 0], [2, 1], [3, 1]])
    colour = np.arange(12, dtype=np.uint8).reshape(4, 3)
    write_graph(
        tmp_path / "s", pos, edges, kind="skeleton", chunk_shape=(8, 8, 8),
        vertex_attributes={"colour": colour},
    )  # fmt: skip
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "o.graphml")])
    assert run.exit_code == 0, run.output
    assert "'colour' written as colour_0, colour_1" in run.output
    back = read_graphml(tmp_path / "o.graphml")
    assert back.directed  # child to parent
    order = np.lexsort(back.positions.T[::-1])
    np.testing.assert_allclose(back.positions[order], pos[np.lexsort(pos.T[::-1])])
    got = np.stack([back.vertex_attributes[f"colour_{j}"] for j in range(3)], axis=1)
    np.testing.assert_array_equal(got[order], colour[np.lexsort(pos.T[::-1])])
    directed = {(tuple(back.positions[a]), tuple(back.positions[b])) for a, b in back.edges}
    assert directed == {
        (tuple(pos[a].astype(float)), tuple(pos[b].astype(float))) for a, b in edges
    }


def test_a_directed_file_is_told_its_store_is_undirected(tmp_path: Path) -> None:
    g = nx.DiGraph()
    for i in range(3):
        g.add_node(str(i), x=float(i), y=0.0, z=0.0)
    g.add_edges_from([("0", "1"), ("1", "0"), ("1", "2")])
    nx.write_graphml(g, str(tmp_path / "d.graphml"))
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "d.graphml"), str(tmp_path / "s")])
    assert run.exit_code == 0, run.output
    assert "the store's edges are undirected" in run.output
    got = read_graph(tmp_path / "s")
    assert sorted(map(tuple, got.edges.tolist())) == [(0, 1), (1, 0), (1, 2)]  # order kept
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "u.graphml")])
    assert run.exit_code == 0, run.output
    assert "1 edges repeat another" in run.output  # (0, 1) and (1, 0): one undirected edge
    back = read_graphml(tmp_path / "u.graphml")
    assert not back.directed and len(back.edges) == 2


def test_nodes_without_positions_are_refused_before_writing(tmp_path: Path) -> None:
    g = nx.Graph()
    g.add_node("a", x=1.0, y=2.0)
    g.add_node("b", x=3.0)
    g.add_edge("a", "b")
    nx.write_graphml(g, str(tmp_path / "bad.graphml"))
    with pytest.raises(ValidationError, match="node 'b' has no position"):
        read_graphml(tmp_path / "bad.graphml")
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "bad.graphml"), str(tmp_path / "s")])
    assert run.exit_code != 0
    assert "node 'b' has no position" in run.output
    assert not (tmp_path / "s").exists()
    (tmp_path / "junk.graphml").write_text("<graphml><node")
    with pytest.raises(ValidationError, match="not a readable GraphML file"):
        read_graphml(tmp_path / "junk.graphml")


def test_a_2d_graph_without_object_ids_is_one_object(tmp_path: Path) -> None:
    g = nx.DiGraph()
    for i in range(4):
        g.add_node(i, x=float(i), y=float(i % 2))
    g.add_edges_from([(0, 1), (1, 2), (2, 3)])
    nx.write_graphml(g, str(tmp_path / "p.graphml"))
    f = read_graphml(tmp_path / "p.graphml")
    assert f.positions.shape == (4, 2)
    assert f.object_ids is None
    assert f.edges.tolist() == [[0, 1], [1, 2], [2, 3]]

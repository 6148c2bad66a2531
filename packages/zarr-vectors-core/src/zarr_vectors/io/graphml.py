"""GraphML graphs through networkx.

GraphML (an XML format for graphs, written by Cytoscape, Gephi, yEd, igraph
and networkx) holds nodes and edges, each with typed attributes; it has no
notion of space. A node's position is taken from its attributes ``x``, ``y``
and (for 3-D) ``z``; an ``object_id`` attribute, when every node has one,
says which object (connected graph) a node belongs to. The other numeric
node attributes become vertex attributes and numeric edge attributes link
attributes; text attributes, and attributes some nodes or edges lack, are
left out with a note. Node ids are not kept: nodes are numbered in file
order. Why networkx: it is the maintained reference reader and writer of
GraphML in Python (typed keys, defaults, directed and undirected graphs).

On the way out each vertex is a node ``"i"`` (its row) with ``x``, ``y``,
``z``, ``object_id`` and its attributes, an attribute of several columns
as ``name_0``, ``name_1``, ...; each edge as the store holds it. A skeleton
is written directed (``(child, parent)``: the edge points at the parent), a
graph undirected, as its store records it (the links family's ``directed:
false``, which 0.9.2 writes for every store). A directed file written to a
store keeps each edge's endpoint order, but not the direction as a property
of the graph (the CLI says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.common import unreadable
from zarr_vectors.io.landing import landing

__all__ = ["GraphFile", "read_graphml", "write_graphml"]

AXES = ("x", "y", "z")
OBJECT_ID = "object_id"


@dataclass
class GraphFile:
    """A graph read from a file: node positions, ``(source, target)`` edges, attributes."""

    positions: npt.NDArray[np.float64]
    edges: npt.NDArray[np.int64]
    object_ids: npt.NDArray[np.int64] | None = None
    vertex_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    link_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The file's graph is directed (``edgedefault="directed"``).
    directed: bool = False


def _nx() -> Any:
    return require("networkx", feature="GraphML files", extra="graphml")


def _numeric(
    rows: list[Mapping[str, Any]], what: str, skip: tuple[str, ...], notes: list[str]
) -> dict[str, npt.NDArray[Any]]:
    """One array per attribute every row has with numbers; a note for each left out."""
    names = sorted({k for r in rows for k in r} - set(skip))
    out: dict[str, npt.NDArray[Any]] = {}
    for name in names:
        have = sum(name in r for r in rows)
        if have < len(rows):
            notes.append(f"{what} attribute {name!r} is on {have} of {len(rows)}: left out")
            continue
        values = np.asarray([r[name] for r in rows])
        if values.dtype.kind not in "biuf":
            notes.append(f"{what} attribute {name!r} is not numeric ({values.dtype}): left out")
            continue
        out[name] = values
    return out


def read_graphml(path: str | Path) -> GraphFile:
    """The nodes (positions from ``x``/``y``/``z``) and edges of a GraphML file."""
    nx = _nx()
    with unreadable(path, "GraphML"):
        g = nx.read_graphml(str(path))
    nodes = list(g.nodes(data=True))
    if not nodes:
        raise ValidationError(f"{path}: the graph has no nodes")
    rows = [d for _, d in nodes]
    axes = [a for a in AXES if all(a in r for r in rows)]
    if axes[:2] != ["x", "y"]:
        lacking = next(str(n) for n, d in nodes if "x" not in d or "y" not in d)
        raise ValidationError(
            f"{path}: node {lacking!r} has no position; every node needs numeric attributes x "
            "and y (and z for 3-D)"
        )
    try:
        positions = np.asarray([[float(r[a]) for a in axes] for r in rows], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{path}: node positions (x, y, z) must be numbers") from None
    index = {n: i for i, (n, _) in enumerate(nodes)}
    links = list(g.edges(data=True))
    edges = np.asarray([(index[u], index[v]) for u, v, _ in links], dtype=np.int64).reshape(-1, 2)
    notes: list[str] = []
    oids = None
    if all(OBJECT_ID in r for r in rows):
        oids = np.asarray([r[OBJECT_ID] for r in rows])
        if oids.dtype.kind not in "iu":
            raise ValidationError(f"{path}: node attribute {OBJECT_ID!r} must be integers")
        oids = oids.astype(np.int64)
    return GraphFile(
        positions=positions,
        edges=edges,
        object_ids=oids,
        vertex_attributes=_numeric(rows, "node", (*AXES, OBJECT_ID), notes),
        link_attributes=_numeric([d for _, _, d in links], "edge", (), notes),
        notes=notes,
        directed=bool(g.is_directed()),
    )


def _scalars(attrs: Mapping[str, npt.NDArray[Any]], n: int) -> dict[str, list[Any]]:
    """Attribute columns as Python scalars; an (n, k) attribute as name_0 .. name_{k-1}."""
    out: dict[str, list[Any]] = {}
    for name, values in attrs.items():
        flat = np.asarray(values).reshape(n, -1)
        if flat.shape[1] == 1:
            out[name] = flat[:, 0].tolist()
        else:
            for j in range(flat.shape[1]):
                out[f"{name}_{j}"] = flat[:, j].tolist()
    return out


def write_graphml(
    path: str | Path,
    positions: npt.NDArray[Any],
    edges: npt.NDArray[np.int64],
    *,
    object_ids: npt.NDArray[np.int64] | None = None,
    vertex_attributes: Mapping[str, npt.NDArray[Any]] | None = None,
    link_attributes: Mapping[str, npt.NDArray[Any]] | None = None,
    directed: bool = True,
) -> list[str]:
    """Write a GraphML file, directed or not; returns notes on what was changed to fit.

    Undirected, an edge given twice (``(a, b)`` and ``(b, a)``) is one edge of
    the file: a note counts them.
    """
    nx = _nx()
    n = len(positions)
    notes = [
        f"GraphML holds one value per attribute: {name!r} written as {name}_0, {name}_1, ..."
        for name, v in {**(vertex_attributes or {}), **(link_attributes or {})}.items()
        if np.asarray(v).reshape(len(v), -1).shape[1] > 1
    ]
    node_cols = {
        a: np.asarray(positions)[:, i].astype(float).tolist()
        for i, a in enumerate(AXES[: positions.shape[1]])
    }
    if object_ids is not None:
        node_cols[OBJECT_ID] = np.asarray(object_ids, dtype=np.int64).tolist()
    node_cols.update(_scalars(vertex_attributes or {}, n))
    edge_cols = _scalars(link_attributes or {}, len(edges))
    g = nx.DiGraph() if directed else nx.Graph()
    names = list(node_cols)
    for i, values in enumerate(zip(*node_cols.values(), strict=True)):
        g.add_node(str(i), **dict(zip(names, values, strict=True)))
    enames = list(edge_cols)
    for k, (u, v) in enumerate(np.asarray(edges, dtype=np.int64).tolist()):
        g.add_edge(str(u), str(v), **{e: edge_cols[e][k] for e in enames})
    if g.number_of_edges() < len(edges):
        notes.append(
            f"{len(edges) - g.number_of_edges()} edges repeat another (GraphML holds each once)"
        )
    with landing(path) as part:
        nx.write_graphml(g, str(part))
    return notes

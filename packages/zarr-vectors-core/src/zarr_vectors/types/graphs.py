"""Graphs and skeletons: :func:`write_graph` and :func:`read_graph`.

A graph is vertices (``positions``) and edges (pairs of vertex indices);
``object_ids`` (one per vertex) split it into objects, e.g. one neuron per
id. ``kind="graph"`` stores every edge as a link; ``kind="skeleton"`` (one
tree per object, edges ``(child, parent)``) stores an object's vertices root
first and leaves out the links a reader implies (a vertex's parent is the row
before it in its fragment), as the published 0.9.2 does. Edges between cells
are always stored. Objects come back whole, every edge with them.
The user guide is ``docs/graphs.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.batches import is_stream
from zarr_vectors.format.objects import ObjectLevel
from zarr_vectors.format.objread import ObjectData
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.validate import check_attributes, check_positions
from zarr_vectors.store.location import StoreLike
from zarr_vectors.types._objects import (
    ObjectResult,
    check_layout,
    check_object_attributes,
    merge_levels,
    objects_as_dask,
    read_store,
    write_store,
    write_stream,
)
from zarr_vectors.types._write_options import WriteOptions

__all__ = ["Graph", "read_graph", "write_graph"]

Box = tuple[Sequence[float], Sequence[float]]
KINDS = ("graph", "skeleton")


@dataclass
class Graph(ObjectResult):
    """A graph or skeleton read from a store; also indexable like 0.9.2's dict.

    ``object_ids`` has one id per vertex (as written); ``object_attributes``
    one row per object, objects in ascending id order (``objects``).
    """

    positions: npt.NDArray[Any]
    edges: npt.NDArray[np.int64]
    object_ids: npt.NDArray[np.int64]
    objects: npt.NDArray[np.int64]
    vertex_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    link_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    kind: str = "graph"
    _keys = (
        "positions",
        "edges",
        "object_ids",
        "objects",
        "vertex_attributes",
        "link_attributes",
        "object_attributes",
        "node_count",
        "edge_count",
        "kind",
    )

    @property
    def node_count(self) -> int:
        return len(self.positions)

    @property
    def edge_count(self) -> int:
        return len(self.edges)

    def __len__(self) -> int:
        return self.node_count

    def _vertex_table(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], dict[str, Any]]:
        return self.positions, self.object_ids, self.vertex_attributes

    def _summary(self) -> list[tuple[str, str]]:
        return [
            ("kind", self.kind),
            ("objects", f"{len(self.objects):,}"),
            ("edges", f"{self.edge_count:,}"),
        ]


@dataclass(frozen=True)
class WriteSummary:
    """What :func:`write_graph` wrote."""

    node_count: int
    edge_count: int
    object_count: int
    chunk_count: int
    kind: str
    mode: str


def _check_edges(edges: Any, n: int) -> npt.NDArray[np.int64]:
    e = np.asarray(edges)
    if e.size == 0:
        return np.zeros((0, 2), np.int64)
    if e.ndim != 2 or e.shape[1] != 2 or e.dtype.kind not in "iu":
        raise ValidationError(
            f"edges must be an (M, 2) array of vertex indices, got {e.dtype} shape {e.shape}"
        )
    e = e.astype(np.int64)
    bad = np.flatnonzero(((e < 0) | (e >= n)).any(axis=1))
    if len(bad):
        k = int(bad[0])
        raise ValidationError(
            f"edge {k} {e[k].tolist()} points past the {n} vertices (indices 0..{n - 1})"
        )
    return e


def check_forest(
    edges: npt.NDArray[np.int64], owner: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Each object one tree, edges ``(child, parent)``; return every parent (-1: a root)."""
    n = len(owner)
    cross = np.flatnonzero(owner[edges[:, 0]] != owner[edges[:, 1]])
    if len(cross):
        k = int(cross[0])
        raise ValidationError(
            f"edge {k} joins objects {int(ids[owner[edges[k, 0]]])} and "
            f"{int(ids[owner[edges[k, 1]]])}; a skeleton's edges stay inside one object"
        )
    child, counts = np.unique(edges[:, 0], return_counts=True)
    if (counts > 1).any():
        v = int(child[counts > 1][0])
        raise ValidationError(
            f"vertex {v} of object {int(ids[owner[v]])} has {int(counts[counts > 1][0])} "
            f"parents; a skeleton's edges are (child, parent), one parent each"
        )
    parent = np.full(n, -1, dtype=np.int64)
    parent[edges[:, 0]] = edges[:, 1]
    roots = np.bincount(owner[parent < 0], minlength=len(ids))
    if (roots != 1).any():
        o = int(np.flatnonzero(roots != 1)[0])
        raise ValidationError(
            f"object {int(ids[o])} has {int(roots[o])} roots; kind='skeleton' needs one tree per "
            f"object (give each tree its own object id, or use kind='graph')"
        )
    # Every vertex must reach its root: follow parents by doubling; a cycle never does.
    hop = np.where(parent < 0, np.arange(n), parent)
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2)))) + 1)):
        hop = hop[hop]
    stuck = np.flatnonzero(parent[hop] >= 0)
    if len(stuck):
        raise ValidationError(
            f"object {int(ids[owner[stuck[0]]])} has a cycle through vertex {int(stuck[0])}; a "
            f"skeleton is a tree"
        )
    return parent


def write_graph(
    store: StoreLike,
    positions: Any,
    edges: Any = None,
    *,
    chunk_shape: Sequence[float] | None = None,
    bounds: Box | None = None,
    kind: str = "graph",
    vertex_attributes: Mapping[str, Any] | None = None,
    link_attributes: Mapping[str, Any] | None = None,
    object_attributes: Mapping[str, Any] | None = None,
    object_ids: Any = None,
    dtype: Any = "float32",
    compressor: str | dict[str, Any] | None = None,
    shard_shape: int | Sequence[int] | None = None,
    mode: str = "w-",
    checksum: bool = True,
    consolidate: bool = True,
    axes: Sequence[Any] | None = None,
    lock_timeout: float | None = None,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> WriteSummary:
    """Write a graph (``kind="graph"``) or skeleton set (``kind="skeleton"``) to ``store``.

    ``positions`` ``(N, D)``; ``edges`` ``(M, 2)`` vertex indices (``(child,
    parent)`` for skeletons); ``object_ids`` one per vertex (default: all 0);
    ``vertex_attributes`` N rows, ``link_attributes`` M rows,
    ``object_attributes`` one row per distinct object id, ascending.
    ``mode="a"`` appends whole objects whose ids are new.

    A graph larger than memory comes as an iterator of batches of whole
    objects in place of ``positions`` (``edges`` left out): each a
    ``(positions, edges)`` or ``(positions, edges, object_ids)`` tuple, or a
    dict with those keys and ``vertex_attributes``, ``link_attributes``,
    ``object_attributes``, edges indexing the batch's own vertices. It needs
    ``bounds=`` and is spilled to ``spill_dir`` and joined ``memory_limit``
    bytes at a time, as for polylines.
    """
    if kind not in KINDS:
        raise ValidationError(f"kind must be 'graph' or 'skeleton', got {kind!r}")
    links = "implicit_sequential_with_branches" if kind == "skeleton" else "explicit"
    options = WriteOptions(
        mode, axes, consolidate, lock_timeout, storage_options, backend, backend_kwargs
    )
    common = options.keywords(write_graph, kind, links)
    if edges is None:
        if vertex_attributes or link_attributes or object_attributes or object_ids is not None:
            raise ValidationError(
                "with batches, give the attributes and object_ids in each batch (a dict with "
                "those keys); the keywords are for data in memory"
            )
        return _write_stream(
            store,
            positions,
            kind,
            dtype,
            layout_args=(chunk_shape, bounds, compressor, checksum, shard_shape),
            memory_limit=memory_limit,
            spill_dir=spill_dir,
            common=common,
        )
    level, e = _graph_objects(
        positions,
        edges,
        kind,
        dtype,
        vertex_attributes,
        link_attributes,
        object_attributes,
        object_ids,
    )
    pos, ids, n = level.positions, level.object_ids, len(level.positions)
    layout = check_layout(
        mode, pos.shape[1], chunk_shape, bounds, compressor, checksum, shard_shape
    )
    merge = _merge_skeleton if kind == "skeleton" else _merge
    enc = write_store(store, level, layout=layout, merge=merge, **common)
    return WriteSummary(n, len(e), len(ids), enc.cells, kind, mode)


def _graph_objects(
    positions: Any,
    edges: Any,
    kind: str,
    dtype: Any,
    vertex_attributes: Mapping[str, Any] | None,
    link_attributes: Mapping[str, Any] | None,
    object_attributes: Mapping[str, Any] | None,
    object_ids: Any,
) -> tuple[ObjectLevel, npt.NDArray[np.int64]]:
    """A graph or skeleton set checked and laid out as objects: ``(level, edges)``."""
    pos = check_positions(positions, dtype)
    n = len(pos)
    if n == 0:
        raise ValidationError("positions is empty: give at least one vertex")
    e = _check_edges(edges, n)
    attrs = check_attributes(vertex_attributes, n)
    lattrs = check_object_attributes(link_attributes, len(e), "edge")
    vid = np.zeros(n, np.int64) if object_ids is None else np.asarray(object_ids)
    if vid.shape != (n,) or (vid.size and vid.dtype.kind not in "iu"):
        raise ValidationError(f"object_ids must be {n} integers, one per vertex")
    ids, owner = np.unique(vid.astype(np.int64), return_inverse=True)
    owner = owner.reshape(-1).astype(np.int64)
    oattrs = check_object_attributes(object_attributes, len(ids), "object")
    key = owner
    if kind == "skeleton":
        parent = check_forest(e, owner, ids)
        key = owner * 2 + (parent >= 0)  # root first in its object, then input order
    order = np.argsort(key, kind="stable")
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    level = ObjectLevel(
        positions=pos[order],
        object_row=owner[order],
        object_ids=ids,
        split="cells",
        attributes={k: v[order] for k, v in attrs.items()},
        links=where[e] if len(e) else np.zeros((0, 2), np.int64),
        link_attributes=lattrs,
        object_attributes=oattrs,
        implicit_chain=kind == "skeleton" and not lattrs,
        arrays_present=("vertices", "links", "object_index"),
    )
    return level, e


def _write_stream(
    store: Any,
    items: Any,
    kind: str,
    dtype: Any,
    *,
    layout_args: tuple[Any, ...],
    memory_limit: int | str | None,
    spill_dir: str | None,
    common: dict[str, Any],
) -> WriteSummary:
    """:func:`write_graph` from batches of whole objects (see its docstring)."""
    if not is_stream(items, None) or isinstance(items, np.ndarray):
        raise ValidationError(
            "edges is missing: give edges (M, 2), or pass an iterator of "
            "(positions, edges[, object_ids]) batches as positions"
        )
    chunk_shape, bounds = layout_args[0], layout_args[1]
    ndim = len(bounds[0]) if bounds is not None else len(chunk_shape or ())
    layout = check_layout(common["mode"], ndim, *layout_args)
    seen = [0, 0, 0]  # vertices, edges, objects: what this write adds (an append's too)
    names = (
        "positions",
        "edges",
        "object_ids",
        "vertex_attributes",
        "link_attributes",
        "object_attributes",
    )

    def levels() -> Iterator[ObjectLevel]:
        for item in items:
            if isinstance(item, Mapping):
                if set(item) - set(names) or not {"positions", "edges"} <= set(item):
                    raise ValidationError(
                        f"a batch dict needs 'positions' and 'edges' and may have {list(names[2:])}"
                        f"; got {sorted(item)}"
                    )
                args = [item.get(k) for k in names]
            else:
                args = [*item, None, None, None, None][:6]
            level, e = _graph_objects(
                args[0], args[1], kind, dtype, args[3], args[4], args[5], args[2]
            )
            seen[0] += len(level.positions)
            seen[1] += len(e)
            seen[2] += len(level.object_ids)
            yield level

    enc = write_stream(
        store, levels(), layout=layout, memory_limit=memory_limit, spill_dir=spill_dir, **common
    )
    return WriteSummary(seen[0], seen[1], seen[2], enc.cells, kind, common["mode"])


def _merge(old: ObjectData, snap: Snapshot, new: ObjectLevel) -> ObjectLevel:
    return merge_levels(old, snap, new)


def _merge_skeleton(old: ObjectData, snap: Snapshot, new: ObjectLevel) -> ObjectLevel:
    edges, lattrs = tree_edges(old)
    full = ObjectData(
        old.positions,
        old.object_ids,
        old.offsets,
        old.attributes,
        old.fragment_start,
        edges,
        lattrs,
        old.object_attributes,
    )
    return merge_levels(full, snap, new)


def tree_edges(data: ObjectData) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[Any]]]:
    """A skeleton's ``(child, parent)`` edges: stored links, and the row before each
    vertex of a fragment where no link names its parent."""
    n = len(data.positions)
    parent = np.arange(-1, n - 1, dtype=np.int64)
    parent[data.fragment_start] = -1
    explicit = np.full(n, -1, dtype=np.int64)
    if len(data.links):
        parent[data.links[:, 0]] = data.links[:, 1]
        explicit[data.links[:, 0]] = np.arange(len(data.links))
    child = np.flatnonzero(parent >= 0)
    edges = np.stack([child, parent[child]], axis=1)
    lattrs = {}
    for name, values in data.link_attributes.items():
        from zarr_vectors.format.objarrays import fill_for

        out = np.full((len(child), *values.shape[1:]), fill_for(values.dtype), dtype=values.dtype)
        hit = explicit[child] >= 0
        out[hit] = values[explicit[child][hit]]
        lattrs[name] = out
    return edges, lattrs


def read_graph(
    store: StoreLike,
    *,
    level: int = 0,
    object_ids: Sequence[int] | None = None,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    as_dask: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Graph | Any:
    """Read a graph or skeleton: whole objects with every edge between the vertices read.

    ``object_ids`` fetches only the cells those objects touch; ``bbox`` returns
    every object with a vertex in the closed box, whole (a graph written
    without ``object_ids`` is one object, so it comes back whole).

    ``as_dask=True`` returns a lazy Dask DataFrame of the vertices with their
    ``object_id`` instead (:func:`zarr_vectors.dask.objects.objects_frame`).
    """
    if as_dask:
        return objects_as_dask(
            store,
            read_graph,
            level=level,
            object_ids=object_ids,
            attribute_names=attribute_names,
            storage_options=storage_options,
            backend=backend,
            backend_kwargs=backend_kwargs,
            selected_otherwise=bbox is not None,
        )
    data, snap = read_store(
        store,
        level=level,
        bbox=bbox,
        object_ids=object_ids,
        attribute_names=attribute_names,
        links=True,
        storage_options=storage_options,
        backend=backend,
        backend_kwargs=backend_kwargs,
        caller=read_graph,
    )
    kind = snap.meta.geometry_types[0] if snap.meta.geometry_types else "graph"
    skeleton = snap.meta.extra.get("links_convention") == "implicit_sequential_with_branches"
    edges, lattrs = tree_edges(data) if skeleton else (data.links, data.link_attributes)
    return Graph(
        positions=data.positions,
        edges=edges,
        object_ids=np.repeat(data.object_ids, np.diff(data.offsets)),
        objects=data.object_ids,
        vertex_attributes=data.attributes,
        link_attributes=lattrs,
        object_attributes=data.object_attributes,
        kind=str(kind),
    )

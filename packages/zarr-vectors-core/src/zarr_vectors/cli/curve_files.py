"""Curve files for ``zarr-vectors write`` / ``read``: tractograms, SWC skeletons, GraphML graphs.

Each function is one entry of :data:`zarr_vectors.cli.files_cmd.WRITERS` or
``READERS``: a TRK, TCK or TRX file becomes a streamline store (a TRK or TRX
header kept in the root attributes under ``"trk"`` or ``"trx"``, per-point
and per-streamline values as vertex and object attributes); an SWC file a
skeleton store (``radius`` and ``type`` per node, ``--object-id`` naming the
neuron); a GraphML file a graph store (positions from the nodes' x/y/z).
Without ``--chunk-shape`` the cells are cubes of a quarter of the data's
extent, printed with the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zarr_vectors.cli._chunks import chosen_chunk_shape, in_cells
from zarr_vectors.cli._errors import InputError
from zarr_vectors.storage.secrets import redact_url

__all__ = [
    "read_graphml_file",
    "read_skeleton_file",
    "read_swc_file",
    "read_tract_file",
    "write_graphml_file",
    "write_swc_file",
    "write_tract_file",
]


def _say(notes: list[str]) -> None:
    """What a file format could not hold, on stderr, one note a line."""
    import click

    for note in notes:
        click.echo(f"Note: {note}", err=True)


def _store_groups(
    url: str, kwargs: dict[str, Any], ids: Any, names: list[str] | None
) -> dict[str, list[int]]:
    """The store's groups (name -> positions in ``ids``, the streamlines read), none empty.

    Names are the ones a TRX file left in the store when they match the groups
    in number, else ``group_0``, ``group_1``, ...
    """
    from zarr_vectors.format.objread import group_members
    from zarr_vectors.format.snapshot import load_snapshot
    from zarr_vectors.store.location import StoreLocation

    extra = {k: v for k, v in kwargs.items() if k != "backend"}
    loc = StoreLocation.of(
        url, backend=kwargs.get("backend"), backend_kwargs=extra, caller=read_tract_file
    )
    with loc.open("r") as source:
        snap = load_snapshot(source)
        doc = snap.node("0/groups")
        count = 0 if doc is None else int(doc["shape"][0])
        members = [group_members(snap, 0, [g]).tolist() for g in range(count)]
    if not names or len(names) != count:
        names = [f"group_{g}" for g in range(count)]
    where = {int(o): i for i, o in enumerate(np.asarray(ids).tolist())}
    out = {n: [where[o] for o in m if o in where] for n, m in zip(names, members, strict=True)}
    return {n: m for n, m in out.items() if m}


def write_tract_file(path: Path, url: str, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.types.polylines import write_polylines

    suffix = path.suffix.lower()
    if suffix == ".trk":
        from zarr_vectors.io.trk import read_trk as read
    elif suffix == ".trx":
        from zarr_vectors.io.trx import read_trx as read
    else:
        from zarr_vectors.io.tck import read_tck as read
    tract = read(path)
    _say(tract.notes)
    if not tract.streamlines:
        raise InputError(f"{path}: the file holds no streamlines")
    short = [i for i, s in enumerate(tract.streamlines) if len(s) < 2]
    if short:
        raise InputError(
            f"{path}: streamline {short[0]} has fewer than 2 points ({len(short)} such)"
        )
    allpos = np.concatenate(tract.streamlines)
    chunk = chosen_chunk_shape(opts, allpos)
    first = 0 if opts["object_id"] is None else int(opts["object_id"])
    groups = {g: (first + idx).tolist() for g, idx in enumerate(tract.groups.values())}
    s = write_polylines(
        url,
        tract.streamlines,
        chunk_shape=chunk,
        geometry_type="streamline",
        vertex_attributes=tract.vertex_attributes,
        object_attributes=tract.object_attributes,
        object_ids=range(first, first + len(tract.streamlines)),
        groups=groups or None,
        mode=opts["mode"],
        metadata=tract.header,
        **kwargs,
    )
    return (
        f"Wrote {s.polyline_count:,} streamlines ({s.vertex_count:,} points)"
        f"{in_cells(chunk)} into {s.chunk_count:,} cells"
    )


def read_tract_file(url: str, out: Path, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.types.polylines import read_polylines

    got = read_polylines(url, bbox=opts["bbox"], object_ids=opts["object_ids"], **kwargs)
    if not got.polyline_count:
        raise InputError(f"{redact_url(url)}: no streamlines to write (nothing matched)")
    suffix = out.suffix.lower()
    header = got.metadata.get("trk")
    trx = got.metadata.get("trx") or {}
    groups = _store_groups(url, kwargs, got.object_ids, trx.get("groups"))
    extra: dict[str, Any] = {}
    if suffix == ".trk":
        from zarr_vectors.io.trk import write_trk as write
    elif suffix == ".trx":  # a TRK header's affine and dimensions serve TRX too
        from zarr_vectors.io.trx import write_trx as write

        header, extra = trx or header, {"groups": groups}
    else:
        from zarr_vectors.io.tck import write_tck as write
    notes = write(
        out,
        got.polylines,
        vertex_attributes=got.vertex_attributes,
        object_attributes=got.object_attributes,
        header=header,
        **extra,
    )
    if groups and not extra:
        notes.append(f"{suffix[1:].upper()} holds no groups: {', '.join(groups)} left out")
    _say(notes)
    return f"Read {got.polyline_count:,} streamlines ({got.vertex_count:,} points)"


def write_swc_file(path: Path, url: str, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.io.swc import read_swc
    from zarr_vectors.types.graphs import write_graph

    swc = read_swc(path)
    if not len(swc.positions):  # MorphIO's note (no soma) would only repeat it
        raise InputError(f"{path}: the file holds no nodes")
    _say(swc.notes)
    chunk = chosen_chunk_shape(opts, swc.positions)
    oid = 0 if opts["object_id"] is None else int(opts["object_id"])
    s = write_graph(
        url,
        swc.positions,
        swc.edges,
        kind="skeleton",
        chunk_shape=chunk,
        vertex_attributes={"radius": swc.radius, "type": swc.type},
        object_ids=np.full(len(swc.positions), oid, np.int64),
        mode=opts["mode"],
        **kwargs,
    )
    return (
        f"Wrote a skeleton of {s.node_count:,} nodes (object {oid})"
        f"{in_cells(chunk)} into {s.chunk_count:,} cells"
    )


def read_swc_file(url: str, out: Path, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.io.swc import write_swc
    from zarr_vectors.types.graphs import read_graph

    got = read_graph(url, bbox=opts["bbox"], object_ids=opts["object_ids"], **kwargs)
    if len(got.objects) != 1:
        raise InputError(
            f"{redact_url(url)}: {len(got.objects)} skeletons match; an SWC file holds one, "
            "choose it with --object-id"
        )
    attrs = got.vertex_attributes
    notes = write_swc(
        out, got.positions, got.edges, radius=attrs.get("radius"), types=attrs.get("type")
    )
    for name in sorted(set(attrs) - {"radius", "type"}):
        notes.append(f"SWC holds radius and type per node: {name!r} left out")
    _say(notes)
    return f"Read a skeleton of {got.node_count:,} nodes (object {int(got.objects[0])})"


def write_graphml_file(path: Path, url: str, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.io.graphml import read_graphml
    from zarr_vectors.types.graphs import write_graph

    g = read_graphml(path)
    if g.directed:
        g.notes.append(
            "the store's edges are undirected (as 0.9.2 writes them): each edge keeps its "
            "(source, target) order, and reading the store out gives an undirected graph"
        )
    _say(g.notes)
    chunk = chosen_chunk_shape(opts, g.positions)
    oids = g.object_ids
    if opts["object_id"] is not None:  # --object-id names the whole file's graph
        oids = np.full(len(g.positions), int(opts["object_id"]), np.int64)
    s = write_graph(
        url,
        g.positions,
        g.edges,
        kind="graph",
        chunk_shape=chunk,
        vertex_attributes=g.vertex_attributes,
        link_attributes=g.link_attributes,
        object_ids=oids,
        mode=opts["mode"],
        **kwargs,
    )
    return (
        f"Wrote a graph of {s.node_count:,} nodes and {s.edge_count:,} edges"
        f"{in_cells(chunk)} into {s.chunk_count:,} cells"
    )


def read_graphml_file(url: str, out: Path, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    from zarr_vectors.io.graphml import write_graphml
    from zarr_vectors.types.graphs import read_graph

    got = read_graph(url, bbox=opts["bbox"], object_ids=opts["object_ids"], **kwargs)
    if not got.node_count:
        raise InputError(f"{redact_url(url)}: no nodes to write (nothing matched)")
    notes = write_graphml(
        out,
        got.positions,
        got.edges,
        object_ids=got.object_ids,
        vertex_attributes=got.vertex_attributes,
        link_attributes=got.link_attributes,
        directed=got.kind == "skeleton",  # child to parent; a graph's links are undirected
    )
    for name in got.object_attributes:
        notes.append(f"GraphML has no per-object values: {name!r} left out")
    _say(notes)
    return f"Read a {got.kind} of {got.node_count:,} nodes and {got.edge_count:,} edges"


def read_skeleton_file(url: str, out: Path, opts: dict[str, Any], kwargs: dict[str, Any]) -> str:
    """A skeleton store to SWC (one tree) or GraphML (any number), by the output's suffix."""
    if out.suffix.lower() == ".graphml":
        return read_graphml_file(url, out, opts, kwargs)
    return read_swc_file(url, out, opts, kwargs)

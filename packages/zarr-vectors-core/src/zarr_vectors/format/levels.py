"""Reading and encoding the cells of one resolution level.

A level ``L`` holds ``L/vertices``, ``L/vertex_fragments`` and optionally
``L/vertex_attributes/NAME`` cell arrays that share one chunk grid. This
module turns grouped points into ``(key, bytes)`` items plus the array
documents that list them, and fetches + decodes the cells a read needs in one
concurrent batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.core.backends.base import StorageBackend
from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.fragments import decode_fragment_rows, encode_single_range
from zarr_vectors.format.grid import CellGroups, cells_in_box, parse_world_key, world_key
from zarr_vectors.format.metadata import cell_array_json
from zarr_vectors.format.snapshot import Snapshot

__all__ = [
    "ATTRIBUTES",
    "FRAGMENTS",
    "VERTICES",
    "EncodedLevel",
    "LevelData",
    "encode_level",
    "read_level",
]

VERTICES = "vertices"
FRAGMENTS = "vertex_fragments"
ATTRIBUTES = "vertex_attributes"


def le_dtype(name: str) -> np.dtype[Any]:
    """Little-endian numpy dtype for a stored dtype name."""
    dt = np.dtype(name)
    return dt.newbyteorder("<") if dt.byteorder == ">" else dt


def cell_key(array_path: str, world: Sequence[int], origin: Sequence[int]) -> str:
    """Storage key of the chunk of ``array_path`` holding world cell ``world``."""
    return f"{array_path}/c/" + "/".join(
        str(int(w) - int(o)) for w, o in zip(world, origin, strict=True)
    )


@dataclass
class LevelData:
    """Points (and attributes) of a level as read, in cell order."""

    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    cells_read: int = 0


@dataclass
class EncodedLevel:
    """Everything a write puts for one level: chunk items, then node documents."""

    chunks: list[tuple[str, bytes]]
    docs: dict[str, dict[str, Any]]
    nonempty: list[str]


def encode_level(
    level: str,
    positions: npt.NDArray[Any],
    groups: CellGroups,
    attributes: Mapping[str, npt.NDArray[Any]],
    *,
    origin: Sequence[int],
    grid_shape: Sequence[int],
    codecs: Sequence[Mapping[str, Any]],
    nonempty_extra: Sequence[str] = (),
) -> EncodedLevel:
    """Chunk items and array documents for ``positions`` grouped as ``groups``.

    ``positions`` and ``attributes`` are already in their stored dtypes and in
    input order; the grouping's ``order`` sorts them by cell. ``nonempty_extra``
    lists world cells that hold data from before (appends) and stay listed.
    """
    codec = CellCodec(tuple(dict(c) for c in codecs))
    chunks: list[tuple[str, bytes]] = []
    # np.take gathers whole rows ~3x faster than fancy indexing on (n, D) arrays.
    sorted_pos = np.take(positions, groups.order, axis=0)
    columns = {n: np.take(a, groups.order, axis=0) for n, a in attributes.items()}
    pos_buf = sorted_pos.reshape(-1).data.cast("B")
    row_bytes = sorted_pos.shape[1] * sorted_pos.dtype.itemsize
    col_bufs = {
        n: (
            np.ascontiguousarray(c).reshape(-1).data.cast("B"),
            c.dtype.itemsize * int(np.prod(c.shape[1:], dtype=np.int64)),
        )
        for n, c in columns.items()
    }
    starts = groups.starts.tolist()
    nonempty = set(nonempty_extra)
    vpath, fpath = f"{level}/{VERTICES}", f"{level}/{FRAGMENTS}"
    apaths = {n: f"{level}/{ATTRIBUTES}/{n}" for n in col_bufs}
    for i, world in enumerate(groups.world.tolist()):
        s, e = starts[i], starts[i + 1]
        nonempty.add(world_key(world))
        grid = "/".join(str(w - o) for w, o in zip(world, origin, strict=True))
        chunks.append((f"{vpath}/c/{grid}", codec.encode(pos_buf[s * row_bytes : e * row_bytes])))
        chunks.append((f"{fpath}/c/{grid}", codec.encode(encode_single_range(e - s))))
        for name, (buf, rb) in col_bufs.items():
            chunks.append((f"{apaths[name]}/c/{grid}", codec.encode(buf[s * rb : e * rb])))
    listed = sorted(nonempty)
    docs = level_array_docs(
        level,
        dtype=str(positions.dtype),
        attributes={n: (str(a.dtype), list(a.shape[1:])) for n, a in attributes.items()},
        origin=origin,
        grid_shape=grid_shape,
        codecs=codecs,
        nonempty=listed,
    )
    return EncodedLevel(chunks=chunks, docs=docs, nonempty=listed)


def level_array_docs(
    level: str,
    *,
    dtype: str,
    attributes: Mapping[str, tuple[str, list[int]]],
    origin: Sequence[int],
    grid_shape: Sequence[int],
    codecs: Sequence[Mapping[str, Any]],
    nonempty: list[str],
) -> dict[str, dict[str, Any]]:
    """Node documents of a level's cell arrays (not the level group itself)."""
    extra: dict[str, Any] = {}
    if any(int(o) != 0 for o in origin):
        extra["chunk_grid_origin"] = [int(o) for o in origin]
    docs = {
        f"{level}/{VERTICES}": cell_array_json(
            grid_shape,
            codecs,
            {
                "nonempty_chunks": nonempty,
                **extra,
                "zv_array": "vertices",
                "dtype": dtype,
                "encoding": "raw",
            },
        ),
        f"{level}/{FRAGMENTS}": cell_array_json(
            grid_shape,
            codecs,
            {
                "nonempty_chunks": nonempty,
                **extra,
                "zv_array": "vertex_fragments",
                "encoding": "fragment_index_v1",
            },
        ),
    }
    if attributes:
        from zarr_vectors.format.metadata import group_json

        docs[f"{level}/{ATTRIBUTES}"] = group_json()
    for name, (adtype, row_shape) in attributes.items():
        docs[f"{level}/{ATTRIBUTES}/{name}"] = cell_array_json(
            grid_shape,
            codecs,
            {
                "nonempty_chunks": nonempty,
                **extra,
                "zv_array": "attribute",
                "name": name,
                "dtype": adtype,
                "row_shape": list(row_shape),
            },
        )
    return docs


def attribute_names(snap: Snapshot, level: int) -> list[str]:
    """Names of the per-vertex attributes stored at ``level``."""
    lm = snap.level_meta(level)
    group = f"{level}/{ATTRIBUTES}"
    if ATTRIBUTES not in lm.arrays_present and snap.node(group) is None:
        return []
    return snap.children(group)


def read_level(
    snap: Snapshot,
    level: int,
    *,
    bbox: tuple[Sequence[float], Sequence[float]] | None = None,
    attribute_names_: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LevelData:
    """Fetch and decode the cells of ``level`` (those meeting ``bbox``), honouring the journal."""
    cells, dtype, layout = fetch_cells(
        snap, level, bbox=bbox, attribute_names_=attribute_names_, progress=progress
    )
    ndim = snap.meta.ndim
    positions = (
        np.concatenate([c.positions for c in cells]) if cells else np.empty((0, ndim), dtype)
    )
    attrs = {
        n: (
            np.concatenate([c.attributes[n] for c in cells])
            if cells
            else np.empty((0, *layout[n][1]), layout[n][0])
        )
        for n in layout
    }
    if bbox is not None and len(positions):
        lo = np.asarray(bbox[0], np.float64)
        hi = np.asarray(bbox[1], np.float64)
        # One in-place pass per bound and axis, compared in float64 as before: about
        # 10x faster than np.all(..., axis=1) over an (n, D) boolean temporary.
        mask = np.ones(len(positions), dtype=bool)
        for axis in range(positions.shape[1]):
            column = positions[:, axis]
            mask &= column >= lo[axis]
            mask &= column <= hi[axis]
        if not mask.all():
            positions = positions[mask]
            attrs = {n: a[mask] for n, a in attrs.items()}
    return LevelData(positions, attrs, cells_read=len(cells))


@dataclass
class Cell:
    """The rows of one cell: world key, positions and attribute columns."""

    key: str
    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]]


def _fetch(
    backend: StorageBackend,
    keys: list[str],
    cells: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, bytes]:
    """``backend.get_many(keys)``; with ``progress``, in about 50 batches reporting cells done.

    Each batch is still one concurrent ``get_many``; batches are only made when
    someone is watching, so a plain read keeps every request in one batch.
    """
    if progress is None or cells == 0:
        return backend.get_many(keys)
    per_cell = len(keys) // cells
    step = max(64, cells // 50) * per_cell
    got: dict[str, bytes] = {}
    progress(0, cells)
    for i in range(0, len(keys), step):
        got.update(backend.get_many(keys[i : i + step]))
        progress(min(i + step, len(keys)) // per_cell, cells)
    return got


def fetch_cells(
    snap: Snapshot,
    level: int,
    *,
    bbox: tuple[Sequence[float], Sequence[float]] | None = None,
    only: set[str] | None = None,
    attribute_names_: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Cell], np.dtype[Any], dict[str, tuple[np.dtype[Any], tuple[int, ...]]]]:
    """Cells of ``level`` meeting ``bbox`` (or whose world keys are in ``only``), decoded.

    Returns the cells, the vertex dtype and each attribute's (dtype, row shape).
    Cells touched by an unfinished append are cut back to their old rows.
    """
    snap.check_complete()
    lm = snap.level_meta(level)
    ndim = snap.meta.ndim
    names = list(attribute_names(snap, level) if attribute_names_ is None else attribute_names_)
    paths = [
        f"{level}/{VERTICES}",
        f"{level}/{FRAGMENTS}",
        *(f"{level}/{ATTRIBUTES}/{n}" for n in names),
    ]
    docs = snap.nodes(paths)
    vdoc = docs[paths[0]]
    if vdoc is None:
        if lm.vertex_count == 0:
            return [], np.dtype(np.float32), {n: (np.dtype(np.float32), ()) for n in names}
        raise StoreError(f"level {level} has {lm.vertex_count} vertices but no vertices array")
    missing = [n for n, p in zip(names, paths[2:], strict=True) if docs[p] is None]
    if missing:
        have = attribute_names(snap, level)
        raise ValidationError(
            f"attribute(s) {missing} do not exist at level {level}; stored attributes: {have}"
        )
    vattrs = vdoc.get("attributes", {})
    dtype = le_dtype(vattrs.get("dtype", "float32"))
    origin = [int(o) for o in vattrs.get("chunk_grid_origin", [0] * ndim)]
    cs = snap.meta.chunk_shape
    listed = vattrs.get("nonempty_chunks")
    if listed is None:
        keys = list(snap.backend.list_prefix(f"{level}/{VERTICES}/c/", recursive=True))
        pre = len(f"{level}/{VERTICES}/c/")
        world = np.array(
            [[int(p) + o for p, o in zip(k[pre:].split("/"), origin, strict=True)] for k in keys],
            dtype=np.int64,
        ).reshape(-1, ndim)
    else:
        world = np.array([parse_world_key(k) for k in listed], dtype=np.int64).reshape(-1, ndim)
    if bbox is not None and len(world):
        world = world[cells_in_box(world, cs, bbox)]
    if only is not None:
        world = np.array(
            [w for w in world.tolist() if world_key(w) in only], dtype=np.int64
        ).reshape(-1, ndim)

    pending = snap.pending
    limits = pending.row_limits(level) if pending is not None else {}

    fdoc = docs[paths[1]]
    need_rows = fdoc is not None and not lm.fragments_tile
    world_list = [tuple(w) for w in world.tolist()]
    if limits:
        world_list = [w for w in world_list if limits.get(world_key(w), -1) != 0]
    codecs = {p: CellCodec(tuple(docs[p]["codecs"])) for p in paths if docs[p] is not None}  # type: ignore[index]
    wanted: list[str] = []
    for w in world_list:
        wanted.append(cell_key(paths[0], w, origin))
        if need_rows:
            wanted.append(cell_key(paths[1], w, origin))
        wanted.extend(cell_key(p, w, origin) for p in paths[2:])
    got = _fetch(snap.backend, wanted, len(world_list), progress)

    out: list[Cell] = []
    attr_docs = {
        n: d for n, p in zip(names, paths[2:], strict=True) if (d := docs[p]) is not None
    }  # every one is there: missing attributes were refused above
    attr_layout = {
        n: (le_dtype(d["attributes"]["dtype"]), tuple(d["attributes"].get("row_shape") or ()))
        for n, d in attr_docs.items()
    }
    for w in world_list:
        vkey = cell_key(paths[0], w, origin)
        raw = got.get(vkey)
        if raw is None:
            continue
        pts = np.frombuffer(codecs[paths[0]].decode(raw, vkey), dtype=dtype).reshape(-1, ndim)
        rows: npt.NDArray[np.int64] | int = len(pts)
        if need_rows:
            fkey = cell_key(paths[1], w, origin)
            fraw = got.get(fkey)
            if fraw is not None:
                rows = decode_fragment_rows(codecs[paths[1]].decode(fraw, fkey), fkey)
        limit = limits.get(world_key(w))
        if limit is not None:
            rows = min(rows, limit) if isinstance(rows, int) else rows[rows < limit]
        cell = Cell(world_key(w), pts[:rows] if isinstance(rows, int) else pts[rows], {})
        out.append(cell)
        for n, p in zip(names, paths[2:], strict=True):
            akey = cell_key(p, w, origin)
            araw = got.get(akey)
            adt, rshape = attr_layout[n]
            if araw is None:
                raise StoreError(f"{akey}: attribute cell missing while its vertices cell exists")
            col = np.frombuffer(codecs[p].decode(araw, akey), dtype=adt).reshape(-1, *rshape)
            cell.attributes[n] = col[:rows] if isinstance(rows, int) else col[rows]

    return out, dtype, attr_layout

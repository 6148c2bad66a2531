"""Objects that cross cells: fragments, the object manifest, and their cell arrays.

Every geometry type beyond point clouds stores *objects* (a line, a
streamline, a skeleton's tree, a mesh) whose vertices fall in several cells.
As the published 0.9.2 stores them (facts from its stores and source):

* each cell's ``vertices`` hold the object pieces (*fragments*) that fall in
  it, one after the other; its ``vertex_fragments`` cell (a ``GFVZ`` fragment
  index) names each fragment's rows, here always one contiguous range;
* ``object_index/object_ids`` (int64, one row per object, ids ascending) and
  ``object_index/manifests`` (variable-length bytes, one per row): an object's
  fragments in order as blocks of int64 world cell coordinates, a mode byte
  (0 = one fragment index, 1 = a range ``(start, count)``, 2 = explicit
  indices) and the fragment reference;
* ``object_attributes/NAME``: one value per object row;
* ``groups``: one element per group id, the int64 object ids of its members;
* links between vertices (:mod:`.links`) name ``(cell, row in cell)``.

:func:`encode_objects` turns validated objects into these cells and
documents; :mod:`.objread` reads them back. Which runs of vertices become a
fragment is the caller's choice (``split``): ``"runs"`` starts a new fragment
wherever a sequence leaves a cell (polylines), ``"cells"`` keeps one fragment
per object and cell (graphs, meshes).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.format.fragments import MAGIC, VERSION
from zarr_vectors.format.grid import group_by_cell, world_key
from zarr_vectors.format.levels import level_array_docs, shard_docs
from zarr_vectors.format.links import (
    encode_cross_cell,
    format_offsets,
    link_array_attributes,
    place_links,
)
from zarr_vectors.format.metadata import LevelMetadata, RootMetadata, cell_array_json, group_json
from zarr_vectors.format.objarrays import plain_array, vlen_array

__all__ = [
    "EncodedObjects",
    "ObjectLevel",
    "decode_fragment_table",
    "decode_manifests",
    "encode_fragment_ranges",
    "encode_object_index",
    "encode_objects",
]

#: Rows per chunk of ``object_index/manifests`` (0.9.2's bucket) and of object attributes.
MANIFEST_ROWS = 16384
#: Rows per chunk of ``object_index/object_ids``.
OBJECT_ID_ROWS = 1 << 20
OBJECT_ATTRIBUTE_ROWS = 65536
_HEADER = struct.Struct("<4sHHII")


@dataclass
class ObjectLevel:
    """Objects of one level, validated and in the stored dtypes.

    Vertices come object by object (``object_row`` non-decreasing, rows of
    ``object_ids`` ascending), each object's vertices in its own order.
    ``links`` are ``(M, L)`` indices into ``positions``.
    """

    positions: npt.NDArray[Any]
    object_row: npt.NDArray[np.int64]
    object_ids: npt.NDArray[np.int64]
    split: Literal["runs", "cells"]
    attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    links: npt.NDArray[np.int64] | None = None
    link_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    groups: list[npt.NDArray[np.int64]] | None = None
    group_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    #: ``True`` for skeletons: a link whose child row directly follows its parent's
    #: row in the same fragment is implied and not stored.
    implicit_chain: bool = False
    #: ``True`` for polylines and lines: only links between different cells are stored
    #: (within a fragment, consecutive vertices are joined by the convention).
    cross_only: bool = False
    arrays_present: tuple[str, ...] = ("vertices", "object_index")


@dataclass
class EncodedObjects:
    """What a write puts for a level: cell chunks (by ``array/c/i/j/k``), other objects, docs."""

    chunks: list[tuple[str, bytes]]
    docs: dict[str, dict[str, Any]]
    cell_arrays: list[str]
    vertex_count: int
    cells: int
    #: Each object's manifest (by object row), for a write that grows a level in parts.
    manifests: list[bytes] = field(default_factory=list)
    #: The cells written (world coordinates) with the rows and fragments each gained.
    world: npt.NDArray[np.int64] | None = None
    cell_rows: npt.NDArray[np.int64] | None = None
    cell_frags: npt.NDArray[np.int64] | None = None
    #: Cell chunks made while the write runs, in batches (a streamed write's joined
    #: cells), put after ``chunks``; ``None``: every chunk is in ``chunks``.
    chunk_batches: Callable[[], Iterator[list[tuple[str, bytes]]]] | None = None
    #: The old documents when only what changed is written over them (an append).
    overlay_of: Mapping[str, Mapping[str, Any]] | None = None


#: ``bases(world cells (K, D)) -> (rows, fragments)`` a cell already holds (see encode_objects).
Bases = Callable[[npt.NDArray[np.int64]], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]


def encode_fragment_ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> bytes:
    """A fragment index naming ``len(starts)`` contiguous ranges of a cell's rows."""
    f = len(starts)
    if f == 0:
        return _HEADER.pack(MAGIC, VERSION, 0, 0, 0)
    bitmap = np.zeros((((f + 7) // 8) + 7) // 8 * 8, dtype=np.uint8)
    full, rem = divmod(f, 8)
    bitmap[:full] = 0xFF
    if rem:
        bitmap[full] = (1 << rem) - 1
    table = np.stack([starts, counts], axis=1).astype("<i8")
    return b"".join(
        (_HEADER.pack(MAGIC, VERSION, 0, f, f), bitmap.tobytes(), table.tobytes(), b"\0" * 4)
    )


def decode_fragment_table(
    blob: bytes, where: str
) -> list[npt.NDArray[np.int64]] | npt.NDArray[np.int64]:
    """A cell's fragments: an ``(F, 2)`` table of ``(start, count)`` when all are ranges,
    else a list of row-index arrays, one per fragment."""
    if len(blob) < _HEADER.size:
        raise CorruptStoreError(f"{where}: fragment index of {len(blob)} bytes has no header")
    magic, version, flags, nf, nr = _HEADER.unpack_from(blob, 0)
    if magic != MAGIC or version != VERSION or flags != 0 or nr > nf:
        raise CorruptStoreError(f"{where}: not a version-1 fragment index")
    if nf == 0:
        return np.empty((0, 2), np.int64)
    at = _HEADER.size
    bits = np.unpackbits(np.frombuffer(blob, np.uint8, (nf + 7) // 8, at), bitorder="little")[:nf]
    at += (((nf + 7) // 8) + 7) // 8 * 8
    ne = nf - nr
    if len(blob) < at + 16 * nr + 4 * (ne + 1) or int(bits.sum()) != nr:
        raise CorruptStoreError(f"{where}: fragment index is truncated or inconsistent")
    ranges = np.frombuffer(blob, "<i8", 2 * nr, at).reshape(nr, 2).astype(np.int64)
    if ne == 0:
        return ranges
    at += 16 * nr
    offs = np.frombuffer(blob, "<u4", ne + 1, at).astype(np.int64)
    at += 4 * (ne + 1)
    if len(blob) < at + 8 * int(offs[-1]):
        raise CorruptStoreError(f"{where}: fragment index is truncated")
    idx = np.frombuffer(blob, "<i8", int(offs[-1]), at).astype(np.int64)
    out: list[npt.NDArray[np.int64]] = []
    r = e = 0
    for is_range in bits.tolist():
        if is_range:
            s, c = ranges[r]
            out.append(np.arange(s, s + c, dtype=np.int64))
            r += 1
        else:
            out.append(idx[offs[e] : offs[e + 1]])
            e += 1
    return out


# -- manifests ------------------------------------------------------------------------
def _encode_manifests(
    cells: npt.NDArray[np.int64], frags: npt.NDArray[np.int64], per_object: npt.NDArray[np.int64]
) -> list[bytes]:
    """Mode-0 manifests: object ``k`` owns the next ``per_object[k]`` (cell, fragment) pairs."""
    ndim = cells.shape[1]
    size = 8 * ndim + 9
    blocks = np.zeros((len(frags), size), dtype=np.uint8)
    blocks[:, : 8 * ndim] = cells.astype("<i8").view(np.uint8).reshape(-1, 8 * ndim)
    blocks[:, 8 * ndim + 1 :] = frags.astype("<i8").view(np.uint8).reshape(-1, 8)
    flat = blocks.tobytes()
    out, at = [], 0
    for n in per_object.tolist():
        out.append(struct.pack("<I", n) + flat[at * size : (at + n) * size])
        at += n
    return out


def decode_manifests(
    blobs: Sequence[bytes], ndim: int, where: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[Any]]:
    """Manifests as ``(per-object block count, block cells (B, D), fragment refs)``.

    Fragment refs are one int per block when every block is mode 0 (the fast,
    usual case: an int64 array), else a list of int64 index arrays.
    """
    size = 8 * ndim + 9
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    if len(blobs) and lengths.min() >= 4 and not ((lengths - 4) % size).any():
        joined = b"".join(blobs)
        counts = (lengths - 4) // size
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        heads = np.frombuffer(joined, np.uint8).reshape(-1)
        head_vals = np.zeros(len(blobs), dtype=np.int64)
        for k in range(4):
            head_vals |= heads[starts + k].astype(np.int64) << (8 * k)
        if np.array_equal(head_vals, counts):
            keep = np.ones(len(joined), dtype=bool)
            for k in range(4):
                keep[starts + k] = False
            body = heads[keep].reshape(-1, size)
            if not body[:, 8 * ndim].any():
                cells = body[:, : 8 * ndim].copy().view("<i8").reshape(-1, ndim).astype(np.int64)
                frags = body[:, 8 * ndim + 1 :].copy().view("<i8").reshape(-1).astype(np.int64)
                return counts, cells, [frags]
    return _decode_manifests_slow(blobs, ndim, where)


def _decode_manifests_slow(
    blobs: Sequence[bytes], ndim: int, where: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[Any]]:
    counts, cells, refs = [], [], []
    for blob in blobs:
        if len(blob) < 4:
            raise CorruptStoreError(f"{where}: an object manifest of {len(blob)} bytes")
        (b,) = struct.unpack_from("<I", blob, 0)
        at = 4
        for _ in range(b):
            if len(blob) < at + 8 * ndim + 1:
                raise CorruptStoreError(f"{where}: an object manifest is truncated")
            cells.append(np.frombuffer(blob, "<i8", ndim, at).astype(np.int64))
            at += 8 * ndim
            mode = blob[at]
            at += 1
            if mode == 0 and len(blob) >= at + 8:
                refs.append(np.array([struct.unpack_from("<q", blob, at)[0]], np.int64))
                at += 8
            elif mode == 1 and len(blob) >= at + 16:
                s, c = struct.unpack_from("<qq", blob, at)
                refs.append(np.arange(s, s + c, dtype=np.int64))
                at += 16
            elif mode == 2 and len(blob) >= at + 4:
                (c,) = struct.unpack_from("<I", blob, at)
                at += 4
                if len(blob) < at + 8 * c:
                    raise CorruptStoreError(f"{where}: an object manifest is truncated")
                refs.append(np.frombuffer(blob, "<i8", c, at).astype(np.int64))
                at += 8 * c
            else:
                raise CorruptStoreError(f"{where}: an object manifest has block mode {mode}")
        if at != len(blob):
            raise CorruptStoreError(f"{where}: an object manifest has trailing bytes")
        counts.append(b)
    cell_arr = np.array(cells, dtype=np.int64).reshape(-1, ndim)
    return np.array(counts, dtype=np.int64), cell_arr, [None, refs]


# -- encoding a level ---------------------------------------------------------------------
def encode_objects(
    obj: ObjectLevel,
    meta: RootMetadata,
    *,
    codecs: Sequence[Mapping[str, Any]],
    index_codecs: Sequence[Mapping[str, Any]],
    shard_shape: Sequence[int] | None,
    level: str = "0",
    bases: Bases | None = None,
    raw: bool = False,
) -> EncodedObjects:
    """Every chunk and document of one level holding ``obj``.

    ``bases`` says how many rows and fragments each cell already holds when
    ``obj`` is added to cells that are there (an append, or a streamed write's
    later batch): its rows, fragments and links are numbered after them, and
    its chunks hold only what it adds (:mod:`.objgrow` joins the two). ``raw``
    leaves the cell chunks as their payloads, not yet through the codecs.
    """
    codec = CellCodec(tuple(dict(c) for c in codecs))
    origin = np.asarray(meta.grid_origin(), dtype=np.int64)
    pos = obj.positions
    n, ndim = pos.shape
    groups = group_by_cell(pos, meta.chunk_shape)
    order = np.asarray(groups.order, dtype=np.int64)
    counts = groups.counts
    world = groups.world
    cell_sorted = np.repeat(np.arange(len(world), dtype=np.int64), counts)
    sobj = obj.object_row[order]
    new = np.ones(n, dtype=bool)
    if n:
        new[1:] = (cell_sorted[1:] != cell_sorted[:-1]) | (sobj[1:] != sobj[:-1])
        if obj.split == "runs":
            new[1:] |= order[1:] != order[:-1] + 1
    frag_first = np.flatnonzero(new)  # sorted position of each fragment's first row
    frag_count = np.diff(np.append(frag_first, n))
    frag_cell = cell_sorted[frag_first]
    cell_first_frag = np.searchsorted(frag_cell, np.arange(len(world)))
    frag_in_cell = np.arange(len(frag_first)) - cell_first_frag[frag_cell]
    frag_local = frag_first - groups.starts[:-1][frag_cell]
    local = np.empty(n, dtype=np.int64)
    local[order] = np.arange(n, dtype=np.int64) - groups.starts[:-1][cell_sorted]
    cell_of = np.empty(n, dtype=np.int64)
    cell_of[order] = cell_sorted
    if bases is not None:  # numbered after what the cells hold already
        base_rows, base_frags = bases(world)
        frag_in_cell += base_frags[frag_cell]
        frag_local += base_rows[frag_cell]
        local += base_rows[cell_of]

    # Manifests: each object's fragments in the order its vertices come.
    frag_obj = sobj[frag_first]
    walk = np.lexsort((order[frag_first], frag_obj))
    per_object = np.bincount(frag_obj, minlength=len(obj.object_ids)).astype(np.int64)
    manifests = _encode_manifests(world[frag_cell[walk]], frag_in_cell[walk], per_object)

    vpath, fpath = f"{level}/vertices", f"{level}/vertex_fragments"
    chunks: list[tuple[str, bytes]] = []
    sorted_pos = np.ascontiguousarray(pos[order])
    columns = {k: np.ascontiguousarray(v[order]) for k, v in obj.attributes.items()}
    grids = ["/".join(map(str, g)) for g in (world - origin).tolist()]
    fstart = np.append(cell_first_frag, len(frag_first))
    bounds = groups.starts.tolist()
    put = bytes if raw else codec.encode
    for i, grid in enumerate(grids):
        s, e = bounds[i], bounds[i + 1]
        chunks.append((f"{vpath}/c/{grid}", put(sorted_pos[s:e].tobytes())))
        a, b = fstart[i], fstart[i + 1]
        blob = encode_fragment_ranges(frag_local[a:b], frag_count[a:b])
        chunks.append((f"{fpath}/c/{grid}", put(blob)))
        for name, col in columns.items():
            chunks.append((f"{level}/vertex_attributes/{name}/c/{grid}", put(col[s:e].tobytes())))
    nonempty = sorted(world_key(w) for w in world.tolist())
    docs = level_array_docs(
        level,
        dtype=str(pos.dtype),
        attributes={k: (str(v.dtype), list(v.shape[1:])) for k, v in obj.attributes.items()},
        origin=meta.grid_origin(),
        grid_shape=meta.grid_shape(),
        codecs=codecs,
        nonempty=nonempty,
    )
    extra = {"chunk_grid_origin": origin.tolist()} if origin.any() else {}
    cell_docs = dict(docs)

    def cell_doc(attrs: Mapping[str, Any], cells_listed: list[str]) -> dict[str, Any]:
        return cell_array_json(
            meta.grid_shape(), codecs, {"nonempty_chunks": cells_listed, **extra, **attrs}
        )

    if obj.links is not None:
        _encode_links(
            obj,
            level,
            world,
            cell_of,
            local,
            order,
            new,
            put,
            grids_of=lambda w: "/".join(map(str, (np.asarray(w) - origin).tolist())),
            chunks=chunks,
            cell_docs=cell_docs,
            docs=docs,
            cell_doc=cell_doc,
        )

    index_docs, index_chunks = encode_object_index(
        level,
        obj.object_ids,
        manifests,
        num_present=int((per_object > 0).sum()),
        ndim=ndim,
        object_attributes=obj.object_attributes,
        groups=obj.groups,
        group_attributes=obj.group_attributes,
        index_codecs=index_codecs,
    )
    docs.update(index_docs)
    chunks += index_chunks
    present = tuple(obj.arrays_present) + (
        ("vertex_attributes",)
        if obj.attributes and "vertex_attributes" not in obj.arrays_present
        else ()
    )
    docs[level] = group_json(
        LevelMetadata(level=int(level), vertex_count=n, arrays_present=present).to_attributes()
    )
    cell_paths = [p for p, d in cell_docs.items() if d.get("node_type") == "array"]
    docs.update(shard_docs({p: cell_docs[p] for p in cell_paths}, shard_shape))
    frags_per_cell = np.diff(np.append(cell_first_frag, len(frag_first)))
    return EncodedObjects(
        chunks, docs, cell_paths, n, len(world), manifests, world, counts, frags_per_cell
    )


def encode_object_index(
    level: str,
    object_ids: npt.NDArray[np.int64],
    manifests: Sequence[bytes],
    *,
    num_present: int,
    ndim: int,
    object_attributes: Mapping[str, npt.NDArray[Any]],
    groups: Sequence[npt.NDArray[np.int64]] | None = None,
    group_attributes: Mapping[str, npt.NDArray[Any]] | None = None,
    index_codecs: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, bytes]]]:
    """The object index, object attributes and groups: plain arrays over object rows."""
    docs: dict[str, dict[str, Any]] = {}
    chunks: list[tuple[str, bytes]] = []
    tail = list(index_codecs)
    oi = f"{level}/object_index"
    docs[oi] = group_json(
        {
            "zv_array": "object_index",
            "num_objects": len(object_ids),
            "num_present": num_present,
            "sid_ndim": ndim,
            "layout": "vlen_manifests_v2",
            "object_ids_sorted": True,
        }
    )
    d, c = plain_array(
        f"{oi}/object_ids", object_ids, chunk_rows=OBJECT_ID_ROWS, tail_codecs=tail, fill=0
    )
    docs[f"{oi}/object_ids"] = d
    chunks += c
    zstd = [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}, *tail]
    d, c = vlen_array(f"{oi}/manifests", manifests, chunk_rows=MANIFEST_ROWS, tail_codecs=zstd)
    docs[f"{oi}/manifests"] = d
    chunks += c
    if object_attributes:
        docs[f"{level}/object_attributes"] = group_json()
    for name, values in object_attributes.items():
        path = f"{level}/object_attributes/{name}"
        attrs = {
            "zv_array": "object_attribute",
            "name": name,
            "dtype": str(values.dtype),
            "shape": list(values.shape),
            "fill_sentinel_meaning": "absent",
        }
        d, c = plain_array(
            path, values, chunk_rows=OBJECT_ATTRIBUTE_ROWS, tail_codecs=tail, attributes=attrs
        )
        docs[path] = d
        chunks += c
    if groups is not None:
        blobs = [np.asarray(g, "<i8").tobytes() for g in groups]
        d, c = vlen_array(
            f"{level}/groups",
            blobs,
            chunk_rows=MANIFEST_ROWS,
            tail_codecs=zstd,
            attributes={"zv_array": "groups", "num_groups": len(blobs)},
        )
        docs[f"{level}/groups"] = d
        chunks += c
        if group_attributes:
            docs[f"{level}/group_attributes"] = group_json()
        for name, values in (group_attributes or {}).items():
            path = f"{level}/group_attributes/{name}"
            attrs = {
                "zv_array": "groupings_attribute",
                "name": name,
                "dtype": str(values.dtype),
                "shape": list(values.shape),
            }
            d, c = plain_array(
                path, values, chunk_rows=OBJECT_ATTRIBUTE_ROWS, tail_codecs=tail, attributes=attrs
            )
            docs[path] = d
            chunks += c
    return docs, chunks


def _encode_links(
    obj: ObjectLevel,
    level: str,
    world: npt.NDArray[np.int64],
    cell_of: npt.NDArray[np.int64],
    local: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64],
    new: npt.NDArray[np.bool_],
    put: Callable[[bytes], bytes],
    *,
    grids_of: Any,
    chunks: list[tuple[str, bytes]],
    cell_docs: dict[str, dict[str, Any]],
    docs: dict[str, dict[str, Any]],
    cell_doc: Any,
) -> None:
    """The ``links/0/*``, ``link_fragments`` and ``link_attributes`` cells and documents."""
    links = obj.links
    assert links is not None
    width = links.shape[1]
    keep = np.ones(len(links), dtype=bool)
    if obj.implicit_chain and len(links):
        child, parent = links[:, 0], links[:, 1]
        starts_frag = np.empty(len(order), dtype=bool)
        starts_frag[order] = new
        keep = ~(
            (cell_of[child] == cell_of[parent])
            & (local[child] == local[parent] + 1)
            & ~starts_frag[child]
        )
    if obj.cross_only and len(links):
        keep &= np.any(cell_of[links] != cell_of[links[:, :1]], axis=1)
    stored = np.flatnonzero(keep)
    recs = links[stored]
    buckets = place_links(world, cell_of[recs], local[recs])
    family = f"{level}/links/0"
    docs[f"{level}/links"] = group_json()
    docs[family] = group_json(
        {
            "zv_array": "links_family",
            "level_delta": 0,
            "link_width": width,
            "directed": False,
            "store": "canonical",
            "sid_ndim": world.shape[1] if len(world) else obj.positions.shape[1],
            "num_links": len(stored),
            "num_physical_records": len(stored),
        }
    )
    grid_text = {tuple(w): grids_of(w) for w in world.tolist()}  # once per cell, not per link cell
    by_seg: dict[str, list[tuple[tuple[int, ...], Any, Any]]] = {}
    for (seg, src), (rows, index) in buckets.cells.items():
        by_seg.setdefault(seg, []).append((src, rows, index))
    intra_seg = format_offsets(np.zeros((width - 1, obj.positions.shape[1]), np.int64))
    for name in obj.link_attributes:
        docs[f"{level}/link_attributes"] = group_json()
        docs[f"{level}/link_attributes/{name}"] = group_json()
        docs[f"{level}/link_attributes/{name}/0"] = group_json(
            {
                "zv_array": "link_attribute_family",
                "name": name,
                "level_delta": 0,
                "num_links": len(stored),
            }
        )
    stored_attrs = {k: v[stored] for k, v in obj.link_attributes.items()}
    for seg, cells in sorted(by_seg.items()):
        intra = seg == intra_seg
        path = f"{family}/{seg}"
        listed = sorted(world_key(src) for src, _, _ in cells)
        offsets = np.asarray(
            [[int(c) for c in part.split(".")] for part in seg.split("_")], dtype=np.int64
        )
        cell_docs[path] = cell_doc(
            link_array_attributes(offsets, has_perm=not intra, width=width), listed
        )
        for src, rows, index in cells:
            grid = grid_text[src]
            if intra:
                chunks.append((f"{path}/c/{grid}", put(rows.astype("<i8").tobytes())))
                blob = encode_fragment_ranges(np.zeros(1, np.int64), np.array([len(rows)]))
                chunks.append((f"{level}/link_fragments/c/{grid}", put(blob)))
            else:
                chunks.append((f"{path}/c/{grid}", put(encode_cross_cell(rows))))
            for name, values in stored_attrs.items():
                part = np.ascontiguousarray(values[index])
                chunks.append(
                    (
                        f"{level}/link_attributes/{name}/0/{seg}/c/{grid}",
                        put(part.tobytes()),
                    )
                )
        for name, values in obj.link_attributes.items():
            cell_docs[f"{level}/link_attributes/{name}/0/{seg}"] = cell_doc(
                {
                    "zv_array": "link_attribute",
                    "name": name,
                    "dtype": str(values.dtype),
                    "offsets": offsets.tolist(),
                    "level_delta": 0,
                    "row_shape": list(values.shape[1:]),
                },
                listed,
            )
        if intra:
            cell_docs[f"{level}/link_fragments"] = cell_doc(
                {"zv_array": "link_fragments", "encoding": "fragment_index_v1"}, listed
            )

"""Reading objects that cross cells back whole (the read side of :mod:`.objects`).

A read chooses object rows (all of them, those with given ids, those of given
groups, or those whose manifest names a cell meeting a box), fetches exactly
the cells those objects touch (vertices, fragment indexes, attributes, and
the link cells whose source cell is among them) in one concurrent batch, and
assembles each object from its manifest, fragment by fragment. Everything is
checked on the way: a manifest naming a cell that holds no vertices or a
fragment a cell does not have, attribute cells whose length disagrees with
their vertices, links naming rows a cell does not have, and (for a whole
level) a vertex count that disagrees with the level's are
:class:`~zarr_vectors.exceptions.CorruptStoreError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError, ValidationError
from zarr_vectors.format.cellio import ArrayLayout, fetch_cell_bytes
from zarr_vectors.format.grid import cells_in_box, parse_world_key, world_key
from zarr_vectors.format.levels import le_dtype
from zarr_vectors.format.links import decode_link_cell, parse_offsets, restore_order
from zarr_vectors.format.objarrays import read_plain, read_vlen
from zarr_vectors.format.objects import decode_fragment_table, decode_manifests
from zarr_vectors.format.snapshot import Snapshot

__all__ = ["CellDecoder", "ObjectData", "read_objects"]

Box = tuple[Sequence[float], Sequence[float]]
#: Decodes a vertex cell stored in an encoding other than raw rows (e.g. Draco):
#: ``(cell bytes, the vertices array's attributes, where) -> (raw rows, own links)``,
#: the links ``(k, L)`` rows of that cell joined within it (or ``None``).
CellDecoder = Callable[
    [bytes, Mapping[str, Any], str], tuple[bytes, "npt.NDArray[np.int64] | None"]
]


@dataclass
class ObjectData:
    """Objects as read: vertices object by object, each in its stored order."""

    positions: npt.NDArray[Any]
    object_ids: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]  # (K + 1,) vertex range of each object
    attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    fragment_start: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    links: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    link_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    cells_read: int = 0


def group_members(
    snap: Snapshot, level: int, group_ids: Sequence[int] | npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Object ids of the members of ``group_ids`` (one request for the groups array)."""
    path = f"{level}/groups"
    doc = snap.node(path)
    if doc is None:
        raise ValidationError(f"level {level} of this store has no groups; read without group_ids")
    n = int(doc["shape"][0])
    gids = np.asarray(list(group_ids), dtype=np.int64)
    bad = gids[(gids < 0) | (gids >= n)]
    if len(bad):
        raise ValidationError(
            f"group ids {bad.tolist()} do not exist; the store has groups 0..{n - 1}"
        )
    ranges = (doc.get("attributes") or {}).get("group_ranges") or {}
    members = []
    for gid, blob in zip(gids.tolist(), read_vlen(snap, path, doc, gids), strict=True):
        if str(gid) in ranges:
            lo, hi = ranges[str(gid)]
            members.append(np.arange(int(lo), int(hi), dtype=np.int64))
        elif len(blob) % 8:
            raise CorruptStoreError(f"{snap.backend.url}: {path}: group {gid} is not int64 ids")
        else:
            members.append(np.frombuffer(blob, "<i8").astype(np.int64))
    return np.unique(np.concatenate(members)) if members else np.zeros(0, np.int64)


def read_objects(
    snap: Snapshot,
    level: int,
    *,
    object_ids: Sequence[int] | npt.NDArray[np.int64] | None = None,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    object_attribute_names: Sequence[str] | None = None,
    links: bool = False,
    cell_decoders: Mapping[str, CellDecoder] | None = None,
) -> ObjectData:
    """Objects of ``level`` (all, with ``object_ids``, or meeting ``bbox``), whole and verified.

    Vertex cells whose array declares an ``encoding`` other than ``raw`` are
    decoded by ``cell_decoders[encoding]`` (links such a cell holds itself join
    the links read).
    """
    snap.check_complete()
    lm = snap.level_meta(level)
    ndim = snap.meta.ndim
    url = snap.backend.url
    oi = f"{level}/object_index"
    base = [
        f"{level}/vertices",
        f"{level}/vertex_fragments",
        oi,
        f"{oi}/object_ids",
        f"{oi}/manifests",
    ]
    docs = snap.nodes(base)
    vdoc = docs[base[0]]
    ids_doc, man_doc = docs[f"{oi}/object_ids"], docs[f"{oi}/manifests"]
    if man_doc is None or ids_doc is None:
        raise ValidationError(
            f"{url}: level {level} has no object index (is it a point cloud? read it with "
            f"read_points)"
        )
    ids_all = read_plain(snap, f"{oi}/object_ids", ids_doc)
    if object_ids is not None:
        want = np.unique(np.asarray(object_ids, dtype=np.int64))
        rows = np.flatnonzero(np.isin(ids_all, want))
    else:
        rows = np.arange(len(ids_all), dtype=np.int64)
    blobs = read_vlen(snap, f"{oi}/manifests", man_doc, rows) if len(rows) else []
    per_obj, mcells, refs = decode_manifests(blobs, ndim, f"{url}: {oi}/manifests")
    if bbox is not None and len(rows):
        hit = (
            np.asarray(cells_in_box(mcells, snap.meta.chunk_shape, bbox), dtype=bool)
            if len(mcells)
            else np.zeros(0, dtype=bool)
        )
        owner = np.repeat(np.arange(len(rows)), per_obj)
        touched = np.zeros(len(rows), dtype=bool)
        touched[owner[hit]] = True
        keep_blocks = touched[owner]
        rows, per_obj, mcells = rows[touched], per_obj[touched], mcells[keep_blocks]
        refs = (
            [refs[0][keep_blocks]]
            if refs[0] is not None
            else [None, [r for r, k in zip(refs[1], keep_blocks.tolist(), strict=True) if k]]
        )
    vattrs = (vdoc or {}).get("attributes", {})
    origin = np.asarray(vattrs.get("chunk_grid_origin", [0] * ndim), dtype=np.int64)
    listed = {tuple(parse_world_key(k)) for k in vattrs.get("nonempty_chunks") or []}
    if len(mcells):
        cell_arr, block_cell = np.unique(mcells, axis=0, return_inverse=True)
        block_cell = block_cell.reshape(-1)
    else:
        cell_arr, block_cell = np.zeros((0, ndim), np.int64), np.zeros(0, np.int64)
    cells = [tuple(c) for c in cell_arr.tolist()]
    missing = [c for c in cells if c not in listed]
    if missing and vattrs.get("nonempty_chunks") is not None:
        raise CorruptStoreError(
            f"{url}: level {level}: object manifests name cell(s) "
            f"{[world_key(c) for c in missing[:5]]} "
            "that hold no vertices; run 'zarr-vectors verify'"
        )
    names = _names(snap, level, f"{level}/vertex_attributes", attribute_names)
    link_arrays = _link_arrays(snap, level) if links else {}
    link_attr_names = _names(snap, level, f"{level}/link_attributes", None) if links else []
    paths = [base[0], base[1], *(f"{level}/vertex_attributes/{n}" for n in names)]
    for seg in link_arrays:
        paths.append(f"{level}/links/0/{seg}")
        paths += [f"{level}/link_attributes/{n}/0/{seg}" for n in link_attr_names]
    pdocs = snap.nodes(paths)
    wanted: dict[str, tuple[ArrayLayout, list[tuple[int, ...]]]] = {}
    grid_of = {c: tuple(int(v) for v in np.asarray(c) - origin) for c in cells}
    cellset = set(cells)
    for p in paths:
        d = pdocs[p]
        if d is None:
            if "/link_attributes/" in p:
                continue
            raise CorruptStoreError(f"{url}: {p} is missing")
        if "/links/0/" in p or "/link_attributes/" in p:
            lst = {
                tuple(parse_world_key(k))
                for k in d.get("attributes", {}).get("nonempty_chunks") or []
            }
            mine = [grid_of[c] for c in cells if c in lst]
        else:
            mine = [grid_of[c] for c in cells]
        wanted[p] = (ArrayLayout(p, d), mine)
    got = fetch_cell_bytes(snap, wanted)
    codecs = {p: w[0].codec for p, w in wanted.items()}

    def payload(p: str, c: tuple[int, ...]) -> bytes | None:
        raw = got.get((p, grid_of[c]))
        if raw is None:
            return None
        try:
            return bytes(codecs[p].decode(raw, ""))
        except CorruptStoreError as exc:
            raise CorruptStoreError(f"{url}: {p} cell {world_key(c)}{exc}") from None

    dtype = le_dtype(vattrs.get("dtype", "float32"))
    encoding = str(vattrs.get("encoding", "raw"))
    decode = None if encoding == "raw" else (cell_decoders or {}).get(encoding)
    if encoding != "raw" and decode is None:
        raise ValidationError(
            f"{url}: level {level}'s vertices are {encoding}-encoded; read them with the reader "
            "of their geometry (e.g. read_mesh)"
        )
    own_links: dict[tuple[int, ...], npt.NDArray[np.int64]] = {}
    # Decode every cell: rows, fragments, attribute columns.
    cell_pos, cell_frags, cell_base = {}, {}, {}
    total = 0
    for c in cells:
        raw = payload(base[0], c)
        if decode is not None and raw is not None:
            raw, own = decode(raw, vattrs, f"{url}: {base[0]} cell {world_key(c)}")
            if own is not None and len(own):
                own_links[c] = own
        if raw is None or len(raw) % (dtype.itemsize * ndim):
            raise CorruptStoreError(
                f"{url}: {base[0]} cell {world_key(c)} is missing or not whole rows"
            )
        cell_pos[c] = np.frombuffer(raw, dtype).reshape(-1, ndim)
        fraw = payload(base[1], c)
        if fraw is None:
            raise CorruptStoreError(f"{url}: {base[1]} cell {world_key(c)} is missing")
        cell_frags[c] = decode_fragment_table(fraw, f"{url}: {base[1]} cell {world_key(c)}")
        cell_base[c] = total
        total += len(cell_pos[c])
    allpos = np.concatenate([cell_pos[c] for c in cells]) if cells else np.empty((0, ndim), dtype)
    cols: dict[str, npt.NDArray[Any]] = {}
    for n in names:
        p = f"{level}/vertex_attributes/{n}"
        a = pdocs[p]["attributes"]  # type: ignore[index]
        adt, shape = le_dtype(a["dtype"]), tuple(a.get("row_shape") or ())
        parts = []
        for c in cells:
            raw = payload(p, c) or b""
            col = np.frombuffer(raw, adt).reshape(-1, *shape) if raw else np.empty((0, *shape), adt)
            if len(col) != len(cell_pos[c]):
                raise CorruptStoreError(
                    f"{url}: {p} cell {world_key(c)} holds {len(col)} values for "
                    f"{len(cell_pos[c])} vertices"
                )
            parts.append(col)
        cols[n] = np.concatenate(parts) if parts else np.empty((0, *shape), adt)
    # Gather each object's fragments in manifest order.
    gather, block_len, frag_first = _gather(
        url, cells, cell_frags, cell_pos, cell_base, block_cell, refs
    )
    if len(gather) and (gather.max() >= total or gather.min() < 0):
        raise CorruptStoreError(f"{url}: a fragment names rows its cell does not have")
    starts = np.zeros(len(gather), dtype=bool)
    starts[frag_first] = True
    cum = np.concatenate([[0], np.cumsum(block_len)])
    bounds = np.concatenate([[0], np.cumsum(per_obj)])
    obj_len = cum[bounds[1:]] - cum[bounds[:-1]]
    offsets = np.concatenate([[0], np.cumsum(obj_len)]).astype(np.int64)
    whole = object_ids is None and bbox is None
    if whole and len(gather) != lm.vertex_count:
        raise CorruptStoreError(
            f"{url}: level {level} says it holds {lm.vertex_count} vertices but its objects hold "
            f"{len(gather)}; run 'zarr-vectors verify' to list what is wrong"
        )
    out = ObjectData(
        positions=allpos[gather],
        object_ids=ids_all[rows],
        offsets=offsets,
        attributes={n: v[gather] for n, v in cols.items()},
        fragment_start=starts,
        cells_read=len(cells),
    )
    if links:
        out.links, out.link_attributes = _read_links(
            snap,
            level,
            link_arrays,
            link_attr_names,
            cells,
            cellset,
            cell_pos,
            cell_base,
            gather,
            total,
            payload,
            pdocs,
            own_links,
        )
    oa_names = _names(snap, level, f"{level}/object_attributes", object_attribute_names)
    for n in oa_names:
        p = f"{level}/object_attributes/{n}"
        d = snap.node(p)
        if d is not None:
            out.object_attributes[n] = (
                read_plain(snap, p, d, rows)
                if len(rows)
                else np.empty((0, *d["shape"][1:]), le_dtype(d["data_type"]))
            )
    return out


def _names(snap: Snapshot, level: int, group: str, asked: Sequence[str] | None) -> list[str]:
    have = snap.children(group) if snap.node(group) is not None else []
    if asked is None:
        return have
    asked = [asked] if isinstance(asked, str) else list(asked)
    missing = [n for n in asked if n not in have]
    if missing:
        raise ValidationError(
            f"attribute(s) {missing} do not exist at level {level}; stored: {have}"
        )
    return asked


def _link_arrays(snap: Snapshot, level: int) -> dict[str, npt.NDArray[np.int64]]:
    fam = snap.node(f"{level}/links/0")
    if fam is None:
        return {}
    out = {}
    for seg in snap.children(f"{level}/links/0"):
        try:
            out[seg] = parse_offsets(seg, snap.meta.ndim)
        except ValueError:
            continue
    return out


def _read_links(
    snap: Snapshot,
    level: int,
    arrays: dict[str, npt.NDArray[np.int64]],
    attr_names: list[str],
    cells: list[tuple[int, ...]],
    cellset: set[tuple[int, ...]],
    cell_pos: dict[Any, Any],
    cell_base: dict[Any, int],
    gather: npt.NDArray[np.int64],
    total: int,
    payload: Any,
    pdocs: Any,
    own_links: Mapping[tuple[int, ...], npt.NDArray[np.int64]] | None = None,
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[Any]]]:
    url = snap.backend.url
    to_out = np.full(total, -1, dtype=np.int64)
    to_out[gather] = np.arange(len(gather), dtype=np.int64)
    recs: list[npt.NDArray[np.int64]] = []
    attrs: dict[str, list[npt.NDArray[Any]]] = {n: [] for n in attr_names}
    for seg, offsets in sorted(arrays.items()):
        p = f"{level}/links/0/{seg}"
        a = pdocs[p].get("attributes", {})
        width = int(a.get("link_width", offsets.shape[0] + 1))
        intra = not offsets.any()
        has_perm = bool(a.get("has_perm", not intra))
        for c in cells:
            raw = payload(p, c)
            if raw is None:
                continue
            where = f"{url}: {p} cell {world_key(c)}"
            rows = decode_link_cell(
                raw, intra=intra, columns=width + has_perm, dtype=np.dtype("int64"), where=where
            )
            vi, gather_end = restore_order(rows, has_perm=has_perm, width=width, where=where)
            ends = [c] + [tuple(int(x) for x in np.asarray(c) + o) for o in offsets]
            ends_arr = [ends[j] for j in range(width)]
            mapped = np.empty((len(rows), width), dtype=np.int64)
            for j in range(width):
                col = np.full(len(rows), -1, dtype=np.int64)
                for k in range(width):
                    sel = gather_end[:, j] == k
                    e = ends_arr[k]
                    if not sel.any() or e not in cellset:
                        continue
                    v = vi[sel, j]
                    if v.size and (v.min() < 0 or v.max() >= len(cell_pos[e])):
                        raise CorruptStoreError(
                            f"{where}: a link names a row cell {world_key(e)} does not have"
                        )
                    col[sel] = to_out[cell_base[e] + v]
                mapped[:, j] = col
            keep = (mapped >= 0).all(axis=1)
            recs.append(mapped[keep])
            for n in attr_names:
                ap = f"{level}/link_attributes/{n}/0/{seg}"
                ad = pdocs.get(ap)
                if ad is None:
                    continue
                aa = ad["attributes"]
                adt, shape = le_dtype(aa["dtype"]), tuple(aa.get("row_shape") or ())
                col = np.frombuffer(payload(ap, c) or b"", adt).reshape(-1, *shape)
                if len(col) != len(rows):
                    raise CorruptStoreError(
                        f"{url}: {ap} cell {world_key(c)} holds {len(col)} values for "
                        f"{len(rows)} links"
                    )
                attrs[n].append(col[keep])
    for c, own in (own_links or {}).items():  # links a decoded cell holds itself
        if own.size and (own.min() < 0 or own.max() >= len(cell_pos[c])):
            raise CorruptStoreError(f"{url}: cell {world_key(c)} joins rows it does not have")
        mapped = to_out[cell_base[c] + own]
        recs.append(mapped[(mapped >= 0).all(axis=1)])
    width = 2 if not arrays else int(next(iter(arrays.values())).shape[0] + 1)
    links = np.concatenate(recs) if recs else np.zeros((0, width), np.int64)
    return links, {n: np.concatenate(v) for n, v in attrs.items() if v}


def _gather(
    url: str,
    cells: list[tuple[int, ...]],
    cell_frags: dict[tuple[int, ...], Any],
    cell_pos: dict[tuple[int, ...], npt.NDArray[Any]],
    cell_base: dict[tuple[int, ...], int],
    ci: npt.NDArray[np.int64],
    refs: list[Any],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows (into the fetched cells, concatenated) of every manifest block's fragments,
    each block's vertex count, and where each fragment starts in the result."""
    n_blocks = len(ci)
    if n_blocks == 0:
        z = np.zeros(0, np.int64)
        return z, z, z
    ranges = all(isinstance(cell_frags[c], np.ndarray) for c in cells)
    if refs[0] is not None and ranges:
        tables = [cell_frags[c] for c in cells]
        nfrag = np.array([len(t) for t in tables], dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(nfrag)[:-1]])
        table = np.concatenate(tables) if tables else np.zeros((0, 2), np.int64)
        rows_in = np.array([len(cell_pos[c]) for c in cells], dtype=np.int64)
        base = np.array([cell_base[c] for c in cells], dtype=np.int64)
        f = np.asarray(refs[0], dtype=np.int64)
        bad = np.flatnonzero((f < 0) | (f >= nfrag[ci]))
        if len(bad):
            b = int(bad[0])
            raise CorruptStoreError(
                f"{url}: an object's manifest names fragment {int(f[b])} of cell "
                f"{world_key(cells[ci[b]])}, which has {int(nfrag[ci[b]])}; the object's cells "
                "disagree"
            )
        start, count = table[first[ci] + f, 0], table[first[ci] + f, 1]
        over = np.flatnonzero((start < 0) | (count < 0) | (start + count > rows_in[ci]))
        if len(over):
            raise CorruptStoreError(
                f"{url}: cell {world_key(cells[ci[over[0]]])}: a fragment runs past its rows"
            )
        ends = np.cumsum(count)
        frag_first = ends - count
        gather = np.repeat(start + base[ci] - frag_first, count) + np.arange(int(ends[-1]))
        return gather, count, frag_first
    pieces: list[npt.NDArray[np.int64]] = []
    block_len = np.zeros(n_blocks, dtype=np.int64)
    firsts: list[int] = []
    at = 0
    for b in range(n_blocks):
        c = cells[ci[b]]
        table = cell_frags[c]
        idxs: list[int] = [int(refs[0][b])] if refs[0] is not None else refs[1][b].tolist()
        for frag in idxs:
            if not 0 <= frag < len(table):
                raise CorruptStoreError(
                    f"{url}: an object's manifest names fragment {frag} of cell {world_key(c)}, "
                    f"which has {len(table)}; the object's cells disagree"
                )
            if isinstance(table, np.ndarray):
                s, k = int(table[frag, 0]), int(table[frag, 1])
                if s < 0 or s + k > len(cell_pos[c]):
                    raise CorruptStoreError(
                        f"{url}: cell {world_key(c)}: a fragment runs past its rows"
                    )
                rows_f = np.arange(s, s + k, dtype=np.int64)
            else:
                rows_f = table[frag]
            pieces.append(rows_f + cell_base[c])
            firsts.append(at)
            at += len(rows_f)
            block_len[b] += len(rows_f)
    gather = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
    return gather, block_len, np.asarray(firsts, dtype=np.int64)

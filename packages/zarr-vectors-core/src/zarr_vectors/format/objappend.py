"""An append of whole objects that writes only what it changes.

The new objects are encoded with their rows, fragments and link rows numbered
after what each cell they touch holds (:func:`~zarr_vectors.format.objects.encode_objects`
``bases=``); each touched cell is its committed payload followed by the new one
(:func:`~zarr_vectors.format.objgrow.join_payloads`); the object index, object
attributes and level documents are made again from all the objects and only
their chunks that differ are kept. Cells the new objects do not touch are not
read or written. The result is an :class:`~zarr_vectors.format.objects.EncodedObjects`
with ``overlay_of`` set, which the commit stages and moves over the old store
without deleting the rest (:func:`~zarr_vectors.format.staging.swap_in`
``overlay_of=``): the same crash safety as a replace, for the cost of the
changed objects.

Stores a join cannot extend (Draco cells, fragments that are not ranges)
raise :class:`~zarr_vectors.format.objgrow.CannotGrow`; the caller then
rewrites the level as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.cellio import ArrayLayout, fetch_cell_bytes
from zarr_vectors.format.grid import group_by_cell
from zarr_vectors.format.journal import gather_node_docs
from zarr_vectors.format.objarrays import read_plain, read_vlen
from zarr_vectors.format.objects import (
    EncodedObjects,
    ObjectLevel,
    decode_fragment_table,
    encode_object_index,
    encode_objects,
)
from zarr_vectors.format.objgrow import CannotGrow, CellTally, join_docs, join_payloads
from zarr_vectors.format.sharding import parse_sharding
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.validate import check_fits

__all__ = ["grow_level"]

_INDEX = ("object_index", "object_attributes", "groups", "group_attributes")


def _all_docs(snap: Snapshot) -> dict[str, dict[str, Any]]:
    if snap.consolidated is not None:
        return {p: dict(d) for p, d in snap.consolidated.items()}
    return gather_node_docs(snap.backend)


def _names(docs: Mapping[str, Any], group: str) -> list[str]:
    prefix = f"{group}/"
    return sorted(
        {p[len(prefix) :].split("/")[0] for p in docs if p.startswith(prefix) and p != group}
    )


def _check_like(
    docs: Mapping[str, Any], new: ObjectLevel, level: str
) -> dict[str, npt.NDArray[Any]]:
    """The new objects' attributes match the store's (names, dtypes); cast to them."""
    for what, group, have in (
        ("vertex", f"{level}/vertex_attributes", new.attributes),
        ("object", f"{level}/object_attributes", new.object_attributes),
        ("link", f"{level}/link_attributes", new.link_attributes),
    ):
        stored = _names(docs, group)
        if stored != sorted(have):
            raise ValidationError(
                f"the store's {what} attributes are {stored} but the appended ones are "
                f"{sorted(have)}; give the same attributes when appending"
            )
    out = {}
    for name, values in new.attributes.items():
        attrs = docs[f"{level}/vertex_attributes/{name}"].get("attributes", {})
        out[name] = check_fits(
            f"vertex attribute {name!r}", values, np.dtype(attrs.get("dtype", values.dtype))
        )
    return out


def grow_level(snap: Snapshot, new: ObjectLevel, level: str = "0") -> EncodedObjects:
    """``new``'s objects added to ``level`` of the committed store ``snap`` shows."""
    docs = _all_docs(snap)
    if new.groups is not None or f"{level}/groups" in docs:
        raise ValidationError(
            "appending to or with groups is not supported; rewrite the store with mode='w'"
        )
    vpath = f"{level}/vertices"
    vdoc = docs.get(vpath)
    if vdoc is None:
        raise CannotGrow(f"{vpath}: no vertices yet")
    vattrs = vdoc.get("attributes", {})
    if vattrs.get("encoding", "raw") != "raw":
        raise CannotGrow(f"{vpath}: {vattrs.get('encoding')}-encoded cells")
    ndim = snap.meta.ndim
    oi = f"{level}/object_index"
    old_ids = read_plain(snap, f"{oi}/object_ids", docs[f"{oi}/object_ids"]).astype(np.int64)
    dup = np.intersect1d(old_ids, new.object_ids)
    if dup.size:
        raise ValidationError(
            f"object id {int(dup[0])} is already in the store; appended objects need new ids"
        )
    family = docs.get(f"{level}/links/0", {}).get("attributes", {})
    width = family.get("link_width")
    if new.links is not None and width is not None and int(width) != new.links.shape[1]:
        raise ValidationError(
            f"the store holds links (faces) of {width} vertices but the appended ones have "
            f"{new.links.shape[1]}; append the same face width"
        )
    attrs = _check_like(docs, new, level)
    dtype = np.dtype(vattrs.get("dtype", "float32"))
    obj = ObjectLevel(
        **{
            **new.__dict__,
            "positions": check_fits("positions", new.positions, dtype),
            "attributes": attrs,
        }
    )
    layout = ArrayLayout(vpath, vdoc)
    spec = parse_sharding(vdoc)
    shard_shape = None if spec is None else tuple(spec.shard_shape)
    origin = np.asarray(snap.meta.grid_origin(), dtype=np.int64)
    world = group_by_cell(obj.positions, snap.meta.chunk_shape).world
    grids = [tuple(g) for g in (world - origin).tolist()]
    fpath = f"{level}/vertex_fragments"
    got = fetch_cell_bytes(
        snap, {vpath: (layout, grids), fpath: (ArrayLayout(fpath, docs[fpath]), grids)}
    )
    tally = CellTally()
    row_bytes = dtype.itemsize * ndim
    for w, g in zip(world.tolist(), grids, strict=True):
        if (vpath, g) not in got:
            continue
        rows = len(layout.codec.decode(got[(vpath, g)], vpath))
        frags = decode_fragment_table(
            ArrayLayout(fpath, docs[fpath]).codec.decode(got[(fpath, g)], fpath), fpath
        )
        tally.set(tuple(w), rows // row_bytes, len(frags))
    enc = encode_objects(
        obj,
        snap.meta,
        codecs=list(layout.codec.codecs),
        index_codecs=(),
        shard_shape=shard_shape,
        level=level,
        bases=tally.bases,
        raw=True,
    )
    index_paths = tuple(f"{level}/{a}" for a in _INDEX)
    own = {p: d for p, d in enc.docs.items() if not p.startswith(index_paths)}
    merged = join_docs(docs, own)
    chunks = _joined_cells(snap, docs, enc)
    index_docs, index_chunks = _object_index(snap, docs, level, old_ids, obj, enc)
    merged.update(index_docs)
    return EncodedObjects(
        chunks + index_chunks,
        merged,
        list(enc.cell_arrays),
        int(snap.level_meta(int(level)).vertex_count) + len(obj.positions),
        len(world),
        overlay_of=docs,
    )


def _joined_cells(
    snap: Snapshot, docs: Mapping[str, dict[str, Any]], enc: EncodedObjects
) -> list[tuple[str, bytes]]:
    """Each cell the new objects touch: its committed payload, then theirs, encoded."""
    cells = set(enc.cell_arrays)
    new: dict[str, list[tuple[tuple[int, ...], bytes]]] = {}
    for key, payload in enc.chunks:
        path, _, text = key.rpartition("/c/")
        if path in cells:
            new.setdefault(path, []).append((tuple(int(g) for g in text.split("/")), payload))
    layouts = {p: ArrayLayout(p, docs.get(p) or enc.docs[p]) for p in new}
    wanted = {p: (layouts[p], [g for g, _ in v]) for p, v in new.items() if p in docs}
    old = fetch_cell_bytes(snap, wanted)
    out = []
    for path, items in new.items():
        doc = docs.get(path) or enc.docs[path]
        codec = layouts[path].codec
        for grid, payload in items:
            raw = old.get((path, grid))
            where = f"{snap.backend.url}: {path} cell {list(grid)}"
            parts = [payload] if raw is None else [codec.decode(raw, where), payload]
            key = layouts[path].cell_key(grid)
            out.append((key, codec.encode(join_payloads(path, doc, parts))))
    return out


def _object_index(
    snap: Snapshot,
    docs: Mapping[str, dict[str, Any]],
    level: str,
    old_ids: npt.NDArray[np.int64],
    obj: ObjectLevel,
    enc: EncodedObjects,
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, bytes]]]:
    """The object index and object attributes of all the objects: the chunks that changed."""
    oi = f"{level}/object_index"
    old_man = read_vlen(snap, f"{oi}/manifests", docs[f"{oi}/manifests"])
    ids = np.concatenate([old_ids, obj.object_ids])
    order = np.argsort(ids, kind="stable")
    manifests = [bytes(m) for m in old_man] + list(enc.manifests)
    oattrs = {}
    for name, values in obj.object_attributes.items():
        path = f"{level}/object_attributes/{name}"
        old = read_plain(snap, path, docs[path])
        oattrs[name] = np.concatenate([old, values.astype(old.dtype)])[order]
    tail = list(docs[f"{oi}/object_ids"].get("codecs", [])[1:])
    index_docs, chunks = encode_object_index(
        level,
        ids[order],
        [manifests[i] for i in order.tolist()],
        num_present=sum(1 for m in manifests if len(m) > 4),
        ndim=snap.meta.ndim,
        object_attributes=oattrs,
        index_codecs=tail,
    )
    before = snap.get_many([k for k, _ in chunks])
    return index_docs, [(k, v) for k, v in chunks if before.get(k) != v]

"""An append of whole objects that writes only what it changes.

The new objects are encoded with their rows, fragments and link rows numbered
after what each cell they touch holds (:func:`~zarr_vectors.format.objects.encode_objects`
``bases=`` from a :class:`StoredTally`); each touched cell is its committed
payload followed by the new one (:func:`~zarr_vectors.format.objgrow.join_payloads`);
the object index and object attributes gain rows reading only their tail
(:func:`~zarr_vectors.format.objindex.grow_object_index`), and the level
documents add up. Cells the new objects do not touch are not read or written.
The result is an :class:`~zarr_vectors.format.objects.EncodedObjects` with
``overlay_of`` set, which the commit stages and moves over the old store
without deleting the rest (:func:`~zarr_vectors.format.staging.swap_in`
``overlay_of=``): the same crash safety as a replace, for the cost of the
changed objects.

An append from batches (:func:`grow_from_stream`) is the same, its new cells
spilled first (:class:`~zarr_vectors.format.objstream.ObjectStream` with a
:class:`StoredTally` and :func:`conform`) and joined with the committed ones
a bounded batch at a time.

Stores a join cannot extend (Draco cells, fragments that are not ranges)
raise :class:`~zarr_vectors.format.objgrow.CannotGrow`; the caller then
rewrites the level as before (in memory) or refuses (from batches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ConcurrentWriteError, ValidationError
from zarr_vectors.format.cellio import ArrayLayout, fetch_cell_bytes
from zarr_vectors.format.journal import gather_node_docs
from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.objcommit import ObjectRootMetadata, commit_objects
from zarr_vectors.format.objects import (
    EncodedObjects,
    ObjectLevel,
    decode_fragment_table,
    encode_objects,
)
from zarr_vectors.format.objgrow import CannotGrow, CellTally, join_docs, join_payloads
from zarr_vectors.format.objindex import grow_object_index
from zarr_vectors.format.objstream import ObjectStream
from zarr_vectors.format.sharding import parse_sharding
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.validate import check_fits
from zarr_vectors.storage.base import StorageBackend

__all__ = [
    "StoredTally",
    "append_stream",
    "check_appendable",
    "conform",
    "grow_from_stream",
    "grow_level",
    "level_docs",
    "shard_shape_of",
]

_INDEX = ("object_index", "object_attributes", "groups", "group_attributes")
Cell = tuple[int, ...]
#: Cells whose committed payloads are fetched at once to count their rows (memory bound).
_COUNT_CELLS = 64


def level_docs(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """Every node document of the committed store (from its consolidated metadata if any)."""
    if snap.consolidated is not None:
        return {p: dict(d) for p, d in snap.consolidated.items()}
    return gather_node_docs(snap.backend)


def _names(docs: Mapping[str, Any], group: str) -> list[str]:
    prefix = f"{group}/"
    return sorted(
        {p[len(prefix) :].split("/")[0] for p in docs if p.startswith(prefix) and p != group}
    )


def conform(
    snap: Snapshot, docs: Mapping[str, Mapping[str, Any]], new: ObjectLevel, level: str = "0"
) -> ObjectLevel:
    """``new`` checked against the store it is appended to, in the store's dtypes.

    Refuses groups, another number of axes or link width, other attribute
    names, and values the stored dtypes cannot hold; raises :class:`CannotGrow`
    for cells a join cannot extend.
    """
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
    if new.positions.shape[1] != snap.meta.ndim:
        raise ValidationError(
            f"the store has {snap.meta.ndim} axes but the new vertices have "
            f"{new.positions.shape[1]}"
        )
    family = docs.get(f"{level}/links/0", {}).get("attributes", {})
    width = family.get("link_width")
    if new.links is not None and width is not None and int(width) != new.links.shape[1]:
        raise ValidationError(
            f"the store holds links (faces) of {width} vertices but the appended ones have "
            f"{new.links.shape[1]}; append the same face width"
        )
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
    attrs = {}
    for name, values in new.attributes.items():
        a = docs[f"{level}/vertex_attributes/{name}"].get("attributes", {})
        attrs[name] = check_fits(
            f"vertex attribute {name!r}", values, np.dtype(a.get("dtype", values.dtype))
        )
    dtype = np.dtype(vattrs.get("dtype", "float32"))
    positions = check_fits("positions", new.positions, dtype)
    return ObjectLevel(**{**new.__dict__, "positions": positions, "attributes": attrs})


class StoredCells:
    """The committed cells of a level an append extends: their counts and payloads."""

    def __init__(self, snap: Snapshot, docs: Mapping[str, Mapping[str, Any]], level: str) -> None:
        self.snap, self.docs, self.level = snap, docs, level
        self.origin = np.asarray(snap.meta.grid_origin(), dtype=np.int64)

    def counts(self, world: Iterable[Cell]) -> dict[Cell, tuple[int, int]]:
        """Rows and fragments each of the cells ``world`` holds (0, 0 if absent).

        Fetched ``_COUNT_CELLS`` cells at a time: only their counts are kept.
        """
        cells = [tuple(c) for c in world]
        out: dict[Cell, tuple[int, int]] = {}
        for at in range(0, len(cells), _COUNT_CELLS):
            out.update(self._counts(cells[at : at + _COUNT_CELLS]))
        return out

    def _counts(self, cells: list[Cell]) -> dict[Cell, tuple[int, int]]:
        vpath, fpath = f"{self.level}/vertices", f"{self.level}/vertex_fragments"
        vlay = ArrayLayout(vpath, self.docs[vpath])
        flay = ArrayLayout(fpath, self.docs[fpath])
        grids = [tuple(int(v) for v in np.asarray(c) - self.origin) for c in cells]
        got = fetch_cell_bytes(self.snap, {vpath: (vlay, grids), fpath: (flay, grids)})
        dtype = np.dtype(self.docs[vpath].get("attributes", {}).get("dtype", "float32"))
        row_bytes = dtype.itemsize * self.snap.meta.ndim
        out = {}
        for c, g in zip(cells, grids, strict=True):
            if (vpath, g) not in got:
                out[c] = (0, 0)
                continue
            rows = len(vlay.codec.decode(got[(vpath, g)], vpath)) // row_bytes
            table = decode_fragment_table(flay.codec.decode(got[(fpath, g)], fpath), fpath)
            out[c] = (rows, len(table))
        return out

    def payloads(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The decoded committed payload of each cell key (``array/c/i/j/k``) that exists."""
        wanted: dict[str, list[Cell]] = {}
        for key in keys:
            path, _, text = key.rpartition("/c/")
            if path in self.docs:
                wanted.setdefault(path, []).append(tuple(int(g) for g in text.split("/")))
        layouts = {p: ArrayLayout(p, self.docs[p]) for p in wanted}
        got = fetch_cell_bytes(self.snap, {p: (layouts[p], g) for p, g in wanted.items()})
        out = {}
        for (path, grid), raw in got.items():
            where = f"{self.snap.backend.url}: {path} cell {list(grid)}"
            out[layouts[path].cell_key(grid)] = layouts[path].codec.decode(raw, where)
        return out


class StoredTally(CellTally):
    """A :class:`CellTally` that starts each cell from what the store's cell holds.

    The first time a cell is met its committed counts are fetched; ``stored``
    keeps them, so a commit can check they still hold (:meth:`still_holds`).
    """

    def __init__(self, cells: StoredCells) -> None:
        super().__init__()
        self.cells = cells
        self.stored: dict[Cell, tuple[int, int]] = {}

    def bases(
        self, world: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        unseen = {tuple(c) for c in world.tolist()} - set(self.stored)
        if unseen:
            for cell, (rows, frags) in self.cells.counts(sorted(unseen)).items():
                self.stored[cell] = (rows, frags)
                self.set(cell, rows, frags)
        return super().bases(world)

    def still_holds(self, snap: Snapshot, docs: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether ``snap``'s cells still hold what the encoding was numbered after."""
        now = StoredCells(snap, docs, self.cells.level).counts(sorted(self.stored))
        return now == self.stored


def shard_shape_of(doc: Mapping[str, Any] | None) -> tuple[int, ...] | None:
    """The shard shape (in cells) of a cell array's document, ``None`` if unsharded."""
    spec = parse_sharding(doc) if doc is not None else None
    return None if spec is None else tuple(spec.shard_shape)


def _layout_of(docs: Mapping[str, Mapping[str, Any]], level: str) -> tuple[Any, Any]:
    vpath = f"{level}/vertices"
    layout = ArrayLayout(vpath, docs[vpath])
    return list(layout.codec.codecs), shard_shape_of(docs[vpath])


def grow_level(snap: Snapshot, new: ObjectLevel, level: str = "0") -> EncodedObjects:
    """``new``'s objects added to ``level`` of the committed store ``snap`` shows."""
    docs = level_docs(snap)
    obj = conform(snap, docs, new, level)
    stored = StoredCells(snap, docs, level)
    codecs, shard_shape = _layout_of(docs, level)
    enc = encode_objects(
        obj,
        snap.meta,
        codecs=codecs,
        index_codecs=(),
        shard_shape=shard_shape,
        level=level,
        bases=StoredTally(stored).bases,
        raw=True,
    )
    index_paths = tuple(f"{level}/{a}" for a in _INDEX)
    own = {p: d for p, d in enc.docs.items() if not p.startswith(index_paths)}
    merged = join_docs(docs, own)
    index_docs, index_chunks = grow_object_index(
        snap, docs, level, obj.object_ids, enc.manifests, obj.object_attributes
    )
    merged.update(index_docs)
    chunks = _joined_cells(stored, merged, enc)
    assert enc.world is not None
    return EncodedObjects(
        chunks + index_chunks,
        merged,
        list(enc.cell_arrays),
        int(snap.level_meta(int(level)).vertex_count) + len(obj.positions),
        len(enc.world),
        overlay_of=docs,
    )


def _joined_cells(
    stored: StoredCells, docs: Mapping[str, Mapping[str, Any]], enc: EncodedObjects
) -> list[tuple[str, bytes]]:
    """Each cell the new objects touch: its committed payload, then theirs, encoded."""
    cells = set(enc.cell_arrays)
    new = [(k, p) for k, p in enc.chunks if k.rpartition("/c/")[0] in cells]
    old = stored.payloads(k for k, _ in new)
    layouts: dict[str, ArrayLayout] = {}
    out = []
    for key, payload in new:
        path = key.rpartition("/c/")[0]
        layout = layouts.get(path) or layouts.setdefault(path, ArrayLayout(path, docs[path]))
        parts = [payload] if key not in old else [old[key], payload]
        out.append((key, layout.codec.encode(join_payloads(path, docs[path], parts))))
    return out


def grow_from_stream(
    snap: Snapshot,
    docs: Mapping[str, Mapping[str, Any]],
    stream: ObjectStream,
    level: str = "0",
) -> EncodedObjects:
    """The append of a stream's spilled objects to ``snap``'s store (see the module doc).

    The stream's encoding was numbered after ``snap``'s cells (its tally a
    :class:`StoredTally`); the caller checks that they still hold.
    """
    ids, manifests, oattrs = stream.index_rows()
    merged = join_docs(docs, stream.docs)
    index_docs, index_chunks = grow_object_index(snap, docs, level, ids, manifests, oattrs)
    merged.update(index_docs)
    stored = StoredCells(snap, docs, level)
    return EncodedObjects(
        index_chunks,
        merged,
        stream.cell_arrays,
        int(snap.level_meta(int(level)).vertex_count) + stream.vertex_count,
        stream.cell_count,
        chunk_batches=lambda: stream.joined(stored.payloads),
        overlay_of=docs,
    )


def check_appendable(
    meta: RootMetadata, geometry_type: str, ndim: int | None, chunk_shape: Any
) -> None:
    """Refuse an append of another geometry, number of axes or chunk shape than the store's."""
    gtypes = list(meta.geometry_types)
    if gtypes != [geometry_type]:
        raise ValidationError(
            f"the store holds {gtypes}, not {geometry_type}; append the same geometry"
        )
    if ndim is not None and meta.ndim != ndim:
        raise ValidationError(f"the store has {meta.ndim} axes but the new vertices have {ndim}")
    if chunk_shape is not None and tuple(chunk_shape) != tuple(meta.chunk_shape):
        raise ValidationError(
            "chunk_shape differs from the store's; leave chunk_shape out when appending"
        )


def _kinds(docs: Mapping[str, Mapping[str, Any]], level: str = "0") -> list[Any]:
    """What the batches were checked and cast against: the vertices' dtype, the names
    of the vertex, object and link attributes and the dtypes of the first two."""
    groups = [f"{level}/vertices"] + [
        f"{level}/{k}_attributes/" for k in ("vertex", "object", "link")
    ]
    return sorted(
        (p, str(d.get("data_type")), str(d.get("attributes", {}).get("dtype")))
        for p, d in docs.items()
        if p == groups[0] or (p.startswith(tuple(groups[1:])) and p.count("/") == 2)
    )


def append_stream(
    backend: StorageBackend,
    snap0: Snapshot,
    batches: Iterable[ObjectLevel],
    *,
    geometry_type: str,
    links_convention: str,
    chunk_shape: Any,
    budget: int,
    directory: str | None,
    consolidate: bool,
    lock_timeout: float | None,
) -> EncodedObjects:
    """Append ``batches`` of whole objects to the store ``snap0`` shows, whole or not at all.

    Every batch is checked against the store and spilled with its rows numbered
    after the store's cells before the lease is taken. Under the lease, if
    another writer committed meanwhile and changed a cell the batches touch,
    the numbering no longer holds and the append raises
    :class:`~zarr_vectors.exceptions.ConcurrentWriteError` with nothing
    written (the batches were read once and are gone; append them again).
    """
    check_appendable(snap0.meta, geometry_type, None, chunk_shape)
    if len(snap0.meta.levels) != 1:
        raise ValidationError(
            f"the store has {len(snap0.meta.levels)} levels; appending from batches extends "
            "level 0 only: append in memory (lists), or rewrite the store with mode='w'"
        )
    docs = level_docs(snap0)
    codecs, shard_shape = _layout_of(docs, "0")
    tally = StoredTally(StoredCells(snap0, docs, "0"))

    def fit(batch: ObjectLevel) -> ObjectLevel:
        try:
            return conform(snap0, docs, batch)
        except CannotGrow as exc:
            raise ValidationError(
                f"appending from batches cannot extend this store ({exc}); append in memory "
                "(lists), or rewrite the store with mode='w'"
            ) from None

    with ObjectStream(
        snap0.meta,
        codecs=codecs,
        index_codecs=(),
        shard_shape=shard_shape,
        budget=budget,
        directory=directory,
        tally=tally,
        conform=fit,
    ) as stream:
        for batch in batches:
            stream.add(batch)
        stream.index_rows()  # ids given twice: refused before the lease
        grown: dict[int, EncodedObjects] = {}

        def build(snap: Snapshot | None) -> tuple[RootMetadata, EncodedObjects]:
            if snap is None:
                raise ConcurrentWriteError(
                    f"{backend.url}: the store was removed while the batches were spilled; "
                    "nothing was written"
                )
            gen = snap.meta.generation
            if gen not in grown:
                now = docs
                if gen != snap0.meta.generation:
                    now = level_docs(snap)
                    check_appendable(snap.meta, geometry_type, None, chunk_shape)
                    if _kinds(now) != _kinds(docs) or not tally.still_holds(snap, now):
                        raise ConcurrentWriteError(
                            f"{backend.url}: another writer added to the cells these batches "
                            "touch while they were spilled; nothing was written: append them "
                            "again"
                        )
                grown.clear()
                grown[gen] = grow_from_stream(snap, now, stream)
            meta = ObjectRootMetadata(
                **{**snap.meta.__dict__, "links_convention": links_convention}
            )
            return meta, grown[gen]

        return commit_objects(
            backend, "a", build, consolidate=consolidate, lock_timeout=lock_timeout
        )

"""What the geometry types made of objects share: results, the write path, the read path.

Lines, polylines and streamlines, graphs and skeletons (and meshes later) all
store objects that cross cells (:mod:`zarr_vectors.format.objects`). Each type
module turns its input into an :class:`~zarr_vectors.format.objects.ObjectLevel`
and its reads into its own result; the steps in between are here: resolve the
store once, check the layout arguments before anything is opened, commit under
the lease (:mod:`zarr_vectors.format.objcommit`), read a snapshot (again, if it
was replaced meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ConcurrentWriteError, StaleSnapshotError, ValidationError
from zarr_vectors.format.cells import codec_chain
from zarr_vectors.format.metadata import validate_bounds, validate_chunk_shape
from zarr_vectors.format.objappend import (
    append_stream,
    check_appendable,
    grow_level,
    shard_shape_of,
)
from zarr_vectors.format.objcommit import ObjectRootMetadata, commit_objects
from zarr_vectors.format.objects import EncodedObjects, ObjectLevel, encode_objects
from zarr_vectors.format.objgrow import CannotGrow
from zarr_vectors.format.objread import CellDecoder, ObjectData, group_members, read_objects
from zarr_vectors.format.sharding import validate_shard_shape
from zarr_vectors.format.snapshot import Snapshot, load_snapshot
from zarr_vectors.format.validate import check_bbox, check_inside, check_level, data_bounds
from zarr_vectors.store.location import StoreLocation
from zarr_vectors.store.modes import check_mode

__all__ = ["ObjectResult", "read_store", "write_store", "write_stream"]

Box = tuple[Sequence[float], Sequence[float]]
WRITE_MODES = ("w-", "w", "a")
_READ_ATTEMPTS = 3
NEED_CHUNK_SHAPE = "chunk_shape is required to create a store, e.g. chunk_shape=(200.0,) * 3"


class ObjectResult:
    """Base of the curve results: dict-style keys as 0.9.2 returns them, plus attributes."""

    _keys: tuple[str, ...] = ()
    _title = "objects"

    def __getitem__(self, key: str) -> Any:
        if key in self._keys:
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> list[str]:
        """The result's keys (as 0.9.2's result dict has them)."""
        return list(self._keys)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self._keys else default

    # Subclasses give the vertices as one array with the object of each.
    def _vertex_table(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], dict[str, Any]]:
        raise NotImplementedError

    def to_pandas(self, axes: Sequence[str] | None = None) -> Any:
        """A ``pandas.DataFrame`` of vertices: ``object_id``, one column per axis and attribute."""
        pd = require("pandas", feature=f"{type(self).__name__}.to_pandas()", extra="io")
        pos, owner, attrs = self._vertex_table()
        ndim = pos.shape[1]
        names = (
            list(axes)
            if axes is not None
            else list("xyzw"[:ndim]) + [f"axis_{i}" for i in range(4, ndim)]
        )
        if len(names) != ndim:
            raise ValidationError(f"axes names {names} do not match the {ndim} axes")
        cols: dict[str, Any] = {"object_id": owner}
        cols.update({n: pos[:, i] for i, n in enumerate(names)})
        for name, values in attrs.items():
            values = np.asarray(values)
            if values.ndim == 1:
                cols[name] = values
            else:
                flat = values.reshape(len(values), -1)
                cols.update({f"{name}_{i}": flat[:, i] for i in range(flat.shape[1])})
        return pd.DataFrame(cols)

    def _summary(self) -> list[tuple[str, str]]:
        return []

    def _repr_html_(self) -> str:
        pos, _, attrs = self._vertex_table()
        rows = self._summary()
        rows.append(("vertices", f"{len(pos):,}"))
        if len(pos):
            lo, hi = pos.min(axis=0).tolist(), pos.max(axis=0).tolist()
            rows.append(("extent", f"{[round(v, 3) for v in lo]} .. {[round(v, 3) for v in hi]}"))
        for name, values in attrs.items():
            v = np.asarray(values)
            rows.append((f"attribute {name}", f"{v.dtype}, shape {list(v.shape[1:])}"))
        body = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>{escape(type(self).__name__)}</caption>{body}</table>"


@dataclass(frozen=True)
class LayoutArgs:
    """The layout arguments of a write, checked before the store is opened."""

    chunk_shape: tuple[float, ...] | None
    bounds: Box | None
    codecs: list[dict[str, Any]]
    index_codecs: list[dict[str, Any]]
    shard_shape: tuple[int, ...] | None


def check_layout(
    mode: str,
    ndim: int,
    chunk_shape: Any,
    bounds: Any,
    compressor: Any,
    checksum: bool,
    shard_shape: Any,
) -> LayoutArgs:
    check_mode(mode, WRITE_MODES)
    cs = None
    if chunk_shape is not None or mode != "a":
        cs = validate_chunk_shape(chunk_shape)
        if len(cs) != ndim:
            raise ValidationError(
                f"chunk_shape has {len(cs)} values but the vertices have {ndim} axes"
            )
    if bounds is not None:
        validate_bounds(bounds, ndim)
    shards = None if shard_shape is None else validate_shard_shape(shard_shape, ndim)
    tail = [{"name": "crc32c", "configuration": {}}] if checksum else []
    return LayoutArgs(cs, bounds, codec_chain(compressor, checksum=bool(checksum)), tail, shards)


def write_store(
    store: Any,
    level: ObjectLevel,
    *,
    mode: str,
    layout: LayoutArgs,
    geometry_type: str,
    links_convention: str,
    merge: Callable[[ObjectData, Snapshot, ObjectLevel], ObjectLevel] | None = None,
    axes: Sequence[Any] | None = None,
    consolidate: bool = True,
    lock_timeout: float | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: Any = None,
    backend_kwargs: Mapping[str, Any] | None = None,
    caller: Callable[..., Any] | None = None,
    encoder: Callable[..., EncodedObjects] = encode_objects,
    cell_decoders: Mapping[str, CellDecoder] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> EncodedObjects:
    """Commit ``level`` as level 0 of the store (created, replaced or appended to).

    ``metadata`` adds keys to the root ``zarr_vectors`` attributes of a new
    store (e.g. a tractogram file's header under ``"trk"``); an append keeps
    the store's own.

    ``encoder`` (default :func:`encode_objects`) makes the level's chunks, for a
    geometry that encodes its cells its own way; ``cell_decoders`` reads such
    cells back when appending.
    """
    ndim = level.positions.shape[1]

    def meta_for(
        pos: npt.NDArray[Any], cs: Sequence[float], box: Box | None, ax: Any
    ) -> ObjectRootMetadata:
        if box is None:
            if not len(pos):
                raise ValidationError(
                    "cannot take bounds from zero vertices: pass bounds=(min, max)"
                )
            box = data_bounds(pos)
        base = ObjectRootMetadata.build(
            chunk_shape=cs, bounds=box, axes=ax, geometry_types=(geometry_type,)
        )
        extra = {**base.extra, **dict(metadata or {})}
        meta = ObjectRootMetadata(
            **{**base.__dict__, "links_convention": links_convention, "extra": extra}
        )
        check_inside(pos, meta, append=False)
        return meta

    fresh = None
    if mode != "a":
        assert layout.chunk_shape is not None
        fresh = meta_for(level.positions, layout.chunk_shape, layout.bounds, axes)

    grown: dict[int, EncodedObjects] = {}

    def build(snap: Snapshot | None) -> tuple[ObjectRootMetadata, EncodedObjects]:
        if snap is None:
            if fresh is None:  # appending to nothing: create
                if layout.chunk_shape is None:
                    raise ValidationError(NEED_CHUNK_SHAPE)
                meta = meta_for(level.positions, layout.chunk_shape, layout.bounds, axes)
            else:
                meta = fresh
            lvl = level
        else:
            check_appendable(snap.meta, geometry_type, ndim, layout.chunk_shape)
            check_inside(level.positions, snap.meta, append=True)
            if merge is None:
                raise ValidationError(f"appending is not supported for {geometry_type}")
            meta = ObjectRootMetadata(
                **{**snap.meta.__dict__, "links_convention": links_convention}
            )
            if encoder is encode_objects and len(snap.meta.levels) == 1:
                try:  # only the touched cells and the object index change
                    # Built once per committed state: the check before the lease and
                    # the write under it see the same generation unless one committed.
                    gen = snap.meta.generation
                    if gen not in grown:
                        grown.clear()
                        grown[gen] = grow_level(snap, level)
                    return meta, grown[gen]
                except CannotGrow:
                    pass  # a store the join cannot extend: the level is rewritten
            old = read_objects(snap, 0, links=True, cell_decoders=cell_decoders)
            lvl = merge(old, snap, level)
        shard = layout.shard_shape
        if snap is not None and shard is None:
            shard = shard_shape_of(snap.node("0/vertices"))
        return meta, encoder(
            lvl, meta, codecs=layout.codecs, index_codecs=layout.index_codecs, shard_shape=shard
        )

    loc = StoreLocation.of(
        store,
        backend=backend,
        storage_options=storage_options,
        backend_kwargs=backend_kwargs,
        caller=caller,
    )
    with loc.open("w") as target:
        return commit_objects(
            target, mode, build, consolidate=consolidate, lock_timeout=lock_timeout
        )


def write_stream(
    store: Any,
    batches: Iterable[ObjectLevel],
    *,
    mode: str,
    layout: LayoutArgs,
    geometry_type: str,
    links_convention: str,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
    axes: Sequence[Any] | None = None,
    consolidate: bool = True,
    lock_timeout: float | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: Any = None,
    backend_kwargs: Mapping[str, Any] | None = None,
    caller: Callable[..., Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> EncodedObjects:
    """Commit a level written from ``batches`` of whole objects (larger than memory).

    Every batch is checked and spilled (:class:`~zarr_vectors.format.objstream.ObjectStream`)
    before the store is written, so bad input anywhere in the stream leaves the
    store untouched; then one commit writes it all, as :func:`write_store` does.
    An append to a store that exists is :func:`~zarr_vectors.format.objappend.append_stream`.
    """
    from zarr_vectors.format.objstream import ObjectStream
    from zarr_vectors.format.spill import check_budget
    from zarr_vectors.format.transaction import current_store

    budget = 1 << 30 if memory_limit is None else check_budget(memory_limit)
    loc = StoreLocation.of(
        store,
        backend=backend,
        storage_options=storage_options,
        backend_kwargs=backend_kwargs,
        caller=caller,
    )
    if mode == "a":
        with loc.open("w") as target:
            snap = current_store(target, "a")
            if snap is not None:
                return append_stream(
                    target,
                    snap,
                    batches,
                    geometry_type=geometry_type,
                    links_convention=links_convention,
                    chunk_shape=layout.chunk_shape,
                    budget=budget,
                    directory=spill_dir,
                    consolidate=consolidate,
                    lock_timeout=lock_timeout,
                )
        if layout.chunk_shape is None:  # appending to nothing: create
            raise ValidationError(NEED_CHUNK_SHAPE)
    if layout.bounds is None:
        raise ValidationError(
            "writing from an iterator of batches needs bounds=((min...), (max...)): the "
            "batches are read once, so their extent is not known before the cells are made"
        )
    assert layout.chunk_shape is not None
    base = ObjectRootMetadata.build(
        chunk_shape=layout.chunk_shape,
        bounds=layout.bounds,
        axes=axes,
        geometry_types=(geometry_type,),
    )
    extra = {**base.extra, **dict(metadata or {})}
    meta = ObjectRootMetadata(
        **{**base.__dict__, "links_convention": links_convention, "extra": extra}
    )

    def build(snap: Snapshot | None) -> tuple[ObjectRootMetadata, EncodedObjects]:
        if snap is not None:  # mode "a": a store was created meanwhile; never replace it
            raise ConcurrentWriteError(
                f"{snap.backend.url}: another writer created the store while the batches "
                "were spilled; nothing was written: append them again"
            )
        return meta, enc

    with ObjectStream(
        meta,
        codecs=layout.codecs,
        index_codecs=layout.index_codecs,
        shard_shape=layout.shard_shape,
        budget=budget,
        directory=spill_dir,
    ) as stream:
        for batch in batches:
            stream.add(batch)
        enc = stream.finish()
        with loc.open("w") as target:
            return commit_objects(
                target, mode, build, consolidate=consolidate, lock_timeout=lock_timeout
            )


def objects_as_dask(
    store: Any,
    caller: Callable[..., Any],
    *,
    level: int,
    object_ids: Any,
    attribute_names: Sequence[str] | None,
    storage_options: Mapping[str, Any] | None,
    backend: str | None,
    backend_kwargs: Mapping[str, Any],
    selected_otherwise: bool,
) -> Any:
    """``as_dask=True`` of every object type: a lazy Dask DataFrame of the vertices.

    ``selected_otherwise`` says the caller also asked for a box or groups, which
    the Dask read does not take (it selects by ``object_ids`` only).
    """
    from zarr_vectors.dask.objects import objects_frame

    if selected_otherwise:
        raise ValidationError(
            "as_dask=True reads objects by object_ids only (no bbox or group_ids); "
            "drop them, or read without as_dask"
        )
    return objects_frame(
        store,
        level=level,
        object_ids=object_ids,
        attribute_names=attribute_names,
        storage_options=storage_options,
        backend=backend,
        backend_kwargs=backend_kwargs,
        caller=caller,
    )


def read_store(
    store: Any,
    *,
    level: int,
    bbox: Any,
    object_ids: Any,
    group_ids: Any = None,
    attribute_names: Sequence[str] | None = None,
    links: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    backend: Any = None,
    backend_kwargs: Mapping[str, Any] | None = None,
    caller: Callable[..., Any] | None = None,
    cell_decoders: Mapping[str, CellDecoder] | None = None,
) -> tuple[ObjectData, Snapshot]:
    """Objects read from a fresh snapshot (taken again if the store was replaced meanwhile)."""
    level = check_level(level)
    box = None if bbox is None else check_bbox(bbox)
    ids = None if object_ids is None else _ids(object_ids, "object_ids")
    gids = None if group_ids is None else _ids(group_ids, "group_ids")
    loc = StoreLocation.of(
        store,
        backend=backend,
        storage_options=storage_options,
        backend_kwargs=backend_kwargs,
        caller=caller,
    )
    with loc.open("r") as source:
        for attempt in range(_READ_ATTEMPTS):
            snap = load_snapshot(source)
            try:
                if box is not None:
                    box = check_bbox(box, snap.meta.ndim)
                want = ids
                if gids is not None:
                    members = group_members(snap, level, gids)
                    want = members if want is None else np.intersect1d(members, want)
                data = read_objects(
                    snap,
                    level,
                    object_ids=want,
                    bbox=box,
                    attribute_names=attribute_names,
                    links=links,
                    cell_decoders=cell_decoders,
                )
                if box is not None:
                    data = _objects_in_box(data, box)
                snap.appends_since()  # a replace committed meanwhile: read again
                return data, snap
            except StaleSnapshotError:
                if attempt + 1 == _READ_ATTEMPTS:
                    raise
    raise AssertionError("unreachable")


def _ids(values: Any, what: str) -> npt.NDArray[np.int64]:
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValidationError(f"{what} must be a list of integer ids, got {values!r:.80}")
    return arr.astype(np.int64)


def _objects_in_box(data: ObjectData, box: Box) -> ObjectData:
    """Only the objects with a vertex inside the closed box (whole, not clipped)."""
    lo, hi = np.asarray(box[0]), np.asarray(box[1])
    inside = np.all((data.positions >= lo) & (data.positions <= hi), axis=1)
    owner = np.repeat(np.arange(len(data.object_ids)), np.diff(data.offsets))
    hit = np.zeros(len(data.object_ids), dtype=bool)
    hit[owner[inside]] = True
    if hit.all():
        return data
    keep_v = hit[owner]
    remap = np.full(len(keep_v), -1, dtype=np.int64)
    remap[keep_v] = np.arange(int(keep_v.sum()))
    lens = np.diff(data.offsets)[hit]
    links = remap[data.links] if len(data.links) else data.links
    lk = (links >= 0).all(axis=1) if len(links) else np.zeros(0, bool)
    return ObjectData(
        positions=data.positions[keep_v],
        object_ids=data.object_ids[hit],
        offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        attributes={k: v[keep_v] for k, v in data.attributes.items()},
        fragment_start=data.fragment_start[keep_v],
        links=links[lk],
        link_attributes={k: v[lk] for k, v in data.link_attributes.items()},
        object_attributes={k: v[hit] for k, v in data.object_attributes.items()},
        cells_read=data.cells_read,
    )


def check_object_attributes(
    attrs: Mapping[str, Any] | None, n: int, what: str = "object"
) -> dict[str, npt.NDArray[Any]]:
    """Per-object (or per-link, per-group) columns: ``n`` rows each, numeric or bool."""
    from zarr_vectors.format.validate import check_attribute_name

    out = {}
    for name, values in (attrs or {}).items():
        check_attribute_name(name)
        arr = np.asarray(values)
        if arr.ndim == 0 or len(arr) != n:
            got = "a scalar" if arr.ndim == 0 else f"{len(arr)} values"
            raise ValidationError(
                f"{what} attribute {name!r} has {got} but there are {n} {what}s; give one per "
                f"{what}"
            )
        if arr.dtype.kind not in "biuf":
            raise ValidationError(
                f"{what} attribute {name!r} has dtype {arr.dtype}; only numeric and bool are stored"
            )
        out[name] = np.ascontiguousarray(
            arr, dtype=arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        )
    return out


def check_groups(groups: Any, ids: npt.NDArray[np.int64]) -> list[npt.NDArray[np.int64]] | None:
    """``{group_id: [object ids]}`` with ids 0..G-1 as a list of member arrays."""
    if groups is None:
        return None
    if not isinstance(groups, Mapping):
        raise ValidationError("groups must be a dict {group_id: [object ids]}")
    try:
        keys = sorted(int(k) for k in groups)
    except (TypeError, ValueError):
        raise ValidationError("group ids (the keys of groups) must be integers") from None
    if keys and (keys[0] < 0):
        raise ValidationError(f"group ids must be >= 0, got {keys[0]}")
    by_key = {int(k): v for k, v in groups.items()}
    out = []
    for g in range((keys[-1] + 1) if keys else 0):
        members = np.asarray(list(by_key.get(g, [])), dtype=np.int64)
        unknown = members[~np.isin(members, ids)]
        if len(unknown):
            raise ValidationError(
                f"group {g} names object ids {unknown[:5].tolist()} that are not written"
            )
        out.append(members)
    return out


def merge_levels(
    old: ObjectData, snap: Snapshot, new: ObjectLevel, _relink: Any = None
) -> ObjectLevel:
    """The committed objects (``old``, links in full) and ``new`` as one level, rows by id.

    Refused (before anything is written) when an id repeats, when the
    attribute names differ, or when groups are involved.
    """
    dup = np.intersect1d(old.object_ids, new.object_ids)
    if dup.size:
        raise ValidationError(
            f"object id {int(dup[0])} is already in the store; appended objects need new ids"
        )
    for what, a, b in (
        ("vertex", old.attributes, new.attributes),
        ("object", old.object_attributes, new.object_attributes),
        ("link", old.link_attributes, new.link_attributes),
    ):
        if sorted(a) != sorted(b) and (len(old.positions) or a):
            raise ValidationError(
                f"the store's {what} attributes are {sorted(a)} but the appended ones are "
                f"{sorted(b)}; give the same attributes when appending"
            )
    if new.groups is not None or snap.node("0/groups") is not None:
        raise ValidationError(
            "appending to or with groups is not supported; rewrite the store with mode='w'"
        )
    k_old, n_old = len(old.object_ids), len(old.positions)
    ids = np.concatenate([old.object_ids, new.object_ids])
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    rows = rank[
        np.concatenate([np.repeat(np.arange(k_old), np.diff(old.offsets)), new.object_row + k_old])
    ]
    order = np.argsort(rows, kind="stable")
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    old_links = old.links if len(old.links) else np.zeros((0, 2), np.int64)
    new_links = new.links if new.links is not None else np.zeros((0, old_links.shape[1]), np.int64)
    links = (
        where[np.concatenate([old_links, new_links + n_old])]
        if len(old_links) + len(new_links)
        else None
    )

    def cat(a: Mapping[str, Any], b: Mapping[str, Any], take: Any) -> dict[str, Any]:
        return {k: np.concatenate([a[k], np.asarray(b[k]).astype(a[k].dtype)])[take] for k in b}

    obj_order = np.argsort(ids, kind="stable")
    return ObjectLevel(
        positions=np.concatenate([old.positions, new.positions.astype(old.positions.dtype)])[order],
        object_row=rows[order],
        object_ids=ids[obj_order],
        split=new.split,
        attributes=cat(old.attributes, new.attributes, order),
        links=links,
        link_attributes=cat(old.link_attributes, new.link_attributes, slice(None)),
        object_attributes=cat(old.object_attributes, new.object_attributes, obj_order),
        implicit_chain=new.implicit_chain,
        cross_only=new.cross_only,
        arrays_present=new.arrays_present,
    )

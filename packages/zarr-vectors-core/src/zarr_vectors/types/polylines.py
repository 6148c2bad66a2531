"""Polylines and streamlines: :func:`write_polylines` and :func:`read_polylines`.

A polyline is an ordered sequence of vertices; a streamline (tractography)
is a polyline with the geometry type ``"streamline"``. Each polyline is an
object: its vertices are split where it leaves a cell, each run stored as a
fragment of the cell it lies in, the object manifest lists the runs in order
and a link joins the last vertex of one run to the first of the next (the
layout of the published 0.9.2, see :mod:`zarr_vectors.format.objects`).
Polylines come back whole and in order, vertices in their direction.
The user guide is ``docs/polylines.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.batches import is_stream
from zarr_vectors.format.objects import ObjectLevel
from zarr_vectors.format.objread import ObjectData
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.format.validate import check_attribute_name, check_positions
from zarr_vectors.store.location import StoreLike
from zarr_vectors.types._objects import (
    ObjectResult,
    check_groups,
    check_layout,
    check_object_attributes,
    objects_as_dask,
    read_store,
    write_store,
    write_stream,
)
from zarr_vectors.types._write_options import WriteOptions

__all__ = ["Polylines", "read_polylines", "write_polylines"]

Box = tuple[Sequence[float], Sequence[float]]
GEOMETRY_TYPES = ("polyline", "streamline")
#: Root attributes of the format itself, not a file's metadata.
_CONVENTIONS = ("links_convention", "object_index_convention", "cross_chunk_strategy")


@dataclass
class Polylines(ObjectResult):
    """Polylines read from a store; also indexable like 0.9.2's dict (``r["polylines"]``)."""

    polylines: list[npt.NDArray[Any]]
    object_ids: npt.NDArray[np.int64]
    vertex_attributes: dict[str, list[npt.NDArray[Any]]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    ndim: int = 3
    #: Root attributes a file format left (e.g. a TRK header under ``"trk"``).
    metadata: dict[str, Any] = field(default_factory=dict)
    _keys = (
        "polylines",
        "object_ids",
        "vertex_attributes",
        "object_attributes",
        "ndim",
        "polyline_count",
        "vertex_count",
    )
    _title = "polylines"

    @property
    def polyline_count(self) -> int:
        return len(self.polylines)

    @property
    def vertex_count(self) -> int:
        return int(sum(len(p) for p in self.polylines))

    def __len__(self) -> int:
        return self.polyline_count

    def _vertex_table(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], dict[str, Any]]:
        pos = (
            np.concatenate(self.polylines)
            if self.polylines
            else np.empty((0, self.ndim), np.float32)
        )
        owner = np.repeat(self.object_ids, [len(p) for p in self.polylines])
        attrs = {k: np.concatenate(v) for k, v in self.vertex_attributes.items() if v}
        return pos, owner, attrs

    def _summary(self) -> list[tuple[str, str]]:
        return [("polylines", f"{self.polyline_count:,}")]


@dataclass(frozen=True)
class WriteSummary:
    """What :func:`write_polylines` wrote (keys as 0.9.2's summary, by attribute)."""

    polyline_count: int
    vertex_count: int
    chunk_count: int
    mode: str


def _check(polylines: Any, dtype: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    if isinstance(polylines, np.ndarray) and polylines.dtype != object:
        raise ValidationError("polylines must be a list of (n_k, D) arrays, one per polyline")
    try:
        parts = [np.asarray(p) for p in polylines]
    except TypeError:
        raise ValidationError(
            "polylines must be a list of (n_k, D) arrays, one per polyline"
        ) from None
    if not parts:
        raise ValidationError("polylines is empty: give at least one polyline")
    for i, p in enumerate(parts):
        if p.ndim != 2:
            raise ValidationError(f"polyline {i} has shape {p.shape}; each must be (n_k, D)")
        if len(p) < 2:
            raise ValidationError(
                f"polyline {i} has {len(p)} vertices; a polyline needs at least 2"
            )
        if p.shape[1] != parts[0].shape[1]:
            raise ValidationError(
                f"polyline {i} has {p.shape[1]} axes, polyline 0 has {parts[0].shape[1]}"
            )
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    return check_positions(np.concatenate(parts), dtype), lengths


def _per_vertex(
    values: Mapping[str, Any] | None, lengths: npt.NDArray[np.int64]
) -> dict[str, npt.NDArray[Any]]:
    out = {}
    for name, v in (values or {}).items():
        check_attribute_name(name)
        try:
            parts = [np.asarray(x) for x in v]
        except TypeError:
            raise ValidationError(
                f"vertex attribute {name!r} must be a list of arrays, one per polyline"
            ) from None
        if len(parts) != len(lengths):
            raise ValidationError(
                f"vertex attribute {name!r} has {len(parts)} arrays but there are {len(lengths)} "
                f"polylines"
            )
        for i, (p, n) in enumerate(zip(parts, lengths.tolist(), strict=True)):
            if p.ndim == 0 or len(p) != n:
                raise ValidationError(
                    f"vertex attribute {name!r} of polyline {i} has "
                    f"{0 if p.ndim == 0 else len(p)} values for {n} vertices"
                )
        col = np.concatenate(parts)
        if col.dtype.kind not in "biuf":
            raise ValidationError(
                f"vertex attribute {name!r} has dtype {col.dtype}; only numeric and bool are stored"
            )
        out[name] = np.ascontiguousarray(col)
    return out


def polyline_level(
    positions: npt.NDArray[Any],
    lengths: npt.NDArray[np.int64],
    ids: npt.NDArray[np.int64],
    **kw: Any,
) -> ObjectLevel:
    """The objects of polylines given back to back (``lengths`` vertices each)."""
    row = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    ends = np.cumsum(lengths)
    # A link joins consecutive vertices of one polyline that lie in different cells;
    # which ones do is decided once cells are known, so every step is offered.
    step = np.arange(len(positions) - 1, dtype=np.int64)
    step = step[~np.isin(step + 1, ends)]
    return ObjectLevel(
        positions=positions,
        object_row=row,
        object_ids=ids,
        split="runs",
        links=np.stack([step, step + 1], axis=1),
        cross_only=True,
        **kw,
    )


def write_polylines(
    store: StoreLike,
    polylines: Sequence[Any] | Iterable[Any],
    *,
    chunk_shape: Sequence[float] | None = None,
    bounds: Box | None = None,
    vertex_attributes: Mapping[str, Sequence[Any]] | None = None,
    object_attributes: Mapping[str, Any] | None = None,
    groups: Mapping[int, Sequence[int]] | None = None,
    group_attributes: Mapping[str, Any] | None = None,
    object_ids: Sequence[int] | None = None,
    geometry_type: str = "streamline",
    dtype: Any = "float32",
    compressor: str | dict[str, Any] | None = None,
    shard_shape: int | Sequence[int] | None = None,
    mode: str = "w-",
    checksum: bool = True,
    consolidate: bool = True,
    axes: Sequence[Any] | None = None,
    lock_timeout: float | None = None,
    metadata: Mapping[str, Any] | None = None,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> WriteSummary:
    """Write polylines (a list of ``(n_k, D)`` arrays) to ``store``.

    ``vertex_attributes`` are lists of arrays matching ``polylines``;
    ``object_attributes`` one value per polyline; ``groups`` maps a group id
    (0, 1, ...) to the ids of its polylines. Polyline ``i`` gets object id
    ``i`` unless ``object_ids`` (unique, one per polyline) says otherwise.
    ``mode`` is ``"w-"`` (create), ``"w"`` (replace) or ``"a"`` (append whole
    polylines: their ids must be new). Bad input raises
    :class:`~zarr_vectors.exceptions.ValidationError` before anything is written.

    ``polylines`` may be larger than memory: an iterator (or generator) of
    batches, each a list of polylines or a dict with ``polylines`` and that
    batch's ``vertex_attributes``, ``object_attributes`` and ``object_ids``
    (polylines without ids are numbered on across batches). Batches need
    ``bounds=``; each is encoded on its own and its cells spilled to
    ``spill_dir`` (default the system's temporary directory), then one commit
    joins them, ``memory_limit`` bytes of cells at a time (default 1 GiB). The
    whole stream is checked before the store is touched.
    """
    if geometry_type not in GEOMETRY_TYPES:
        raise ValidationError(
            f"geometry_type must be 'polyline' or 'streamline', got {geometry_type!r}"
        )
    options = WriteOptions(
        mode, axes, consolidate, lock_timeout, storage_options, backend, backend_kwargs
    )
    common = options.keywords(write_polylines, geometry_type, "implicit_sequential", metadata)
    if is_stream(polylines, None) and not isinstance(polylines, np.ndarray):
        if vertex_attributes or object_attributes or object_ids is not None or groups:
            raise ValidationError(
                "with batches, give vertex_attributes, object_attributes and object_ids in each "
                "batch (a dict with those keys and 'polylines'); groups need them in memory"
            )
        ndim = len(bounds[0]) if bounds is not None else len(chunk_shape or ())
        layout = check_layout(mode, ndim, chunk_shape, bounds, compressor, checksum, shard_shape)
        seen = [0, 0]  # polylines, vertices: what this write adds (an append's too)

        def counted() -> Iterator[ObjectLevel]:
            for level in _batches(polylines, dtype):
                seen[0] += len(level.object_ids)
                seen[1] += len(level.positions)
                yield level

        enc = write_stream(
            store,
            counted(),
            layout=layout,
            memory_limit=memory_limit,
            spill_dir=spill_dir,
            **common,
        )
        return WriteSummary(seen[0], seen[1], enc.cells, mode)
    level = _polyline_objects(
        polylines, dtype, vertex_attributes, object_attributes, object_ids, groups, group_attributes
    )
    layout = check_layout(
        mode, level.positions.shape[1], chunk_shape, bounds, compressor, checksum, shard_shape
    )
    enc = write_store(store, level, layout=layout, merge=_merge, **common)
    return WriteSummary(len(level.object_ids), len(level.positions), enc.cells, mode)


def _polyline_objects(
    polylines: Any,
    dtype: Any,
    vertex_attributes: Mapping[str, Sequence[Any]] | None,
    object_attributes: Mapping[str, Any] | None,
    object_ids: Any,
    groups: Mapping[int, Sequence[int]] | None = None,
    group_attributes: Mapping[str, Any] | None = None,
    first_id: int = 0,
) -> ObjectLevel:
    """Polylines checked and laid out as objects, rows by ascending id."""
    pos, lengths = _check(polylines, dtype)
    ids = _object_ids(object_ids, len(lengths))
    if object_ids is None:
        ids += first_id
    order = np.argsort(ids, kind="stable")
    attrs = _per_vertex(vertex_attributes, lengths)
    oattrs = check_object_attributes(object_attributes, len(lengths), "polyline")
    grp = check_groups(groups, ids)
    gattrs = check_object_attributes(group_attributes, len(grp or []), "group")
    if not np.array_equal(order, np.arange(len(ids))):  # rows go by ascending id
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        take = np.concatenate(
            [np.arange(starts[i], starts[i] + lengths[i]) for i in order.tolist()]
        )
        pos, lengths, ids = pos[take], lengths[order], ids[order]
        attrs = {k: v[take] for k, v in attrs.items()}
        oattrs = {k: v[order] for k, v in oattrs.items()}
    return polyline_level(
        pos,
        lengths,
        ids,
        attributes=attrs,
        object_attributes=oattrs,
        groups=grp,
        group_attributes=gattrs,
    )


def _batches(items: Any, dtype: Any) -> Iterator[ObjectLevel]:
    """Each batch (a list of polylines, or a dict with ``polylines`` and per-batch
    ``vertex_attributes``, ``object_attributes``, ``object_ids``) as objects; polylines
    without ids are numbered on from the batches before."""
    next_id = 0
    for item in items:
        if isinstance(item, Mapping):
            unknown = set(item) - {
                "polylines",
                "vertex_attributes",
                "object_attributes",
                "object_ids",
            }
            if unknown or "polylines" not in item:
                raise ValidationError(
                    "a batch dict needs 'polylines' and may have 'vertex_attributes', "
                    f"'object_attributes', 'object_ids'; got {sorted(item)}"
                )
            level = _polyline_objects(
                item["polylines"],
                dtype,
                item.get("vertex_attributes"),
                item.get("object_attributes"),
                item.get("object_ids"),
                first_id=next_id,
            )
        else:
            level = _polyline_objects(item, dtype, None, None, None, first_id=next_id)
        next_id = max(next_id, int(level.object_ids.max()) + 1)
        yield level


def _object_ids(object_ids: Any, n: int) -> npt.NDArray[np.int64]:
    if object_ids is None:
        return np.arange(n, dtype=np.int64)
    ids = np.asarray(object_ids)
    if ids.shape != (n,) or (ids.size and ids.dtype.kind not in "iu"):
        raise ValidationError(f"object_ids must be {n} integers, one per polyline")
    ids = ids.astype(np.int64)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValidationError(
            f"object id {int(uniq[counts > 1][0])} is given to more than one polyline; ids must "
            f"be unique"
        )
    return ids


def _merge(old: ObjectData, snap: Snapshot, new: ObjectLevel) -> ObjectLevel:
    """The committed polylines and the new ones, by ascending id (new ids must be new)."""
    from zarr_vectors.types._objects import merge_levels

    return merge_levels(old, snap, new)


def read_polylines(
    store: StoreLike,
    *,
    level: int = 0,
    object_ids: Sequence[int] | None = None,
    group_ids: Sequence[int] | None = None,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    as_dask: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Polylines | Any:
    """Read polylines whole, each a ``(n_k, D)`` array in its stored order and direction.

    ``object_ids`` and ``group_ids`` select polylines (only the cells they touch
    are fetched); ``bbox`` returns every polyline with a vertex in the closed
    box, whole (not clipped). ``attribute_names`` limits the vertex attributes
    read (``[]``: none).

    ``as_dask=True`` returns a lazy Dask DataFrame of the vertices with their
    ``object_id`` instead (:func:`zarr_vectors.dask.objects.objects_frame`).
    """
    if as_dask:
        return objects_as_dask(
            store,
            read_polylines,
            level=level,
            object_ids=object_ids,
            attribute_names=attribute_names,
            storage_options=storage_options,
            backend=backend,
            backend_kwargs=backend_kwargs,
            selected_otherwise=bbox is not None or group_ids is not None,
        )
    data, snap = read_store(
        store,
        level=level,
        bbox=bbox,
        object_ids=object_ids,
        group_ids=group_ids,
        attribute_names=attribute_names,
        storage_options=storage_options,
        backend=backend,
        backend_kwargs=backend_kwargs,
        caller=read_polylines,
    )
    cuts = data.offsets[1:-1]
    return Polylines(
        polylines=np.split(data.positions, cuts) if len(data.object_ids) else [],
        object_ids=data.object_ids,
        vertex_attributes={
            k: np.split(v, cuts) if len(data.object_ids) else [] for k, v in data.attributes.items()
        },
        object_attributes=data.object_attributes,
        ndim=data.positions.shape[1],
        metadata={k: v for k, v in snap.meta.extra.items() if k not in _CONVENTIONS},
    )

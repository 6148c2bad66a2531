"""Line segments: :func:`write_lines` and :func:`read_lines`.

Each line is an object of two vertices. A line inside one cell is one
fragment of that cell; a line crossing a cell border is two one-vertex
fragments, one in each cell, joined by a link (the published 0.9.2 layout).
Lines come back whole with their endpoints in the order written.
The user guide is ``docs/lines.md``.
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
from zarr_vectors.format.validate import check_attribute_name, check_positions
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
from zarr_vectors.types.polylines import polyline_level

__all__ = ["Lines", "read_lines", "write_lines"]

Box = tuple[Sequence[float], Sequence[float]]


@dataclass
class Lines(ObjectResult):
    """Lines read from a store; also indexable like 0.9.2's dict (``r["endpoints"]``).

    ``vertex_attributes`` hold ``(N, 2, ...)`` arrays: the values at each endpoint.
    """

    endpoints: npt.NDArray[Any]
    object_ids: npt.NDArray[np.int64]
    vertex_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    object_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    _keys = ("endpoints", "object_ids", "vertex_attributes", "object_attributes", "line_count")

    @property
    def line_count(self) -> int:
        return len(self.endpoints)

    def __len__(self) -> int:
        return self.line_count

    def _vertex_table(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], dict[str, Any]]:
        n, _, d = self.endpoints.shape
        attrs = {k: v.reshape(2 * n, *v.shape[2:]) for k, v in self.vertex_attributes.items()}
        return self.endpoints.reshape(2 * n, d), np.repeat(self.object_ids, 2), attrs

    def _summary(self) -> list[tuple[str, str]]:
        return [("lines", f"{self.line_count:,}")]


@dataclass(frozen=True)
class WriteSummary:
    """What :func:`write_lines` wrote."""

    line_count: int
    chunk_count: int
    mode: str


def write_lines(
    store: StoreLike,
    endpoints: Any,
    *,
    chunk_shape: Sequence[float] | None = None,
    bounds: Box | None = None,
    vertex_attributes: Mapping[str, Any] | None = None,
    object_attributes: Mapping[str, Any] | None = None,
    object_ids: Sequence[int] | None = None,
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
    """Write ``endpoints`` (``(N, 2, D)``: N lines of two endpoints) to ``store``.

    ``vertex_attributes`` are ``(N, 2)`` or ``(N, 2, C)`` (a value per
    endpoint); ``object_attributes`` ``(N,)`` or ``(N, C)`` (a value per line).
    Line ``i`` gets object id ``i`` unless ``object_ids`` says otherwise.
    ``mode`` is ``"w-"``, ``"w"`` or ``"a"`` (append whole lines with new ids).

    ``endpoints`` may be an iterator of batches, each an ``(N, 2, D)`` array or
    a dict with ``endpoints`` and that batch's ``vertex_attributes``,
    ``object_attributes`` and ``object_ids`` (lines without ids are numbered on
    across batches); they are spilled and joined as for
    :func:`~zarr_vectors.types.polylines.write_polylines` (``bounds=`` to
    create a store, ``memory_limit``, ``spill_dir``), also with ``mode="a"``.
    """
    options = WriteOptions(
        mode, axes, consolidate, lock_timeout, storage_options, backend, backend_kwargs
    )
    common = options.keywords(write_lines, "line", "implicit_sequential")
    if is_stream(endpoints, None) and not isinstance(endpoints, np.ndarray):
        if vertex_attributes or object_attributes or object_ids is not None:
            raise ValidationError(
                "with batches, give vertex_attributes, object_attributes and object_ids in each "
                "batch (a dict with those keys and 'endpoints')"
            )
        ndim = len(bounds[0]) if bounds is not None else len(chunk_shape or ())
        layout = check_layout(mode, ndim, chunk_shape, bounds, compressor, checksum, shard_shape)
        seen = [0, 0]  # the next id to give, the lines this write adds

        def levels() -> Iterator[ObjectLevel]:
            for item in endpoints:
                level = _line_level(*_batch_args(item), dtype=dtype, first_id=seen[0])
                seen[0] = max(seen[0], int(level.object_ids.max()) + 1)
                seen[1] += len(level.object_ids)
                yield level

        enc = write_stream(
            store, levels(), layout=layout, memory_limit=memory_limit, spill_dir=spill_dir, **common
        )
        return WriteSummary(seen[1], enc.cells, mode)
    level = _line_level(endpoints, vertex_attributes, object_attributes, object_ids, dtype=dtype)
    d = level.positions.shape[1]
    layout = check_layout(mode, d, chunk_shape, bounds, compressor, checksum, shard_shape)
    enc = write_store(store, level, layout=layout, merge=_merge, **common)
    return WriteSummary(len(level.object_ids), enc.cells, mode)


def _batch_args(item: Any) -> tuple[Any, Any, Any, Any]:
    """One batch of lines as ``(endpoints, vertex_attributes, object_attributes, object_ids)``."""
    if not isinstance(item, Mapping):
        return item, None, None, None
    known = {"endpoints", "vertex_attributes", "object_attributes", "object_ids"}
    if set(item) - known or "endpoints" not in item:
        raise ValidationError(
            "a batch dict needs 'endpoints' and may have 'vertex_attributes', "
            f"'object_attributes', 'object_ids'; got {sorted(item)}"
        )
    return (
        item["endpoints"],
        item.get("vertex_attributes"),
        item.get("object_attributes"),
        item.get("object_ids"),
    )


def _line_level(
    endpoints: Any,
    vertex_attributes: Mapping[str, Any] | None,
    object_attributes: Mapping[str, Any] | None,
    object_ids: Any,
    *,
    dtype: Any,
    first_id: int = 0,
) -> ObjectLevel:
    """Lines checked and laid out as objects of two vertices, rows by ascending id."""
    arr = np.asarray(endpoints)
    if arr.ndim != 3 or arr.shape[1] != 2:
        raise ValidationError(f"endpoints must be (N, 2, D), got shape {arr.shape}")
    n, _, d = arr.shape
    if n == 0:
        raise ValidationError("endpoints is empty: give at least one line")
    pos = check_positions(arr.reshape(2 * n, d), dtype)
    attrs = {}
    for name, v in (vertex_attributes or {}).items():
        check_attribute_name(name)
        a = np.asarray(v)
        if a.ndim < 2 or a.shape[:2] != (n, 2):
            raise ValidationError(
                f"vertex attribute {name!r} has shape {a.shape}; give (N, 2) or (N, 2, C) with N "
                f"= {n}"
            )
        if a.dtype.kind not in "biuf":
            raise ValidationError(
                f"vertex attribute {name!r} has dtype {a.dtype}; only numeric and bool are stored"
            )
        attrs[name] = np.ascontiguousarray(a.reshape(2 * n, *a.shape[2:]))
    oattrs = check_object_attributes(object_attributes, n, "line")
    if object_ids is None:
        ids = np.arange(first_id, first_id + n, dtype=np.int64)
    else:
        ids = np.asarray(object_ids)
        if ids.shape != (n,) or (ids.size and ids.dtype.kind not in "iu"):
            raise ValidationError(f"object_ids must be {n} integers, one per line")
        ids = ids.astype(np.int64)
        if len(np.unique(ids)) != n:
            raise ValidationError("object_ids repeat: each line needs its own id")
    order = np.argsort(ids, kind="stable")
    if not np.array_equal(order, np.arange(n)):
        take = np.stack([2 * order, 2 * order + 1], axis=1).reshape(-1)
        pos, ids = pos[take], ids[order]
        attrs = {k: v[take] for k, v in attrs.items()}
        oattrs = {k: v[order] for k, v in oattrs.items()}
    return polyline_level(
        pos, np.full(n, 2, np.int64), ids, attributes=attrs, object_attributes=oattrs
    )


def _merge(old: ObjectData, snap: Snapshot, new: ObjectLevel) -> ObjectLevel:
    return merge_levels(old, snap, new)


def read_lines(
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
) -> Lines | Any:
    """Read lines whole: ``endpoints`` ``(N, 2, D)`` in id order.

    ``bbox`` returns every line with an endpoint in the closed box, whole;
    ``object_ids`` fetches only the cells those lines touch.

    ``as_dask=True`` returns a lazy Dask DataFrame of the vertices with their
    ``object_id`` instead (:func:`zarr_vectors.dask.objects.objects_frame`).
    """
    if as_dask:
        return objects_as_dask(
            store,
            read_lines,
            level=level,
            object_ids=object_ids,
            attribute_names=attribute_names,
            storage_options=storage_options,
            backend=backend,
            backend_kwargs=backend_kwargs,
            selected_otherwise=bbox is not None,
        )
    data, _ = read_store(
        store,
        level=level,
        bbox=bbox,
        object_ids=object_ids,
        attribute_names=attribute_names,
        storage_options=storage_options,
        backend=backend,
        backend_kwargs=backend_kwargs,
        caller=read_lines,
    )
    lens = np.diff(data.offsets)
    if (lens != 2).any():
        bad = int(data.object_ids[np.flatnonzero(lens != 2)[0]])
        from zarr_vectors.exceptions import CorruptStoreError

        raise CorruptStoreError(
            f"line {bad} has {int(lens[lens != 2][0])} vertices, not 2; is this a line store?"
        )
    k, d = len(lens), data.positions.shape[1]
    return Lines(
        endpoints=data.positions.reshape(k, 2, d),
        object_ids=data.object_ids,
        vertex_attributes={n: v.reshape(k, 2, *v.shape[1:]) for n, v in data.attributes.items()},
        object_attributes=data.object_attributes,
    )

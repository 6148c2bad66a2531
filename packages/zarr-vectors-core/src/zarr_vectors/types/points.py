"""Point clouds: :func:`write_points` and :func:`read_points`.

Points are stored in the Zarr Vectors format (version 0.9.2): level ``0``
holds every point, grouped into spatial cells of ``chunk_shape``; optional
coarser levels ``1..`` hold one point per ``chunk_shape * 2**k`` bin (the
bin's centroid). What is particular to point clouds lives here: the result
type, the coarsening rule and the two public functions, which read top to
bottom as resolve, validate, plan, commit (or read). Everything else is shared
with other geometry types: input checks in :mod:`zarr_vectors.format.validate`,
the commit sequence in :mod:`zarr_vectors.format.transaction`, the read path in
:mod:`zarr_vectors.format.levels`. The user guide is ``docs/store-api.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import StaleSnapshotError, ValidationError
from zarr_vectors.format.batches import is_stream, vertex_stream
from zarr_vectors.format.cells import codec_chain
from zarr_vectors.format.crs import CRS_KEY, describe_crs, normalize_crs
from zarr_vectors.format.grid import group_by_cell
from zarr_vectors.format.levels import read_level
from zarr_vectors.format.metadata import RootMetadata, validate_bounds, validate_chunk_shape
from zarr_vectors.format.plan import Progress, WritePlan
from zarr_vectors.format.scaled import Scaling
from zarr_vectors.format.sharding import validate_shard_shape
from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.format.spill import check_budget
from zarr_vectors.format.tables import axis_names, vertex_frame
from zarr_vectors.format.transaction import commit_write
from zarr_vectors.format.validate import (
    check_attributes,
    check_bbox,
    check_inside,
    check_level,
    check_positions,
    data_bounds,
)
from zarr_vectors.progress import READ_PHASES, WRITE_PHASES, progress_callback
from zarr_vectors.store.location import StoreLike, StoreLocation
from zarr_vectors.store.modes import check_mode

__all__ = [
    "PointCloud",
    "WriteSummary",
    "check_bbox",
    "check_level",
    "coarsen_points",
    "read_points",
    "write_points",
]

Box = tuple[Sequence[float], Sequence[float]]
#: The modes ``write_points`` takes: create, replace, append.
WRITE_POINTS_MODES = ("w-", "w", "a")
#: A read that finds the store replaced under it starts again, this often at most.
_READ_ATTEMPTS = 3


@dataclass
class PointCloud:
    """Points read from a store. Also indexable like a dict (``pc["positions"]``)."""

    positions: npt.NDArray[Any]
    vertex_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    level: int = 0
    #: The store's coordinate reference system (the root ``crs``), or ``None``.
    crs: dict[str, Any] | None = None
    #: The other keys of the store's root ``zarr_vectors`` block written with
    #: ``metadata=`` (a LAS source's header under ``"las"``).
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def vertex_count(self) -> int:
        """Number of points returned."""
        return len(self.positions)

    def __len__(self) -> int:
        return self.vertex_count

    def __getitem__(self, key: str) -> Any:
        if key in ("positions", "vertex_attributes", "vertex_count", "level"):
            return getattr(self, key)
        raise KeyError(key)

    def to_pandas(self, axes: Sequence[str] | None = None) -> Any:
        """A ``pandas.DataFrame``: a column per axis (x, y, z...) and per attribute."""
        return vertex_frame(
            self.positions, self.vertex_attributes, axes, feature="PointCloud.to_pandas()"
        )

    def to_xarray(self, axes: Sequence[str] | None = None) -> Any:
        """An ``xarray.Dataset`` of these points, one row per point.

        Dimensions: ``point`` (the points, in the order read), ``axis`` (a
        coordinate holding the axis names, x, y, z by default or ``axes``) and, for
        an attribute with more than one value per point (shape ``(n, k, ...)``),
        ``NAME_dim_1``, ``NAME_dim_2``, ... Variables: ``positions`` over
        ``(point, axis)`` and one per attribute over ``(point, ...)``; the
        attribute ``level`` is the level read. (``xarray.open_zarr`` on a store's
        level shows the format's per-cell byte arrays instead, not points.)"""
        xr = require("xarray", feature="PointCloud.to_xarray()", extra="xarray")
        names = axis_names(self.positions.shape[1], axes)
        data: dict[str, Any] = {"positions": (("point", "axis"), self.positions)}
        for name, values in self.vertex_attributes.items():
            dims = ("point", *(f"{name}_dim_{i}" for i in range(1, values.ndim)))
            data[name] = (dims, values)
        return xr.Dataset(data, coords={"axis": names}, attrs={"level": self.level})

    def _repr_html_(self) -> str:
        """A short table for notebooks: count, level, bounds of the points, attributes."""
        from html import escape

        rows = [("points", f"{self.vertex_count:,}"), ("level", str(self.level))]
        if self.vertex_count:
            lo = self.positions.min(axis=0).tolist()
            hi = self.positions.max(axis=0).tolist()
            rows.append(("extent", f"{[round(v, 3) for v in lo]} .. {[round(v, 3) for v in hi]}"))
        rows.append(("dtype", str(self.positions.dtype)))
        rows.append(("crs", describe_crs(self.crs)))
        for name, values in self.vertex_attributes.items():
            rows.append((f"attribute {name}", f"{values.dtype}, shape {list(values.shape[1:])}"))
        body = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>PointCloud</caption>{body}</table>"


@dataclass(frozen=True)
class WriteSummary:
    """What a write did."""

    points_written: int
    vertex_count: int
    cells_written: int
    levels: int
    mode: str


def coarsen_points(
    positions: npt.NDArray[Any], chunk_shape: Sequence[float], factor: float
) -> npt.NDArray[Any]:
    """One point per ``chunk_shape * factor`` bin: the centroid of the bin's points."""
    return _coarsen(positions, chunk_shape, factor)[0]


def _coarsen(
    positions: npt.NDArray[Any], chunk_shape: Sequence[float], factor: float
) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp]]:
    """A coarse level's points (:func:`coarsen_points`) and, per point, the input row of
    its bin's first point, whose attributes it carries (a class or a colour has no mean)."""
    if len(positions) == 0:
        return positions, np.empty(0, np.intp)
    bins = group_by_cell(positions, chunk_shape, [c * factor for c in chunk_shape])
    p64 = bins.sort_rows(positions).astype(np.float64)
    sums = np.add.reduceat(p64, bins.starts[:-1], axis=0)
    return (sums / bins.counts[:, None]).astype(positions.dtype), bins.order[bins.starts[:-1]]


def write_points(
    store: StoreLike,
    positions: Any,
    *,
    chunk_shape: Sequence[float] | None = None,
    bounds: Box | None = None,
    vertex_attributes: Mapping[str, Any] | None = None,
    dtype: npt.DTypeLike | None = None,
    compressor: str | dict[str, Any] | None = None,
    mode: str = "w-",
    levels: int = 1,
    axes: Sequence[str | Mapping[str, Any]] | None = None,
    consolidate: bool = True,
    checksum: bool = True,
    progress: bool | Progress | None = None,
    lock_timeout: float | None = None,
    scheduler: Any = None,
    position_columns: Sequence[str] | None = None,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
    shard_shape: int | Sequence[int] | None = None,
    crs: Any = None,
    metadata: Mapping[str, Any] | None = None,
    scale_offset: tuple[Sequence[float], Sequence[float]] | None = None,
    bin_shape: Sequence[float] | None = None,
    overview_attributes: Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> WriteSummary:
    """Write a point cloud to ``store`` (path, URL, backend or zarr store).

    ``mode="w-"`` (default) refuses to touch an existing store, ``"w"``
    replaces it, ``"a"`` appends to it (chunk shape, bounds, dtype and
    attribute names come from the store). ``bounds`` default to the data's
    extent. ``levels > 1`` adds coarser levels (factor 2 per level).
    ``consolidate`` keeps zarr v3 consolidated metadata in the root.
    ``progress=True`` draws labelled progress bars (terminal or notebook);
    a callable ``progress(done, total)`` is called as points are written.
    ``checksum`` (default) stores a crc32c checksum with every cell, so reads
    catch damaged bytes. Writers take turns: a write waits up to
    ``lock_timeout`` seconds (default 120) for another process's write to
    finish, then raises :class:`~zarr_vectors.exceptions.ConcurrentWriteError`.
    A backend made here from a path or URL is closed before this returns.

    ``shard_shape`` (cells per shard, per axis, or one number for all) stores
    blocks of cells as one object each (Zarr v3 sharding, as the published 0.9.2
    writes it): fewer objects and requests on object stores; a box read then
    fetches only the byte ranges of the cells it needs.
    ``crs`` is the points' coordinate reference system, kept as the root ``crs``
    of the format (an EPSG code, ``"EPSG:n"``, WKT or a dict; see
    :mod:`zarr_vectors.format.crs`); ``metadata`` adds keys of your own to the
    root ``zarr_vectors`` block (JSON values; the LAS reader keeps its header
    there). Both are set when a store is created or replaced; an append keeps the
    store's.
    ``scale_offset=((sx, sy, sz), (ox, oy, oz))`` stores level 0's positions as
    int32 values ``i`` with ``position = i * scale + offset`` per axis, as LAS files
    do (:mod:`zarr_vectors.format.scaled`): every position must be exactly such a
    value (coordinates read from a LAS file are); they read back as float64,
    bit-exact. With ``compressor="blosc"`` that is about a third of float64's bytes.
    ``bin_shape`` sets what coarse levels bin by: level ``k`` holds one point (the
    centroid) per ``bin_shape * 2**k`` bin; by default ``bin_shape`` is
    ``chunk_shape``, and a smaller one (``chunk_shape`` divided by a whole number per
    axis, kept as the root's ``base_bin_shape``) gives denser overviews. A coarse
    point carries the attribute values of its bin's first point: every attribute, or
    those named in ``overview_attributes`` (``[]``: none).
    ``positions`` may be larger than memory: an iterator of batches (arrays, or
    ``(positions, {name: values})`` pairs, which then need ``bounds=``), a
    ``numpy.memmap`` or a Dask array. Those are spilled to disk (``spill_dir``)
    in partitions of whole cells, so the rows held at once stay within
    ``memory_limit`` (bytes or e.g. ``"1GB"``; default 1 GiB for such input; an
    in-memory array larger than a quarter of a given limit is streamed too).

    Dask input may instead be written by the workers of a Dask cluster, each
    putting its cells straight to the storage (:mod:`zarr_vectors.dask`): a Dask
    DataFrame always is (columns ``x, y, z`` or ``position_columns``; every other
    column is an attribute), a Dask array is when a ``distributed`` client is
    active and ``store`` is a path or URL. ``scheduler`` chooses: a
    ``distributed.Client``, ``"distributed"``, ``"threads"``, ``"processes"`` or
    ``"sync"`` run the write on Dask; ``"driver"`` streams a Dask array through
    this process. ``memory_limit`` and ``spill_dir`` do not apply there (each
    worker holds one partition).
    """
    from zarr_vectors.dask import prepare_write, wants_parallel

    parallel = None
    if wants_parallel(positions, store, scheduler):
        parallel = prepare_write(
            store,
            positions,
            vertex_attributes,
            mode=mode,
            dtype=dtype,
            bounds=bounds,
            scheduler=scheduler,
            position_columns=position_columns,
            storage_options=storage_options,
            backend=backend,
            backend_kwargs=backend_kwargs,
        )
        # Checked below as an empty cloud of the same layout; the workers check the rows.
        positions, vertex_attributes = parallel.template, parallel.attribute_templates
        bounds = bounds if bounds is not None else parallel.extent()
    elif position_columns is not None:
        raise ValidationError("position_columns= is for a Dask DataFrame")
    if parallel is not None and scale_offset is not None:
        raise ValidationError(
            "scale_offset= is not supported for writes by Dask workers; write through this "
            "process (scheduler='driver') or leave scale_offset out"
        )
    plan = _plan(
        mode=mode,
        positions=positions,
        chunk_shape=chunk_shape,
        bounds=bounds,
        vertex_attributes=vertex_attributes,
        dtype=dtype,
        compressor=compressor,
        levels=levels,
        axes=axes,
        consolidate=consolidate,
        checksum=checksum,
        progress=None,
        memory_limit=memory_limit,
        spill_dir=spill_dir,
        shard_shape=shard_shape,
        crs=crs,
        metadata=metadata,
        scale_offset=scale_offset,
        bin_shape=bin_shape,
        overview_attributes=overview_attributes,
    )
    if parallel is not None:
        plan = replace(plan, cell_writer=parallel.cell_writer, expected_rows=parallel.rows)
    with (
        progress_callback(progress, WRITE_PHASES) as report,
        StoreLocation.of(
            store,
            backend=backend,
            backend_kwargs=backend_kwargs,
            storage_options=storage_options,
            caller=write_points,
        ).open("w") as target,
    ):
        done = commit_write(target, replace(plan, progress=report), lock_timeout=lock_timeout)
    return WriteSummary(
        done.vertices_written, done.vertex_count, done.cells_written, done.levels, mode
    )


def _plan(
    *,
    mode: str,
    positions: Any,
    chunk_shape: Sequence[float] | None,
    bounds: Box | None,
    vertex_attributes: Mapping[str, Any] | None,
    dtype: Any,
    compressor: str | dict[str, Any] | None,
    levels: int,
    axes: Sequence[str | Mapping[str, Any]] | None,
    consolidate: bool,
    checksum: bool,
    progress: Progress | None,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
    shard_shape: int | Sequence[int] | None = None,
    crs: Any = None,
    metadata: Mapping[str, Any] | None = None,
    scale_offset: tuple[Sequence[float], Sequence[float]] | None = None,
    bin_shape: Sequence[float] | None = None,
    overview_attributes: Sequence[str] | None = None,
) -> WritePlan:
    """Every check that needs only the arguments, made before the store is opened."""
    check_mode(mode, WRITE_POINTS_MODES)
    extra = _root_extras(crs, metadata)
    budget = None if memory_limit is None else check_budget(memory_limit)
    stream = None
    if is_stream(positions, budget):
        if mode == "a":
            raise ValidationError(
                "appending from batches, a memory map or a Dask array is not supported; "
                "append in-memory arrays (several appends if need be), or rewrite with mode='w'"
            )
        stream = vertex_stream(positions, vertex_attributes, dtype, budget or 1 << 30)
        pos, attrs = stream.template, stream.attribute_templates
        if bounds is None and not stream.rereadable:
            raise ValidationError(
                "writing from an iterator of batches needs bounds=((min...), (max...)): the "
                "cell grid is laid out before the first batch is read"
            )
    else:
        pos = check_positions(positions, dtype)
        attrs = check_attributes(vertex_attributes, len(pos))
    coarse = None if overview_attributes is None else tuple(overview_attributes)
    if coarse is not None and not set(coarse) <= set(attrs):
        raise ValidationError(
            f"overview_attributes {sorted(set(coarse) - set(attrs))} are not attributes of "
            f"the points; they have {sorted(attrs)}"
        )
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValidationError(f"levels must be an integer >= 1, got {levels!r}")
    appending = mode == "a"
    cs = validate_chunk_shape(chunk_shape) if (chunk_shape is not None or not appending) else None
    if cs is not None and len(cs) != pos.shape[1]:
        raise ValidationError(
            f"chunk_shape has {len(cs)} values but the points have {pos.shape[1]} axes"
        )
    checked_bounds = None if bounds is None else validate_bounds(bounds, pos.shape[1])
    if bounds is None and len(pos) == 0 and not appending and stream is None:
        raise ValidationError("cannot take bounds from zero points: pass bounds=(min, max)")
    scaling = None
    if scale_offset is not None:
        scaling = Scaling.of(scale_offset, pos.shape[1])
        if stream is None:
            scaling.encode(pos)  # every position on the grid, checked before the store is opened
    shards = None
    if shard_shape is not None:
        shards = validate_shard_shape(shard_shape, pos.shape[1])
    meta: RootMetadata | None = None
    if cs is not None:
        box: Box
        if bounds is not None:
            box = bounds
        elif stream is not None:
            box = stream.extent()
        else:
            box = data_bounds(pos)
        meta = RootMetadata.build(chunk_shape=cs, bounds=box, axes=axes).with_levels(levels)
        if bin_shape is not None:
            extra = {**extra, "base_bin_shape": _check_bin_shape(bin_shape, cs)}
        if extra:
            meta = replace(meta, extra={**meta.extra, **extra})
        if not appending:
            check_inside(pos, meta, append=False)
    return WritePlan(
        mode=mode,
        positions=pos,
        attributes=attrs,
        codecs=codec_chain(compressor, checksum=bool(checksum)),
        meta=meta,
        chunk_shape=cs,
        levels=levels,
        dtype=dtype,
        consolidate=consolidate,
        coarsen=_coarsen,
        progress=progress,
        batches=None if stream is None else stream.batches,
        expected_rows=None if stream is None else stream.rows,
        memory_limit=budget if budget is not None else (1 << 30 if stream is not None else None),
        spill_dir=spill_dir,
        shard_shape=shards,
        bounds=checked_bounds,
        scaling=scaling,
        coarse_attributes=coarse,
    )


def _check_bin_shape(bin_shape: Sequence[float], chunk_shape: Sequence[float]) -> list[float]:
    """``bin_shape`` checked: one positive size per axis, each dividing the chunk size a
    whole number of times (as the format requires of ``base_bin_shape``)."""
    try:
        bins = [float(b) for b in bin_shape]
    except (TypeError, ValueError):
        raise ValidationError(f"bin_shape must be numbers, got {bin_shape!r}") from None
    if len(bins) != len(chunk_shape) or not all(b > 0 for b in bins):
        raise ValidationError(
            f"bin_shape needs {len(chunk_shape)} sizes > 0 (one per axis), got {bins}"
        )
    for b, c in zip(bins, chunk_shape, strict=True):
        if abs(c / b - round(c / b)) > 1e-9 * (c / b):
            raise ValidationError(
                f"bin_shape {bins} must divide chunk_shape {list(chunk_shape)} a whole "
                "number of times on every axis (e.g. chunk_shape / 8)"
            )
    return bins


#: Keys of the root block that the format itself defines: ``metadata=`` cannot set them.
_FORMAT_KEYS = frozenset(
    {
        "zv_version",
        "format_capabilities",
        "chunk_shape",
        "bounds",
        "geometry_types",
        "links_convention",
        "object_index_convention",
        "cross_chunk_strategy",
        "base_bin_shape",
        "reduction_factor",
        "cross_level_depth",
        "cross_level_storage",
        CRS_KEY,
    }
)


def _root_extras(crs: Any, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``crs`` and ``metadata`` keys for the root block, checked before anything is written."""
    import json

    extra: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise ValidationError(f"metadata= must be a dict, got {type(metadata).__name__}")
        taken = sorted(str(k) for k in metadata if not isinstance(k, str) or k in _FORMAT_KEYS)
        if taken:
            raise ValidationError(
                f"metadata= cannot set {taken}: the format defines those keys (use crs= for "
                "the coordinate reference system)"
            )
        extra.update(metadata)
    described = normalize_crs(crs)
    if described is not None:
        extra[CRS_KEY] = described
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"crs=/metadata= must hold JSON values only ({exc})") from None
    return extra


@overload
def read_points(
    store: StoreLike,
    *,
    level: int = 0,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    progress: Progress | None = None,
    as_dask: Literal[False] = False,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> PointCloud: ...


@overload
def read_points(
    store: StoreLike,
    *,
    level: int = 0,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    progress: Progress | None = None,
    as_dask: Literal[True, "array"],
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> Any: ...


def read_points(
    store: StoreLike,
    *,
    level: int = 0,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    progress: bool | Progress | None = None,
    as_dask: bool | Literal["array"] = False,
    storage_options: Mapping[str, Any] | None = None,
    backend: str | None = None,
    **backend_kwargs: Any,
) -> PointCloud | Any:
    """Read the points of ``level`` (all, or those inside the closed box ``bbox``).

    ``attribute_names=None`` reads every stored attribute; ``[]`` reads none.
    ``progress(done, total)`` is called as cells arrive (counted in cells), as
    ``write_points`` does for chunk objects.
    Points come back grouped by cell, not in the order they were written.

    ``as_dask=True`` returns a lazy Dask DataFrame instead (a column per axis and
    per attribute value, one partition per group of cells, read by the workers;
    see :func:`zarr_vectors.dask.points_frame`); ``store`` is then a path or URL.
    ``as_dask="array"`` returns the positions alone as a lazy Dask array of shape
    ``(n, ndim)``, one block per partition; its row count is unknown until
    computed (``.compute_chunk_sizes()`` reads the cells to learn it), so that
    asking for the array reads nothing.
    """
    if as_dask not in (False, True, "array"):
        raise ValidationError(f"as_dask must be False, True or 'array', got {as_dask!r}")
    if as_dask:
        from zarr_vectors.dask import read_points_frame

        frame = read_points_frame(
            store,
            level=level,
            bbox=bbox,
            attribute_names=[] if as_dask == "array" else attribute_names,
            storage_options=storage_options,
            backend=backend,
            backend_kwargs=backend_kwargs,
            caller=read_points,
        )
        return frame.to_dask_array() if as_dask == "array" else frame
    level = check_level(level)
    box = None if bbox is None else check_bbox(bbox)
    names = [attribute_names] if isinstance(attribute_names, str) else attribute_names
    with (
        progress_callback(progress, READ_PHASES) as report,
        StoreLocation.of(
            store,
            backend=backend,
            backend_kwargs=backend_kwargs,
            storage_options=storage_options,
            caller=read_points,
        ).open("r") as source,
    ):
        for attempt in range(_READ_ATTEMPTS):
            snap = load_snapshot(source)
            if box is not None:
                box = check_bbox(box, snap.meta.ndim)
            try:
                data = read_level(snap, level, bbox=box, attribute_names_=names, progress=report)
                break
            except StaleSnapshotError:
                if attempt + 1 == _READ_ATTEMPTS:
                    raise  # replaced again and again while being read
    extras = dict(snap.meta.extra)
    described = extras.pop(CRS_KEY, None)
    return PointCloud(
        data.positions,
        data.attributes,
        level,
        crs=dict(described) if isinstance(described, Mapping) else None,
        metadata={k: v for k, v in extras.items() if k not in _FORMAT_KEYS},
    )

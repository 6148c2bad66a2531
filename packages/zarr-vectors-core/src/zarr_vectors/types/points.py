"""Point clouds: :func:`write_points` and :func:`read_points`.

Points are stored in the Zarr Vectors format (version 0.9.2): level ``0``
holds every point, grouped into spatial cells of ``chunk_shape``; optional
coarser levels ``1..`` hold one point per ``chunk_shape * 2**k`` bin (the
bin's centroid). See ``docs/points.md`` for the user guide and
``docs/format.md`` for the layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.core import commit as _commit
from zarr_vectors.core.cells import codec_chain
from zarr_vectors.core.grid import column_extent, group_by_cell, world_key
from zarr_vectors.core.kv import KV, resolve_store
from zarr_vectors.core.levels import (
    ATTRIBUTES,
    FRAGMENTS,
    VERTICES,
    EncodedLevel,
    cell_key,
    encode_level,
    fetch_cells,
    read_level,
)
from zarr_vectors.core.metadata import (
    LevelMetadata,
    RootMetadata,
    group_json,
    validate_bounds,
    validate_chunk_shape,
)
from zarr_vectors.core.snapshot import ROOT_KEY, Snapshot, load_snapshot
from zarr_vectors.exceptions import StoreError, StoreExistsError, ValidationError

__all__ = [
    "PointCloud",
    "WriteSummary",
    "check_bbox",
    "check_level",
    "read_points",
    "write_points",
]

Box = tuple[Sequence[float], Sequence[float]]
Progress = Callable[[int, int], None]
MODES = ("w-", "w", "a")


@dataclass
class PointCloud:
    """Points read from a store. Also indexable like a dict (``pc["positions"]``)."""

    positions: npt.NDArray[Any]
    vertex_attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    level: int = 0

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


@dataclass(frozen=True)
class WriteSummary:
    """What a write did."""

    points_written: int
    vertex_count: int
    cells_written: int
    levels: int
    mode: str


# -- validation (all of it happens before the store is touched) --------------
def _positions(positions: Any, dtype: Any) -> npt.NDArray[Any]:
    arr = np.asarray(positions)
    if arr.ndim != 2:
        raise ValidationError(
            f"positions must be a 2-D array of shape (n_points, n_axes), got {arr.ndim}-D "
            f"shape {arr.shape}; reshape it, e.g. positions.reshape(-1, 3)"
        )
    if arr.shape[1] < 1:
        raise ValidationError("positions must have at least one axis (shape (n, D) with D >= 1)")
    if arr.dtype.kind not in "fiu":
        raise ValidationError(f"positions must be numeric, got dtype {arr.dtype}")
    if dtype is None:
        out_dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    else:
        out_dtype = np.dtype(dtype)
        if out_dtype.kind != "f":
            raise ValidationError(
                f"dtype must be a floating type (float32, float64), got {out_dtype}"
            )
    out_dtype = out_dtype.newbyteorder("<") if out_dtype.byteorder == ">" else out_dtype
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr).all(axis=1)
        first = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{int(bad.sum())} of {len(arr)} points have NaN or infinite coordinates "
            f"(first at row {first}); drop or fix them before writing"
        )
    out = np.ascontiguousarray(arr, dtype=out_dtype)
    if out_dtype.kind == "f" and not np.isfinite(out).all():
        raise ValidationError(f"some coordinates overflow {out_dtype}; use dtype=np.float64")
    return out


def _attributes(attrs: Mapping[str, Any] | None, n: int) -> dict[str, npt.NDArray[Any]]:
    out: dict[str, npt.NDArray[Any]] = {}
    for name, values in (attrs or {}).items():
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or name.startswith(".")
            or name == "c"
        ):
            raise ValidationError(
                f"attribute name {name!r} is not usable: use a non-empty name without '/'"
            )
        arr = np.asarray(values)
        if arr.ndim == 0 or len(arr) != n:
            got = "a scalar" if arr.ndim == 0 else f"{len(arr)} values"
            raise ValidationError(
                f"attribute {name!r} has {got} but there are {n} points; give one value per point"
            )
        if arr.dtype.kind not in "biuf":
            raise ValidationError(
                f"attribute {name!r} has dtype {arr.dtype}; only numeric and bool attributes "
                "are stored"
            )
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        out[name] = np.ascontiguousarray(arr, dtype=dt)
    return out


def _outside(positions: npt.NDArray[Any], lo: Sequence[float], hi: Sequence[float]) -> int:
    p = positions.astype(np.float64, copy=False)
    return int((~np.all((p >= np.asarray(lo)) & (p <= np.asarray(hi)), axis=1)).sum())


def _check_inside(positions: npt.NDArray[Any], meta: RootMetadata, *, append: bool) -> None:
    lo, hi = meta.bounds
    if len(positions) == 0:
        return
    emin, emax = column_extent(positions)
    dmin = emin.astype(np.float64).tolist()
    dmax = emax.astype(np.float64).tolist()
    if all(a >= b for a, b in zip(dmin, lo, strict=True)) and all(
        a <= b for a, b in zip(dmax, hi, strict=True)
    ):
        return
    n_out = _outside(positions, lo, hi)
    need_lo = [min(a, b) for a, b in zip(lo, dmin, strict=True)]
    need_hi = [max(a, b) for a, b in zip(hi, dmax, strict=True)]
    how = (
        "a store's bounds are fixed when it is created: rewrite it with mode='w' and "
        f"bounds=({need_lo}, {need_hi}) (or wider) holding the old and the new points"
        if append
        else f"pass bounds=({need_lo}, {need_hi}) or wider, or leave bounds out to take "
        "them from the data"
    )
    raise ValidationError(
        f"{n_out} of {len(positions)} points lie outside the bounds ({list(lo)}, {list(hi)}); {how}"
    )


# -- coarser levels -------------------------------------------------------------
def _coarsen(
    positions: npt.NDArray[Any], chunk_shape: Sequence[float], factor: float
) -> npt.NDArray[Any]:
    """One point per ``chunk_shape * factor`` bin: the centroid of the bin's points."""
    if len(positions) == 0:
        return positions
    bins = group_by_cell(positions, chunk_shape, [c * factor for c in chunk_shape])
    p64 = positions.astype(np.float64)[bins.order]
    sums = np.add.reduceat(p64, bins.starts[:-1], axis=0)
    return (sums / bins.counts[:, None]).astype(positions.dtype)


# -- writing -------------------------------------------------------------------
def write_points(
    store: Any,
    positions: Any,
    *,
    chunk_shape: Sequence[float] | None = None,
    bounds: Box | None = None,
    vertex_attributes: Mapping[str, Any] | None = None,
    dtype: Any = None,
    compressor: str | dict[str, Any] | None = None,
    mode: str = "w-",
    levels: int = 1,
    axes: Sequence[str | Mapping[str, Any]] | None = None,
    consolidate: bool = True,
    progress: Progress | None = None,
    backend: Any = None,
    **backend_kwargs: Any,
) -> WriteSummary:
    """Write a point cloud to ``store`` (path, URL, backend or zarr store).

    ``mode="w-"`` (default) refuses to touch an existing store, ``"w"``
    replaces it, ``"a"`` appends to it (chunk shape, bounds, dtype and
    attribute names come from the store). ``bounds`` default to the data's
    extent. ``levels > 1`` adds coarser levels (factor 2 per level).
    ``consolidate`` keeps zarr v3 consolidated metadata in the root.
    ``progress(done, total)`` is called as chunk objects are written.
    """
    if mode not in MODES:
        raise ValidationError(
            f"mode must be one of {MODES} ('w-' create, 'w' replace, 'a' append), got {mode!r}"
        )
    pos = _positions(positions, dtype)
    attrs = _attributes(vertex_attributes, len(pos))
    if not isinstance(levels, int) or levels < 1:
        raise ValidationError(f"levels must be an integer >= 1, got {levels!r}")
    cs = validate_chunk_shape(chunk_shape) if (chunk_shape is not None or mode != "a") else None
    if cs is not None and len(cs) != pos.shape[1]:
        raise ValidationError(
            f"chunk_shape has {len(cs)} values but the points have {pos.shape[1]} axes"
        )
    if bounds is not None:
        validate_bounds(bounds, pos.shape[1])
    elif len(pos) == 0 and mode != "a":
        raise ValidationError("cannot take bounds from zero points: pass bounds=(min, max)")
    compress = codec_chain(compressor)
    new_meta: RootMetadata | None = None
    if cs is not None:
        if bounds is None:
            emin, emax = column_extent(pos)
            bounds = (emin.astype(np.float64).tolist(), emax.astype(np.float64).tolist())
        new_meta = RootMetadata.build(chunk_shape=cs, bounds=bounds, axes=axes).with_levels(levels)
        if mode != "a":
            _check_inside(pos, new_meta, append=False)

    kv = KV(resolve_store(store, mode="w", backend=backend, backend_kwargs=backend_kwargs))
    kv.check_writable()
    snap, existing = _existing(kv, mode)
    if mode == "a" and snap is not None:
        return _append(kv, snap, pos, attrs, cs, levels, consolidate, progress, compress, dtype)
    if new_meta is None:  # appending to nothing: a chunk shape is needed after all
        raise ValidationError(
            "chunk_shape is required to create a store, e.g. chunk_shape=(200.0,) * 3"
        )
    if mode == "a":
        _check_inside(pos, new_meta, append=False)
    generation = snap.meta.generation + 1 if snap is not None else 1
    meta = replace(new_meta, generation=generation)
    return _write_fresh(kv, meta, pos, attrs, compress, existing, consolidate, progress, mode)


def _existing(kv: KV, mode: str) -> tuple[Snapshot | None, bool]:
    """The store already there (if any) and whether anything at all is there."""
    raw = kv.get(ROOT_KEY)
    if raw is None:
        keys = kv.list("")
        if keys and mode != "w":
            raise StoreExistsError(
                f"{kv.describe()} already holds data that is not a Zarr Vectors store "
                f"(e.g. {keys[0]!r}); choose an empty location or pass mode='w' to replace it"
            )
        return None, bool(keys)
    if mode == "w-":
        raise StoreExistsError(
            f"a store already exists at {kv.describe()}; pass mode='w' to replace it or "
            "mode='a' to append to it"
        )
    if mode == "w":
        try:
            return load_snapshot(kv), True
        except StoreError:
            return None, True
    return load_snapshot(kv), True


def _level_doc(level: int, count: int, *, attrs: bool) -> dict[str, Any]:
    lm = LevelMetadata(
        level=level,
        vertex_count=count,
        arrays_present=("vertices", "vertex_attributes") if attrs else ("vertices",),
        coarsening_method="none" if level == 0 else "grid_centroid",
        parent_level=None if level == 0 else level - 1,
    )
    return group_json(lm.to_attributes())


def _put_chunks(kv: KV, chunks: list[tuple[str, bytes]], progress: Progress | None) -> None:
    if progress is None:
        kv.set_many(chunks)
        return
    step = max(64, len(chunks) // 50)
    progress(0, len(chunks))
    for i in range(0, len(chunks), step):
        kv.set_many(chunks[i : i + step])
        progress(min(i + step, len(chunks)), len(chunks))


def _write_fresh(
    kv: KV,
    meta: RootMetadata,
    pos: npt.NDArray[Any],
    attrs: dict[str, npt.NDArray[Any]],
    compress: list[dict[str, Any]],
    existing: bool,
    consolidate: bool,
    progress: Progress | None,
    mode: str,
) -> WriteSummary:
    origin, shape = meta.grid_origin(), meta.grid_shape()
    encoded: list[EncodedLevel] = []
    docs: dict[str, dict[str, Any]] = {}
    level_pos = pos
    for level in range(len(meta.levels)):
        if level:
            level_pos = _coarsen(pos, meta.chunk_shape, 2.0**level)
        groups = group_by_cell(level_pos, meta.chunk_shape)
        enc = encode_level(
            str(level),
            level_pos,
            groups,
            attrs if level == 0 else {},
            origin=origin,
            grid_shape=shape,
            codecs=compress,
        )
        encoded.append(enc)
        docs[str(level)] = _level_doc(level, len(level_pos), attrs=bool(attrs) and level == 0)
        docs.update(enc.docs)
    # 1. journal, 2. clear what was there, 3. chunks, 4. node docs, 5. commit root.
    _commit.put_root(kv, meta, pending={"mode": "w"})
    if existing:
        kv.delete_many([k for k in kv.list("") if k != ROOT_KEY])
    chunks = [c for enc in encoded for c in enc.chunks]
    _put_chunks(kv, chunks, progress)
    kv.set_many([(f"{p}/zarr.json", _dump(d)) for p, d in docs.items()])
    _commit.put_root(kv, meta, consolidated=docs if consolidate else None)
    return WriteSummary(len(pos), len(pos), len(encoded[0].nonempty), len(meta.levels), mode)


def _dump(doc: Mapping[str, Any]) -> bytes:
    from zarr_vectors.core.kv import dump_json

    return dump_json(doc)


def _append(
    kv: KV,
    snap: Snapshot,
    pos: npt.NDArray[Any],
    attrs: dict[str, npt.NDArray[Any]],
    cs: tuple[float, ...] | None,
    levels: int,
    consolidate: bool,
    progress: Progress | None,
    compress: list[dict[str, Any]],
    dtype: Any,
) -> WriteSummary:
    meta = snap.meta
    if snap.pending is not None:
        recover(kv, snap)
        snap = load_snapshot(kv)
        meta = snap.meta
    if pos.shape[1] != meta.ndim:
        raise ValidationError(f"the store has {meta.ndim} axes but the points have {pos.shape[1]}")
    if cs is not None and tuple(cs) != tuple(meta.chunk_shape):
        raise ValidationError(
            f"chunk_shape {list(cs)} differs from the store's {list(meta.chunk_shape)}; "
            "leave chunk_shape out when appending"
        )
    if len(meta.levels) > 1 or levels > 1:
        raise ValidationError(
            "appending to a store with coarser levels would leave them stale; rewrite the "
            "store with mode='w' and levels=... holding all the points"
        )
    _check_inside(pos, meta, append=True)
    lm = snap.level_meta(0)
    vdoc = snap.node(f"0/{VERTICES}")
    stored_names = sorted(snap.children(f"0/{ATTRIBUTES}")) if vdoc is not None else []
    if vdoc is not None and lm.vertex_count > 0 and sorted(attrs) != stored_names:
        raise ValidationError(
            f"the store's points have attributes {stored_names} but the new points have "
            f"{sorted(attrs)}; give the same attributes (one value per point) when appending"
        )
    if vdoc is not None:
        stored = np.dtype(vdoc["attributes"].get("dtype", "float32"))
        if dtype is not None and np.dtype(dtype) != stored:
            raise ValidationError(f"dtype {np.dtype(dtype)} differs from the store's {stored}")
        pos = pos.astype(stored, copy=False)
        compress = list(vdoc.get("codecs") or compress)
        for name in stored_names:
            adoc = snap.node(f"0/{ATTRIBUTES}/{name}") or {}
            adt = np.dtype(adoc.get("attributes", {}).get("dtype", attrs[name].dtype))
            if not np.can_cast(attrs[name].dtype, adt, "same_kind"):
                raise ValidationError(
                    f"attribute {name!r} is stored as {adt}; the new values ({attrs[name].dtype}) "
                    "do not convert to it"
                )
            attrs[name] = attrs[name].astype(adt)
    old_nonempty = list((vdoc or {}).get("attributes", {}).get("nonempty_chunks") or [])

    new_groups = group_by_cell(pos, meta.chunk_shape)
    touched = {world_key(w) for w in new_groups.world.tolist()}
    old_cells, _, _ = (
        fetch_cells(snap, 0, only=touched & set(old_nonempty)) if vdoc else ([], None, None)
    )
    old_counts = {c.key: len(c.positions) for c in old_cells}
    # Old rows first in every cell (stable grouping keeps this order).
    all_pos = np.concatenate([*(c.positions for c in old_cells), pos]) if old_cells else pos
    all_attrs = {
        n: np.concatenate([*(c.attributes[n] for c in old_cells), a]) if old_cells else a
        for n, a in attrs.items()
    }
    groups = group_by_cell(all_pos, meta.chunk_shape)
    enc = encode_level(
        "0",
        all_pos,
        groups,
        all_attrs,
        origin=meta.grid_origin(),
        grid_shape=meta.grid_shape(),
        codecs=compress,
        nonempty_extra=old_nonempty,
    )
    total = lm.vertex_count + len(pos)
    docs = dict(enc.docs)
    docs["0"] = _level_doc(0, total, attrs=bool(all_attrs))
    pending = {
        "mode": "a",
        "level": "0",
        "cells": sorted(touched),
        "counts": [old_counts.get(k, 0) for k in sorted(touched)],
        "vertex_count": lm.vertex_count,
    }
    extra = snap.root_doc.get("attributes", {})
    _commit.put_root(
        kv, meta, pending=pending, consolidated=snap.consolidated, extra_attributes=extra
    )
    _put_chunks(kv, enc.chunks, progress)
    kv.set_many([(f"{p}/zarr.json", _dump(d)) for p, d in docs.items()])
    _finish(kv, snap, docs, consolidate)
    return WriteSummary(len(pos), total, len(touched), 1, "a")


def _finish(kv: KV, snap: Snapshot, docs: dict[str, dict[str, Any]], consolidate: bool) -> None:
    """Commit: the root with new generation, no journal, refreshed consolidated metadata."""
    merged: dict[str, dict[str, Any]] | None = None
    if consolidate:
        base = snap.consolidated if snap.consolidated is not None else _commit.gather_node_docs(kv)
        merged = {**base, **docs}
    _commit.put_root(
        kv,
        _commit.bump(snap.meta),
        consolidated=merged,
        extra_attributes=snap.root_doc.get("attributes", {}),
    )


def recover(kv: KV, snap: Snapshot) -> None:
    """Undo an append that failed half way.

    Touched cells are cut back to their old rows, cells the append created are
    dropped, and the journal entry is cleared.
    """
    pending: dict[str, Any] = snap.pending or {}
    if pending.get("mode") == "w":
        raise StoreError(
            f"{kv.describe()}: a write that replaces this store did not finish; write it "
            "again with mode='w'"
        )
    level = str(pending.get("level", "0"))
    limits = dict(zip(pending.get("cells", []), pending.get("counts", []), strict=True))
    keep = {k for k, n in limits.items() if n > 0}
    drop = {k for k, n in limits.items() if n == 0}
    cells, _, _ = fetch_cells(snap, int(level), only=keep)  # already cut back by the journal
    vdoc = snap.node(f"{level}/{VERTICES}")
    docs: dict[str, dict[str, Any]] = {}
    if vdoc is not None:
        names = snap.children(f"{level}/{ATTRIBUTES}")
        origin = vdoc["attributes"].get("chunk_grid_origin", [0] * snap.meta.ndim)
        nonempty = sorted(set(vdoc["attributes"].get("nonempty_chunks") or []) - drop)
        kv.delete_many(
            cell_key(f"{level}/{arr}", [int(p) for p in k.split(".")], origin)
            for k in drop
            for arr in (VERTICES, FRAGMENTS, *(f"{ATTRIBUTES}/{n}" for n in names))
        )
        if cells:
            all_pos = np.concatenate([c.positions for c in cells])
            all_attrs = {n: np.concatenate([c.attributes[n] for c in cells]) for n in names}
            groups = group_by_cell(all_pos, snap.meta.chunk_shape)
            enc = encode_level(
                level,
                all_pos,
                groups,
                all_attrs,
                origin=snap.meta.grid_origin(),
                grid_shape=snap.meta.grid_shape(),
                codecs=vdoc.get("codecs") or codec_chain(None),
                nonempty_extra=nonempty,
            )
            kv.set_many(enc.chunks)
        for path in [
            f"{level}/{VERTICES}",
            f"{level}/{FRAGMENTS}",
            *(f"{level}/{ATTRIBUTES}/{n}" for n in names),
        ]:
            doc = snap.node(path)
            if doc is not None:
                doc = {**doc, "attributes": {**doc["attributes"], "nonempty_chunks": nonempty}}
                docs[path] = doc
    ldoc = snap.node(level) or {}
    lattrs: dict[str, Any] = dict(ldoc.get("attributes", {}).get("zarr_vectors_level", {}))
    lattrs["vertex_count"] = int(pending.get("vertex_count", lattrs.get("vertex_count", 0)))
    docs[level] = group_json({**ldoc.get("attributes", {}), "zarr_vectors_level": lattrs})
    kv.set_many([(f"{p}/zarr.json", _dump(d)) for p, d in docs.items()])
    _finish(kv, snap, docs, snap.consolidated is not None)


# -- reading -------------------------------------------------------------------
def read_points(
    store: Any,
    *,
    level: int = 0,
    bbox: Box | None = None,
    attribute_names: Sequence[str] | None = None,
    progress: Progress | None = None,
    backend: Any = None,
    **backend_kwargs: Any,
) -> PointCloud:
    """Read the points of ``level`` (all, or those inside the closed box ``bbox``).

    ``attribute_names=None`` reads every stored attribute; ``[]`` reads none.
    ``progress(done, total)`` is called as cells arrive (counted in cells), as
    ``write_points`` does for chunk objects.
    Points come back grouped by cell, not in the order they were written.
    """
    level = check_level(level)
    if bbox is not None:
        bbox = check_bbox(bbox)
    kv = KV(resolve_store(store, mode="r", backend=backend, backend_kwargs=backend_kwargs))
    snap = load_snapshot(kv)
    if bbox is not None:
        bbox = check_bbox(bbox, snap.meta.ndim)
    if attribute_names is not None and isinstance(attribute_names, str):
        attribute_names = [attribute_names]
    data = read_level(snap, level, bbox=bbox, attribute_names_=attribute_names, progress=progress)
    return PointCloud(data.positions, data.attributes, level)


def check_level(level: Any) -> int:
    """``level`` as an ``int``; a string, float or bool is a mistake, named as such."""
    import numbers

    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise ValidationError(
            f"level must be an integer (0 is the full resolution), got {type(level).__name__} "
            f"{level!r}"
        )
    return int(level)


def check_bbox(bbox: Any, ndim: int | None = None) -> tuple[list[float], list[float]]:
    """``bbox`` as two float lists, refusing what would silently select nothing.

    A box with NaN corners, or with a min above its max, matches no point; both
    are caller mistakes, so they raise instead of returning an empty cloud.
    With ``ndim``, each corner must have that many values.
    """
    try:
        lo = [float(v) for v in bbox[0]]
        hi = [float(v) for v in bbox[1]]
        extra = len(bbox) != 2
    except (TypeError, ValueError, IndexError) as exc:
        raise ValidationError(f"bbox must be ((min...), (max...)), got {bbox!r}") from exc
    if extra or len(lo) != len(hi):
        raise ValidationError(
            f"bbox must be two corners of equal length ((min...), (max...)), got {bbox!r}"
        )
    if ndim is not None and len(lo) != ndim:
        raise ValidationError(
            f"bbox corners have {len(lo)} values but this store has {ndim} axes; "
            f"give {ndim} values per corner"
        )
    if any(v != v for v in (*lo, *hi)):
        raise ValidationError(f"bbox has NaN coordinates: {bbox!r}")
    flipped = [i for i, (a, b) in enumerate(zip(lo, hi, strict=True)) if a > b]
    if flipped:
        raise ValidationError(
            f"bbox min is above its max on axis {flipped}: ({lo}, {hi}); "
            "give ((min...), (max...)) with min <= max"
        )
    return lo, hi

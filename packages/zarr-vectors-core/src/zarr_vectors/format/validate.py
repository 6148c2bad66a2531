"""Checks of everything a write or read is given, made before the store is touched.

Geometry types share these: positions are an ``(n, D)`` float array, per-vertex
attributes one value (or row) per vertex, boxes two corners with min <= max.
Each check raises :class:`~zarr_vectors.exceptions.ValidationError` naming
what was wrong and what to do, so a refused write leaves no trace.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.grid import column_extent
from zarr_vectors.format.metadata import RootMetadata

__all__ = [
    "check_attribute_name",
    "check_attributes",
    "check_bbox",
    "check_fits",
    "check_in_cell",
    "check_inside",
    "check_level",
    "check_positions",
    "data_bounds",
    "first_misplaced",
]


def check_positions(positions: Any, dtype: Any) -> npt.NDArray[Any]:
    """``positions`` as a C-contiguous little-endian float ``(n, D)`` array of finite values."""
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
        if arr.dtype.kind in "iu" and arr.size:
            _check_exact_in_float32(arr)
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


#: Integers above this magnitude are not all exact in float32 (24-bit significand).
FLOAT32_EXACT = 2**24


def _check_exact_in_float32(arr: npt.NDArray[Any]) -> None:
    """Refuse integer positions that the default float32 would round (|value| > 2**24).

    Decided: refused rather than warned, before anything is written. A
    warning is easily lost in a pipeline and the rounded points would be
    stored for good; ``dtype=np.float64`` stores every integer up to 2**53
    exactly, and is what the message asks for.
    """
    lo, hi = int(arr.min()), int(arr.max())
    if max(abs(lo), abs(hi)) > FLOAT32_EXACT:
        raise ValidationError(
            f"integer positions up to {max(abs(lo), abs(hi))} would be rounded by the default "
            f"dtype float32 (exact only up to 2**24 = {FLOAT32_EXACT}); pass dtype=np.float64"
        )


def check_in_cell(
    positions: npt.NDArray[Any], world: Sequence[int], cell_size: Sequence[float]
) -> str | None:
    """Why ``positions`` cannot be the rows of the cell ``world``, or None when they can.

    Binds a cell's bytes to its key: every point lies in the cell
    ``floor(x / cell_size)`` it was grouped into, so a point outside the
    cell's box means the object holds another cell's bytes (swapped or
    misplaced files), which its checksum cannot tell. The first and the last
    point are checked: a whole object in the wrong place has all its points
    elsewhere, while damage inside an object is the checksum's to find; so the
    check costs the same for any cell size (a min and max over every point
    cost 4x a whole read). A margin of a millionth of the cell (and of the
    coordinate) accepts points on a boundary that another writer's arithmetic
    placed on the other side.
    """
    n = len(positions)
    if not n:
        return None
    for row in (positions[0].tolist(), positions[n - 1].tolist()):
        for axis, (x, w, c) in enumerate(zip(row, world, cell_size, strict=True)):
            start, end = float(w) * c, float(w + 1) * c
            slack = 1e-6 * (c + abs(start) + abs(end))
            if not start - slack <= x < end + slack:
                return (
                    f"it holds a point at {x:g} on axis {axis}, outside the cell's "
                    f"{start:g}..{end:g}: the object holds another cell's bytes (moved or "
                    "swapped files)"
                )
    return None


def first_misplaced(
    cells: Sequence[tuple[Sequence[int], npt.NDArray[Any]]], cell_size: Sequence[float]
) -> int | None:
    """Index of the first of ``cells`` (world index, positions) that fails :func:`check_in_cell`.

    The same test for a whole batch in a few numpy operations: a read checks
    every cell it decodes, and one call per cell cost 5-10 % of a full read.
    """
    kept = [i for i, (_, pts) in enumerate(cells) if len(pts)]  # an empty cell has no rows
    if not kept:
        return None
    worlds = np.array([cells[i][0] for i in kept], dtype=np.float64)
    # Each cell's first and last row by a strided view (one row twice in a cell of one).
    ends = [p[:: len(p) - 1] if len(p) > 1 else p[[0, 0]] for p in (cells[i][1] for i in kept)]
    rows = np.concatenate(ends).astype(np.float64).reshape(len(kept), 2, -1)
    size = np.asarray(cell_size, dtype=np.float64)
    start, end = worlds * size, (worlds + 1) * size
    slack = 1e-6 * (size + np.abs(start) + np.abs(end))
    inside = (rows >= (start - slack)[:, None, :]) & (rows < (end + slack)[:, None, :])
    bad = np.flatnonzero(~inside.all(axis=(1, 2)))
    return kept[int(bad[0])] if len(bad) else None


def check_attributes(attrs: Mapping[str, Any] | None, n: int) -> dict[str, npt.NDArray[Any]]:
    """Per-vertex attribute columns, each with ``n`` rows of a numeric or bool dtype."""
    out: dict[str, npt.NDArray[Any]] = {}
    for name, values in (attrs or {}).items():
        check_attribute_name(name)
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


#: Longest attribute name, in UTF-8 bytes: one path segment on common file systems.
MAX_NAME_BYTES = 255
_RESERVED_NAMES = frozenset({"c", "zarr.json"})


def check_attribute_name(name: object) -> str:
    """``name`` if every backend can store an array by it, else a ValidationError saying why.

    The name becomes a path segment (``0/vertex_attributes/NAME/...``): a
    file name on the local disk, part of an object key elsewhere, so it must
    be a valid segment everywhere, before anything is written.
    """
    problem = None
    if not isinstance(name, str) or not name:
        problem = "it must be a non-empty string"
    elif any(ch in name for ch in "/\\"):
        problem = "it contains '/' or a backslash"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        problem = "it contains a control character (NUL, tab, newline, ...)"
    elif name.startswith("."):
        problem = "it starts with '.' (hidden files, '.', '..' and this package's own keys)"
    elif name in _RESERVED_NAMES:
        problem = f"{name!r} is reserved by the format"
    elif (size := len(name.encode("utf-8", "surrogatepass"))) > MAX_NAME_BYTES:
        problem = f"it is {size} bytes long (at most {MAX_NAME_BYTES})"
    else:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            problem = "it is not valid Unicode text (a lone surrogate)"
    if problem is not None:
        raise ValidationError(
            f"attribute name {name!r:.80} cannot be stored: {problem}; rename the column"
        )
    return name  # type: ignore[return-value]


def _count_outside(positions: npt.NDArray[Any], lo: Sequence[float], hi: Sequence[float]) -> int:
    p = positions.astype(np.float64, copy=False)
    return int((~np.all((p >= np.asarray(lo)) & (p <= np.asarray(hi)), axis=1)).sum())


def check_inside(positions: npt.NDArray[Any], meta: RootMetadata, *, append: bool) -> None:
    """Refuse positions outside the store's bounds, saying which bounds would hold them."""
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
    n_out = _count_outside(positions, lo, hi)
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


def data_bounds(positions: npt.NDArray[Any]) -> tuple[list[float], list[float]]:
    """The extent of ``positions`` as (min, max) float lists: default bounds of a new store."""
    emin, emax = column_extent(positions)
    return emin.astype(np.float64).tolist(), emax.astype(np.float64).tolist()


def check_level(level: Any) -> int:
    """``level`` as an ``int``; a string, float or bool is a mistake, named as such."""
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


def check_fits(what: str, values: npt.NDArray[Any], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """``values`` cast to the stored ``dtype``, refusing any value the cast would change.

    Appends go into arrays whose dtype the store fixed; a silent cast would wrap
    integers (300 into int8 is 44), overflow floats to infinity (1e6 into
    float16) or turn numbers into booleans. Only exact conversions pass, and a
    refusal names the column and an example value.
    """
    target = np.dtype(dtype)
    if values.dtype == target:
        return values
    kind = target.kind
    flat = values.reshape(-1)
    bad: npt.NDArray[np.bool_]
    if kind == "b":
        bad = ~np.isin(flat, (0, 1)) if values.dtype.kind != "b" else np.zeros(len(flat), bool)
    elif kind in "iu":
        if values.dtype.kind == "f":
            finite = np.isfinite(flat)
            whole = np.zeros(len(flat), bool)
            whole[finite] = flat[finite] == np.floor(flat[finite])
            bad = ~whole
        else:
            bad = np.zeros(len(flat), bool)
        info = np.iinfo(target)
        if values.dtype.kind != "b":
            bad = bad | (flat < info.min) | (flat > info.max)
    elif kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            cast = flat.astype(target)
        bad = np.isfinite(flat.astype(np.float64, copy=False)) & ~np.isfinite(cast)
    else:
        raise ValidationError(f"{what} is stored as {target}, which zarr-vectors cannot append to")
    if np.any(bad):
        first = flat[np.flatnonzero(bad)[0]]
        raise ValidationError(
            f"{what} is stored as {target}, and {int(np.count_nonzero(bad))} new value(s) do "
            f"not fit it (e.g. {first!r}); convert them first or rewrite the store with a "
            "wider dtype (mode='w')"
        )
    return values.astype(target)

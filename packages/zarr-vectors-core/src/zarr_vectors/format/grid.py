"""Assigning points to spatial cells, vectorised and in linear time.

A point's world cell is ``floor(position / chunk_shape)`` per axis; its grid
cell (the chunk index of the cell arrays) subtracts the grid origin,
``floor(bounds_min / chunk_shape)``.

Grouping is a counting sort, because writing a large cloud spends most of its
CPU here and a comparison sort over every point was the largest cost of a
write. The steps, each a pass over the points (no per-point Python):

1. the flat (row-major) index of each point's cell inside the bounding box of
   the occupied cells, computed in blocks so no ``(n, D)`` float64 or int64
   copy of the positions is ever made;
2. ``np.bincount`` of those indices: the count of every cell, hence the cell
   runs (``starts``) and the world coordinates of the occupied cells, in
   lexicographic order of the world coordinates;
3. the occupied cells renumbered densely (0 .. m-1), so the sort key is as
   narrow as the number of occupied cells allows;
4. the stable placement: numpy's ``argsort(kind="stable")`` is a radix sort
   for 8- and 16-bit integers, so keys of up to 16 bits (65,536 occupied
   cells) take one radix call, and wider keys two radix levels (see
   :func:`stable_order`).

Stability matters: points keep their input order inside a cell, and appends
rely on it (the old rows of a cell are concatenated first and stay first).

Putting the rows themselves in cell order (:meth:`CellGroups.sort_rows`) is a
counting sort's second pass when at most :data:`SCATTER_CELLS` cells are
occupied: block by block, each block's rows are ordered by cell in cache and
copied to their cells' next free places (:func:`scatter_rows`). Reading the
input once in order is about three times faster than gathering it through a
global order (:func:`gather_rows`), whose every row is a cache miss.

Grids too large for a count table (more cells in the bounding box than
:data:`TABLE_LIMIT` or points allow) find their occupied cells with
``np.unique`` instead (a sort, but only then); grids whose flat index would not
fit in 63 bits sort the per-axis cell coordinates lexicographically.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.storage.concurrency import map_bounded

__all__ = [
    "CellGroups",
    "axis_cells",
    "cells_in_box",
    "gather_rows",
    "group_by_cell",
    "scatter_rows",
    "world_key",
]

#: Rows from which :func:`gather_rows` splits a gather over two threads.
GATHER_SPLIT = 1 << 22

#: Most occupied cells for which rows are sorted by :func:`scatter_rows` (16-bit keys).
SCATTER_CELLS = 1 << 16
#: Rows per block of :func:`scatter_rows` (a block's rows and scratch stay in cache).
SCATTER_BLOCK = 1 << 18
#: Up to this many cells a block's runs are copied one by one; above, by one scatter.
_RUN_COPY_CELLS = 256

#: Rows per block when computing cell indices: the float64 scratch of a block
#: (``BLOCK * 8`` bytes) stays in a core's L2 cache.
BLOCK = 1 << 16
#: A count table (``np.bincount``) is used while the bounding box of the
#: occupied cells holds at most ``max(TABLE_LIMIT, n_points)`` cells, so its
#: memory stays within 8 bytes per point beyond this floor.
TABLE_LIMIT = 1 << 22
# Largest flat index the mixed-radix key may reach (keys are computed in int64).
_FLAT_LIMIT = 1 << 62


@dataclass(frozen=True)
class CellGroups:
    """Points grouped by cell: the occupied cells, their runs, and how to sort rows.

    Cells come in lexicographic order of their world coordinates (``world``);
    run ``i`` of the sorted rows is ``starts[i]:starts[i + 1]``, and rows of one
    cell keep their input order. ``cell_of_row`` (the dense cell number of each
    input row) is kept when rows can be sorted by :func:`scatter_rows`;
    ``order`` (the input index of each sorted row) is then computed only if
    asked for.
    """

    world: npt.NDArray[np.int64]  # (n_cells, D) world cell coordinates
    starts: npt.NDArray[np.int64]  # (n_cells + 1,) run boundaries into ``order``
    cell_of_row: npt.NDArray[Any] | None = None
    given_order: npt.NDArray[np.intp] | None = field(default=None, repr=False)

    @cached_property
    def order(self) -> npt.NDArray[np.intp]:
        """Input index of each row in cell order (increasing inside a run)."""
        if self.given_order is not None:
            return self.given_order
        if self.cell_of_row is None:
            raise ValueError("CellGroups needs cell_of_row or given_order")
        return stable_order(self.cell_of_row, len(self.world))

    @property
    def counts(self) -> npt.NDArray[np.int64]:
        return np.diff(self.starts)

    def __len__(self) -> int:
        return len(self.world)

    def sort_rows(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``values`` (one row per input point) in cell order: ``values[order]``."""
        if self.cell_of_row is not None and _scatterable(values):
            return scatter_rows(values, self.cell_of_row, self.starts)
        return gather_rows(values, self.order)


def world_cells(
    positions: npt.NDArray[np.floating], chunk_shape: Sequence[float]
) -> npt.NDArray[np.int64]:
    """World cell coordinates of every point (computed in float64)."""
    cs = np.asarray(chunk_shape, dtype=np.float64)
    scaled = positions.astype(np.float64)  # always a fresh copy, so in-place is safe
    scaled /= cs
    np.floor(scaled, out=scaled)
    return scaled.astype(np.int64)


def column_extent(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Per-column min and max. Column by column: ``a.min(axis=0)`` on an (n, 3)
    array walks it with a stride and is ~10x slower."""
    lo = np.array([values[:, i].min() for i in range(values.shape[1])])
    hi = np.array([values[:, i].max() for i in range(values.shape[1])])
    return lo, hi


def _cell_extent(
    positions: npt.NDArray[Any], cs: npt.NDArray[np.float64]
) -> tuple[list[int], list[int]]:
    """Lowest and highest world cell per axis.

    ``floor(x / c)`` in float64 is monotonic in ``x``, so the extreme cells are
    those of the extreme coordinates: two reductions per axis instead of a
    cell index per point.
    """
    emin, emax = column_extent(positions)
    lo64 = np.floor(emin.astype(np.float64) / cs)
    hi64 = np.floor(emax.astype(np.float64) / cs)
    if not (np.all(np.isfinite(lo64)) and np.all(np.isfinite(hi64))):
        raise ValidationError(
            "positions contain NaN or infinite coordinates; remove those points before writing"
        )
    if np.any(np.abs(lo64) >= _FLAT_LIMIT) or np.any(np.abs(hi64) >= _FLAT_LIMIT):
        raise ValidationError(
            f"cell coordinates reach {lo64.tolist()} .. {hi64.tolist()}, beyond what a 64-bit "
            "cell index holds; use a larger chunk_shape"
        )
    return [int(v) for v in lo64], [int(v) for v in hi64]


def axis_cells(
    values: npt.NDArray[Any], cell: float, *, out: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The cell of each value on one axis, ``floor(float64(value) / cell)``, into ``out``.

    The one definition of a point's cell used block by block (grouping here,
    the streaming writer's partitions): both must agree to the last point.
    """
    out[...] = values
    out /= cell
    np.floor(out, out=out)
    return out


def _flat_keys(
    positions: npt.NDArray[Any],
    cs: npt.NDArray[np.float64],
    lo: Sequence[int],
    span: Sequence[int],
    dtype: type[np.unsignedinteger[Any]] | type[np.signedinteger[Any]],
) -> npt.NDArray[Any]:
    """Row-major index of each point's cell in the box ``lo .. lo + span - 1``.

    ``floor(float64(x) / c)`` exactly like :func:`world_cells`, but block by
    block with cache-sized float64 and int64 scratch, so no ``(n, D)`` copy is
    made and the result is stored straight into the narrowest ``dtype`` that
    holds the box's cell count.
    """
    n, d = positions.shape
    out = np.empty(n, dtype=dtype)
    size = min(n, BLOCK)
    scratch = np.empty(size, dtype=np.float64)
    acc_all = np.empty(size, dtype=np.int64)
    axis_all = np.empty(size, dtype=np.int64)
    for s in range(0, n, BLOCK):
        e = min(n, s + BLOCK)
        t, acc, axis = scratch[: e - s], acc_all[: e - s], axis_all[: e - s]
        for a in range(d):
            axis_cells(positions[s:e, a], float(cs[a]), out=t)
            t -= lo[a]
            if a == 0:
                acc[...] = t
            else:
                axis[...] = t
                acc *= span[a]
                acc += axis
        out[s:e] = acc
    return out


def _bincount(keys: npt.NDArray[Any], length: int) -> npt.NDArray[np.int64]:
    """``np.bincount(keys, minlength=length)`` in slices.

    ``np.bincount`` first widens its whole input to ``intp``; slicing bounds
    that temporary (8 bytes per point otherwise) while adding ``length`` per
    slice, so slices are at least ``length`` long.
    """
    counts = np.zeros(length, dtype=np.int64)
    step = max(1 << 22, length)
    for s in range(0, len(keys), step):
        counts += np.bincount(keys[s : s + step], minlength=length)
    return counts


def _uint_for(n_values: int) -> type[np.unsignedinteger[Any]]:
    """Narrowest unsigned dtype holding ``0 .. n_values - 1``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if n_values <= int(np.iinfo(dt).max) + 1:
            return dt
    return np.uint64


def _radix_work(n_values: int) -> int:
    """Which branch of :func:`stable_order` keys below ``n_values`` take (more is slower)."""
    bits = (n_values - 1).bit_length()
    return 0 if bits <= 8 else 1 if bits <= 16 else 2 if bits <= 24 else 2 + (bits + 15) // 16


def stable_order(keys: npt.NDArray[Any], n_values: int) -> npt.NDArray[np.intp]:
    """Indices that sort ``keys`` (integers in ``0 .. n_values - 1``) stably, in O(n).

    numpy sorts 8- and 16-bit integers with a radix sort when asked for a
    stable sort, so keys of up to 16 bits take one call. Up to 24 bits, the
    top 8 bits split the points into at most 256 buckets (one radix pass) and
    each bucket is radix-sorted on its low 16 bits: the buckets are small
    enough to stay in cache, which measured about 1.5x faster than a
    least-significant-digit pass over all points. Wider keys (more than 2**24
    occupied cells) are sorted least-significant 16-bit digit first.
    """
    if n_values <= 1 << 8:
        return np.argsort(keys.astype(np.uint8, copy=False), kind="stable")
    if n_values <= 1 << 16:
        return np.argsort(keys.astype(np.uint16, copy=False), kind="stable")
    bits = (n_values - 1).bit_length()
    if bits <= 24:
        low_bits = bits - 8
        top = (keys >> low_bits).astype(np.uint8)
        by_top = np.argsort(top, kind="stable")
        bounds = np.zeros(257, dtype=np.int64)
        np.cumsum(_bincount(top, 256), out=bounds[1:])
        del top
        low = keys.astype(np.uint16)  # wraps: the low 16 bits
        if low_bits < 16:
            low &= (1 << low_bits) - 1
        low = np.take(low, by_top)
        # Each bucket is reordered in place (a bucket-sized temporary only).
        for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if e - s > 1:
                run = by_top[s:e]
                run[...] = np.take(run, np.argsort(low[s:e], kind="stable"))
        return by_top
    wide = keys.astype(np.uint64, copy=False)
    order = np.argsort((wide & 0xFFFF).astype(np.uint16), kind="stable")
    shift = 16
    while (n_values - 1) >> shift:
        rest = (n_values - 1) >> shift
        digit = ((wide >> np.uint64(shift)) & 0xFFFF).astype(np.uint8 if rest < 256 else np.uint16)
        order = np.take(order, np.argsort(np.take(digit, order), kind="stable"))
        shift += 16
    return order


def _group_lexicographic(cells: npt.NDArray[np.int64]) -> CellGroups:
    """Grouping for grids whose flat index would overflow: sort rows by axis."""
    n = len(cells)
    order = np.lexsort(cells.T[::-1])
    scells = cells[order]
    cut = np.flatnonzero(np.any(scells[1:] != scells[:-1], axis=1)) + 1
    starts = np.concatenate(([0], cut, [n])).astype(np.int64)
    return CellGroups(world=scells[starts[:-1]], starts=starts, given_order=order)


def group_by_cell(
    positions: npt.NDArray[np.floating],
    chunk_shape: Sequence[float],
    bin_shape: Sequence[float] | None = None,
) -> CellGroups:
    """Group points by the cell (of size ``bin_shape``, default ``chunk_shape``) holding them.

    ``positions`` is ``(n, D)``. The result lists the occupied cells in
    lexicographic order of their world coordinates and, per cell, the input
    indices of its points in input order (see :class:`CellGroups`).
    """
    positions = np.asarray(positions)
    if positions.ndim != 2:
        raise ValidationError(
            f"positions must be a 2-D (n_points, n_dims) array, got shape {positions.shape}"
        )
    n, d = positions.shape
    if n == 0:
        empty = np.empty(0, np.intp)
        return CellGroups(np.empty((0, d), np.int64), np.zeros(1, np.int64), given_order=empty)
    cs = np.asarray(bin_shape if bin_shape is not None else chunk_shape, dtype=np.float64)
    lo, hi = _cell_extent(positions, cs)
    span = [h - low + 1 for low, h in zip(lo, hi, strict=True)]
    n_box = math.prod(span)
    if n_box > _FLAT_LIMIT:  # astronomically sparse: no flat index fits in 63 bits
        return _group_lexicographic(world_cells(positions, cs.tolist()))

    cell_of_row: npt.NDArray[Any] | None = None
    order: npt.NDArray[np.intp] | None = None
    if n_box <= max(TABLE_LIMIT, n):
        flat = _flat_keys(
            positions, cs, lo, span, _uint_for(n_box) if n_box <= 1 << 32 else np.int64
        )
        counts = _bincount(flat, n_box)
        occupied = np.flatnonzero(counts)
        m = len(occupied)
        run_counts = counts[occupied]
        del counts
        if m <= SCATTER_CELLS or _radix_work(m) < _radix_work(n_box):
            # Renumber the occupied cells densely: the keys of a scatter, or fewer
            # digits for the radix sort.
            lut = np.zeros(n_box, dtype=_uint_for(m))
            lut[occupied] = np.arange(m, dtype=lut.dtype)
            dense = np.take(lut, flat)
            del lut, flat
            if m <= SCATTER_CELLS:
                cell_of_row = dense  # rows sorted by scatter_rows; order only if asked
            else:
                order = stable_order(dense, m)
        else:
            order = stable_order(flat, n_box)
    else:  # a sparse grid too large for a count table: find the occupied cells by sorting
        flat = _flat_keys(positions, cs, lo, span, np.int64)
        uniq, inverse, run_counts = np.unique(flat, return_inverse=True, return_counts=True)
        del flat
        occupied = uniq
        m = len(uniq)
        order = stable_order(inverse.reshape(-1), m)

    starts = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(run_counts, out=starts[1:])
    world = np.stack(np.unravel_index(occupied, span), axis=1).astype(np.int64)
    world += np.asarray(lo, dtype=np.int64)
    return CellGroups(world=world, starts=starts, cell_of_row=cell_of_row, given_order=order)


def world_key(coords: Sequence[int]) -> str:
    """The ``nonempty_chunks`` spelling of a world cell: ``"i.j.k"``."""
    return ".".join(str(int(c)) for c in coords)


def parse_world_key(text: str) -> tuple[int, ...]:
    """Inverse of :func:`world_key`."""
    return tuple(int(p) for p in text.split("."))


def cells_in_box(
    cells: npt.NDArray[np.int64],
    chunk_shape: Sequence[float],
    box: tuple[Sequence[float], Sequence[float]],
) -> npt.NDArray[np.bool_]:
    """Which of the world cells ``cells`` (n, D) intersect the closed box ``[lo, hi]``."""
    cs = np.asarray(chunk_shape, dtype=np.float64)
    lo = np.floor(np.asarray(box[0], np.float64) / cs)
    hi = np.floor(np.asarray(box[1], np.float64) / cs)
    inside: npt.NDArray[np.bool_] = np.all((cells >= lo) & (cells <= hi), axis=1)
    return inside


def gather_rows(values: npt.NDArray[Any], order: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
    """``values`` reordered by ``order`` (whole rows), for grouping points by cell.

    ``np.take`` gathers rows about 3x faster than fancy indexing, and releases
    the GIL: a large gather is split in two halves on two threads (measured
    0.58 s against 0.83 s for 30M rows of 12 bytes on 2 cores), since it is
    bound by memory latency more than by bandwidth.
    """
    n = len(order)
    if n < GATHER_SPLIT:
        return np.take(values, order, axis=0)
    out = np.empty((n, *values.shape[1:]), dtype=values.dtype)
    half = n // 2

    def part(bounds: tuple[int, int]) -> None:
        lo, hi = bounds
        np.take(values, order[lo:hi], axis=0, out=out[lo:hi])

    map_bounded(part, [(0, half), (half, n)], 2)
    return out


def _scatterable(values: npt.NDArray[Any]) -> bool:
    """Whether :func:`scatter_rows` can sort ``values`` (contiguous rows of plain bytes)."""
    return (
        values.ndim >= 1
        and values.flags.c_contiguous
        and not values.dtype.hasobject
        and values.dtype.itemsize * math.prod(values.shape[1:]) > 0
    )


def _as_records(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A 1-D view with one opaque record per row (so one ``take`` moves whole rows)."""
    row = values.dtype.itemsize * math.prod(values.shape[1:])
    return values.reshape(len(values), -1).view(np.dtype(f"V{row}")).reshape(len(values))


def scatter_rows(
    values: npt.NDArray[Any],
    cell_of_row: npt.NDArray[Any],
    starts: npt.NDArray[np.int64],
) -> npt.NDArray[Any]:
    """``values`` (C-contiguous, one row per input point) sorted stably by cell.

    ``cell_of_row`` holds each row's dense cell number (``0 .. len(starts) - 2``)
    and ``starts`` the cells' runs in the result. The input is read in blocks of
    :data:`SCATTER_BLOCK` rows; a block is ordered by cell in cache, and each
    cell's rows go to that cell's next free rows of the result (a few cells:
    one copy per run; many: one scatter per block). The blocks are split in
    contiguous parts over up to four threads (numpy releases the GIL), each
    starting from cursors that count the rows of the parts before it, so the
    result is exactly ``values[order]``.
    """
    n = len(values)
    m = len(starts) - 1
    out = np.empty_like(values)
    if n == 0:
        return out
    src, dst = _as_records(values), _as_records(out)
    blocks = -(-n // SCATTER_BLOCK)
    parts = max(1, min(4, os.cpu_count() or 1, blocks))
    edges = [min(n, (blocks * i // parts) * SCATTER_BLOCK) for i in range(parts + 1)]
    ranges = list(itertools.pairwise(edges))
    # Where each part's rows of a cell begin: after the rows of the parts before it.
    per_part = map_bounded(lambda r: _bincount(cell_of_row[r[0] : r[1]], m), ranges[:-1], parts)
    cursors = [starts[:-1].copy()]
    for counted in per_part:
        cursors.append(cursors[-1] + counted)

    def part(i: int) -> None:
        cursor = cursors[i]
        for s in range(edges[i], edges[i + 1], SCATTER_BLOCK):
            e = min(edges[i + 1], s + SCATTER_BLOCK)
            keys = cell_of_row[s:e]
            by_cell = np.argsort(keys, kind="stable")
            rows = np.take(src[s:e], by_cell)
            counts = np.bincount(keys, minlength=m)
            if m <= _RUN_COPY_CELLS:
                at = 0
                for c in np.flatnonzero(counts).tolist():
                    k, d = int(counts[c]), int(cursor[c])
                    dst[d : d + k] = rows[at : at + k]
                    at += k
            else:
                sorted_keys = np.take(keys, by_cell)
                first = np.zeros(m, dtype=np.int64)
                np.cumsum(counts[:-1], out=first[1:])
                dest = np.arange(e - s, dtype=np.int64)
                dest -= np.take(first, sorted_keys)
                dest += np.take(cursor, sorted_keys)
                dst[dest] = rows
            cursor += counts

    map_bounded(part, list(range(parts)), parts)
    return out

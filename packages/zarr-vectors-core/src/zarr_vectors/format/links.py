"""Links: records joining vertices of a level, within a cell and across cells.

A link record names ``L`` vertices (``L = 2`` for an edge, 3 for a triangle)
each as ``(cell, row in that cell)``. The published 0.9.2 layout, read from
its stores and its source for facts:

* records live under ``L/links/0/<offsets>/``, one cell array per *offsets*
  segment: the other endpoints' cells minus the *source* cell (the first
  endpoint after placement), components spelt ``0``, ``+1``, ``-1`` joined by
  ``.``, one group per endpoint beyond the first joined by ``_``. A record
  whose endpoints share one cell is *intra* (``0.0.0``); the cell of the array
  that holds a record is its source cell (grid key, world minus origin);
* placement (``store: canonical``, undirected families): an intra record keeps
  its input order; any other record has its endpoints sorted by cell
  (lexicographically) then row, and files once under that first endpoint. A
  ``perm`` column in front of the rows records the sort (the Lehmer code of
  the permutation), so the input order is restored on reading;
* intra cells hold the rows flat (``int64``, ``L`` per record), with a
  ``link_fragments`` cell beside them (a fragment index naming the groups);
  the other cells hold a self-describing ragged blob (an int64 group count,
  int64 byte offsets of each group, then the rows);
* ``L/link_attributes/NAME/0/<offsets>/`` mirror the link cells row for row,
  raw values.

Everything here is arrays in, arrays out; it knows cells, not files.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.grid import stable_order

__all__ = [
    "LinkBuckets",
    "decode_link_cell",
    "encode_cross_cell",
    "format_offsets",
    "parse_offsets",
    "partition_links",
    "place_links",
]

Cell = tuple[int, ...]


def _component(v: int) -> str:
    return "0" if v == 0 else (f"+{v}" if v > 0 else str(v))


def format_offsets(offsets: npt.NDArray[np.int64]) -> str:
    """The path segment of ``(L - 1, D)`` offsets, e.g. ``"+1.0.-1"``."""
    return "_".join(".".join(_component(int(c)) for c in row) for row in offsets)


def parse_offsets(segment: str, ndim: int) -> npt.NDArray[np.int64]:
    """``(L - 1, D)`` offsets from a path segment; ``ValueError`` if it is not one."""
    rows = []
    for part in segment.split("_"):
        comps = part.split(".")
        if len(comps) != ndim or any(c != "0" and c[:1] not in "+-" for c in comps):
            raise ValueError(f"{segment!r} is not an offsets segment for {ndim} axes")
        rows.append([int(c) for c in comps])
    return np.asarray(rows, dtype=np.int64)


def _lehmer(perm: Sequence[int]) -> int:
    avail = list(range(len(perm)))
    code, fact = 0, math.factorial(len(perm))
    for i, p in enumerate(perm):
        fact //= len(perm) - i
        k = avail.index(p)
        code += k * fact
        avail.pop(k)
    return code


def _perm_tables(
    width: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(code by ``sigma @ radix``, radix, inverse permutation by code)."""
    radix = (width ** np.arange(width - 1, -1, -1)).astype(np.int64)
    code_of = np.full(width**width, -1, dtype=np.int64)
    inverse = np.zeros((math.factorial(width), width), dtype=np.int64)
    for perm in itertools.permutations(range(width)):
        code = _lehmer(perm)
        code_of[int(np.dot(perm, radix))] = code
        inverse[code] = np.argsort(perm)
    return code_of, radix, inverse


@dataclass
class LinkBuckets:
    """Records grouped by the cell that stores them: ``(segment, source cell) -> rows``.

    ``rows`` are what the cell stores (``perm`` column first where the segment
    has one) and ``index`` the input record of each row, in input order.
    """

    width: int
    cells: dict[tuple[str, Cell], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]

    def segments(self) -> list[str]:
        return sorted({seg for seg, _ in self.cells})


def partition_links(
    chunks: npt.NDArray[np.int64], rows: npt.NDArray[np.int64], *, directed: bool = False
) -> LinkBuckets:
    """Place records (``chunks`` ``(M, L, D)`` world cells, ``rows`` ``(M, L)``) in their cells."""
    chunks = np.asarray(chunks, dtype=np.int64)
    m, width, ndim = chunks.shape
    if m == 0:
        return LinkBuckets(width, {})
    world, cell = np.unique(chunks.reshape(-1, ndim), axis=0, return_inverse=True)
    return place_links(world, cell.reshape(m, width), rows, directed=directed)


def place_links(
    world: npt.NDArray[np.int64],
    cells: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    *,
    directed: bool = False,
) -> LinkBuckets:
    """:func:`partition_links` with each endpoint's cell a row number of ``world``.

    ``world`` is ``(C, D)`` distinct world cells in lexicographic order (as
    :func:`~zarr_vectors.format.grid.group_by_cell` numbers them), so comparing
    cell numbers compares cells, and sorting and grouping work on one integer per
    endpoint instead of ``D`` coordinates.
    """
    world = np.asarray(world, dtype=np.int64)
    cells = np.asarray(cells, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    m, width = cells.shape
    ndim = world.shape[1]
    out: dict[tuple[str, Cell], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
    if m == 0:
        return LinkBuckets(width, out)
    cell_text = [tuple(w) for w in world.tolist()]
    intra = np.all(cells == cells[:, :1], axis=1)
    # Records within one cell keep their order and file under it: group them by cell only.
    part = np.flatnonzero(intra)
    if len(part):
        src = cells[part, 0]
        order = stable_order(src, len(world))
        seg = format_offsets(np.zeros((width - 1, ndim), np.int64))
        for s, e, first in _runs(src[order]):
            rec = part[order[s:e]]
            out[(seg, cell_text[first])] = (np.ascontiguousarray(rows[rec]), rec)
    # The rest are sorted by (cell, row), placed, and filed under their first endpoint.
    part = np.flatnonzero(~intra)
    if len(part):
        _place_across(out, world, cell_text, part, cells[part], rows[part], directed)
    return LinkBuckets(width, out)


def _place_across(
    out: dict[tuple[str, Cell], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    world: npt.NDArray[np.int64],
    cell_text: list[Cell],
    part: npt.NDArray[np.int64],
    c: npt.NDArray[np.int64],
    r: npt.NDArray[np.int64],
    directed: bool,
) -> None:
    """File the records ``part`` whose endpoints (cells ``c``, rows ``r``) span cells."""
    k, width = c.shape
    ndim = world.shape[1]
    perm = np.zeros(k, dtype=np.int64)
    sigma = np.broadcast_to(np.arange(width, dtype=np.int64), (k, width))
    if not (directed or width == 1):
        span = int(r.max()) + 1
        if len(world) * span < 2**62:  # (cell, row) as one integer per endpoint
            sigma = np.argsort(c * span + r, axis=1, kind="stable")
        else:
            rec = np.repeat(np.arange(k, dtype=np.int64), width)
            flat = np.lexsort((r.reshape(-1), c.reshape(-1), rec))
            sigma = flat.reshape(k, width) - (np.arange(k, dtype=np.int64) * width)[:, None]
        code_of, radix, _ = _perm_tables(width)
        perm = code_of[sigma @ radix]
    sel = np.arange(k)[:, None]
    placed = c[sel, sigma]
    src = placed[:, 0]
    offsets = (world[placed[:, 1:]] - world[src][:, None, :]).reshape(k, -1)
    key = np.concatenate([src[:, None], offsets], axis=1)
    order = _lex_order(key)
    block = r[sel, sigma][order]
    if not directed:  # the perm column first
        block = np.concatenate([perm[order][:, None], block], axis=1)
    key_sorted, index = key[order], part[order]
    change = np.any(key_sorted[1:] != key_sorted[:-1], axis=1)
    starts = np.flatnonzero(np.concatenate(([True], change))).tolist()
    names: dict[tuple[int, ...], str] = {}
    for s, e in zip(starts, [*starts[1:], k], strict=True):
        head = key_sorted[s].tolist()
        off = tuple(head[1:])
        seg = names.get(off)
        if seg is None:
            seg = names[off] = format_offsets(np.asarray(off, np.int64).reshape(width - 1, ndim))
        out[(seg, cell_text[head[0]])] = (np.ascontiguousarray(block[s:e]), index[s:e])


def _runs(values: npt.NDArray[np.int64]) -> list[tuple[int, int, int]]:
    """``(start, end, value)`` of each run of equal ``values``."""
    if not len(values):
        return []
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    ends = [*starts[1:].tolist(), len(values)]
    return list(zip(starts.tolist(), ends, values[starts].tolist(), strict=True))


def _lex_order(key: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A stable order of ``key``'s rows, lexicographic: one sort of a packed key when the
    columns' ranges fit in 62 bits (the usual case), else ``np.lexsort``."""
    lo = key.min(axis=0)
    span = (key.max(axis=0) - lo + 1).astype(np.float64)
    if float(np.prod(span)) < 2.0**62:
        packed = np.zeros(len(key), dtype=np.int64)
        for j in range(key.shape[1]):
            packed = packed * int(span[j]) + (key[:, j] - lo[j])
        return np.argsort(packed, kind="stable").astype(np.int64)
    return np.lexsort(key.T[::-1]).astype(np.int64)


def encode_cross_cell(rows: npt.NDArray[np.int64]) -> bytes:
    """A cross-cell link cell: one group of rows behind its ragged header."""
    return np.array([1, 0], dtype="<i8").tobytes() + np.ascontiguousarray(rows, "<i8").tobytes()


def decode_link_cell(
    data: bytes, *, intra: bool, columns: int, dtype: np.dtype[Any], where: str
) -> npt.NDArray[np.int64]:
    """The ``(k, columns)`` rows of one link cell (every group, in order)."""
    dt = np.dtype(dtype).newbyteorder("<")
    if intra:
        flat = np.frombuffer(data, dtype=dt)
        if flat.size % columns:
            raise CorruptStoreError(
                f"{where}: {flat.size} values are not whole {columns}-wide rows"
            )
        return flat.reshape(-1, columns).astype(np.int64)
    if len(data) < 8:
        return np.empty((0, columns), np.int64)
    (k,) = np.frombuffer(data, "<i8", 1)
    body_at = 8 * (1 + int(k))
    if k < 0 or len(data) < body_at:
        raise CorruptStoreError(f"{where}: the link cell's header is truncated")
    offs = [*np.frombuffer(data, "<i8", int(k), 8).tolist(), len(data) - body_at]
    body = memoryview(data)[body_at:]
    parts = []
    for a, b in itertools.pairwise(offs):
        if not 0 <= a <= b <= len(body) or (b - a) % (dt.itemsize * columns):
            raise CorruptStoreError(f"{where}: a link group's byte range [{a}, {b}) is invalid")
        parts.append(np.frombuffer(body[a:b], dtype=dt).reshape(-1, columns))
    if not parts:
        return np.empty((0, columns), np.int64)
    return np.concatenate(parts).astype(np.int64)


def restore_order(
    rows: npt.NDArray[np.int64], *, has_perm: bool, width: int, where: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(vertex rows in input endpoint order, gather of each row's placed endpoints)``."""
    if not has_perm:
        ident = np.broadcast_to(np.arange(width, dtype=np.int64), (len(rows), width))
        return rows[:, :width], ident
    _, _, inverse = _perm_tables(width)
    perm = rows[:, 0]
    if perm.size and (perm.min() < 0 or perm.max() >= len(inverse)):
        raise CorruptStoreError(f"{where}: a link's perm index is out of range")
    gather = inverse[perm]
    return rows[:, 1:][np.arange(len(rows))[:, None], gather], gather


def link_array_attributes(
    offsets: npt.NDArray[np.int64], *, has_perm: bool, width: int
) -> Mapping[str, Any]:
    """The ``zv_array`` attributes of one ``links/0/<offsets>`` cell array."""
    return {
        "zv_array": "links",
        "dtype": "int64",
        "offsets": offsets.tolist(),
        "has_perm": has_perm,
        "link_width": width,
        "level_delta": 0,
    }

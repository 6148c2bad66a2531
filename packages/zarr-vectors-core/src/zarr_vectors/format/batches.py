"""Vertex input larger than memory: iterators of batches, memory maps and Dask arrays.

A write takes its vertices as one array when they fit in memory. Otherwise it
takes them as batches, checked one at a time against the layout of the first
(same width, dtype and attributes), and the commit sequence spills them to
disk (:mod:`zarr_vectors.format.spill`). This module turns what a caller may
pass into that form:

* an iterator (or any iterable that is not an array) of ``positions`` arrays or
  ``(positions, {name: values})`` pairs;
* a ``numpy.memmap`` (``np.load(path, mmap_mode="r")``) or any array larger than
  the memory budget: read in slices of rows;
* a Dask array (anything with ``.blocks`` and ``.compute``): computed one block
  of rows at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.grid import column_extent
from zarr_vectors.format.plan import Batch
from zarr_vectors.format.validate import check_attributes, check_fits, check_positions

__all__ = ["VertexStream", "is_stream", "vertex_stream"]

#: Rows per batch when slicing an array (about 48 MB of float32 3-D points).
SLICE_ROWS = 4_000_000


@dataclass
class VertexStream:
    """Checked batches of vertices, with the layout every batch must have."""

    #: An empty ``(0, D)`` array of the stored dtype (the layout of positions).
    template: npt.NDArray[Any]
    #: Empty ``(0, ...)`` attribute columns (their layouts).
    attribute_templates: dict[str, npt.NDArray[Any]]
    #: Gives the batches (again, for inputs that can be read twice).
    batches: Callable[[], Iterator[Batch]]
    #: Points in all, when known beforehand.
    rows: int | None
    #: Whether ``batches`` can be called more than once (arrays: yes; iterators: no).
    rereadable: bool

    def extent(self) -> tuple[list[float], list[float]]:
        """The bounds of all the points (one pass; only for re-readable inputs)."""
        lo: npt.NDArray[np.float64] | None = None
        hi: npt.NDArray[np.float64] | None = None
        for positions, _ in self.batches():
            if not len(positions):
                continue
            emin, emax = column_extent(positions)
            bmin, bmax = emin.astype(np.float64), emax.astype(np.float64)
            lo = bmin if lo is None else np.minimum(lo, bmin)
            hi = bmax if hi is None else np.maximum(hi, bmax)
        if lo is None or hi is None:
            raise ValidationError("cannot take bounds from zero points: pass bounds=(min, max)")
        return lo.tolist(), hi.tolist()


def is_stream(positions: Any, memory_limit: int | None) -> bool:
    """Whether ``positions`` must be written in batches rather than as one array."""
    if _is_dask(positions):
        return True
    if isinstance(positions, np.ndarray):
        too_big = memory_limit is not None and positions.nbytes * 4 > memory_limit
        return isinstance(positions, np.memmap) or too_big
    return isinstance(positions, Iterator) or (
        isinstance(positions, Iterable) and not isinstance(positions, list | tuple | str | bytes)
    )


def _is_dask(value: Any) -> bool:
    return hasattr(value, "blocks") and hasattr(value, "compute") and hasattr(value, "chunks")


def vertex_stream(
    positions: Any,
    vertex_attributes: Mapping[str, Any] | None,
    dtype: Any,
    memory_limit: int | None = None,
) -> VertexStream:
    """``positions`` (and attributes sliced alongside) as checked batches.

    Arrays are read in slices of rows sized from ``memory_limit`` (a batch and
    the copies made while checking it stay a small share of the budget).
    """
    raw: Callable[[], Iterator[tuple[Any, Mapping[str, Any]]]]
    rows: int | None
    if _is_dask(positions) or isinstance(positions, np.ndarray):
        rows = int(positions.shape[0]) if positions.ndim else 0
        row_bytes = max(1, int(np.prod(positions.shape[1:], dtype=np.int64))) * 8
        rows_per_slice = SLICE_ROWS
        if memory_limit is not None:
            rows_per_slice = max(10_000, min(SLICE_ROWS, memory_limit // (16 * row_bytes)))
        raw = _sliced(positions, vertex_attributes or {}, rows_per_slice)
        rereadable = True
    else:
        if vertex_attributes:
            raise ValidationError(
                "with batches of points, give each batch's attributes in the batch: yield "
                "(positions, {name: values}) pairs instead of passing vertex_attributes="
            )
        iterator = iter(positions)
        raw = _once(iterator)
        rows = None
        rereadable = False
    first_batches = raw()
    first = next(first_batches, None)
    if first is None:
        raise ValidationError("the batches of points are empty: there is nothing to write")
    pos0, attrs0 = _checked(first, dtype, None)
    template = pos0[:0]
    attr_templates = {n: a[:0] for n, a in attrs0.items()}

    def batches() -> Iterator[Batch]:
        source = itertools.chain([first], first_batches) if not rereadable else raw()
        for item in source:
            yield _checked(item, template.dtype, (template, attr_templates))

    if rereadable and hasattr(first_batches, "close"):
        first_batches.close()  # read again from the start by each call of batches()
    return VertexStream(template, attr_templates, batches, rows, rereadable)


def _once(iterator: Iterator[Any]) -> Callable[[], Iterator[tuple[Any, Mapping[str, Any]]]]:
    def batches() -> Iterator[tuple[Any, Mapping[str, Any]]]:
        for item in iterator:
            if isinstance(item, tuple) and len(item) == 2:
                yield item[0], item[1] or {}
            else:
                yield item, {}

    return batches


def _sliced(
    positions: Any, attributes: Mapping[str, Any], step: int = SLICE_ROWS
) -> Callable[[], Iterator[tuple[Any, Mapping[str, Any]]]]:
    for name, values in attributes.items():
        if len(values) != len(positions):
            raise ValidationError(
                f"attribute {name!r} has {len(values)} values but there are {len(positions)} "
                "points; give one value per point"
            )
    dask = _is_dask(positions)

    def batches() -> Iterator[tuple[Any, Mapping[str, Any]]]:
        if dask:
            starts = np.cumsum((0, *positions.chunks[0]))
            column = positions.rechunk({1: -1}) if positions.ndim == 2 else positions
            for i, block in enumerate(column.blocks):
                lo, hi = int(starts[i]), int(starts[i + 1])
                yield (
                    np.asarray(block.compute()),
                    {n: _rows(v, lo, hi) for n, v in attributes.items()},
                )
            return
        for lo in range(0, len(positions), step):
            hi = min(lo + step, len(positions))
            yield _rows(positions, lo, hi), {n: _rows(v, lo, hi) for n, v in attributes.items()}

    return batches


def _rows(values: Any, lo: int, hi: int) -> npt.NDArray[Any]:
    """Rows ``lo:hi`` as an array in memory.

    A memory map is read with plain file reads, not through the mapping: pages
    touched through a map stay resident (counted in the process's memory) until
    the kernel needs them, so a 100M-point map would fill the budget by itself.
    """
    if isinstance(values, np.memmap) and values.filename and values.flags.c_contiguous:
        row = values.dtype.itemsize * int(np.prod(values.shape[1:], dtype=np.int64))
        part = np.fromfile(
            values.filename,
            dtype=values.dtype,
            count=(hi - lo) * (row // values.dtype.itemsize),
            offset=int(values.offset) + lo * row,
        )
        return part.reshape(hi - lo, *values.shape[1:])
    part = values[lo:hi]
    return np.asarray(part.compute() if hasattr(part, "compute") else part)


def _checked(
    item: tuple[Any, Mapping[str, Any]],
    dtype: Any,
    layout: tuple[npt.NDArray[Any], dict[str, npt.NDArray[Any]]] | None,
) -> Batch:
    positions = check_positions(item[0], dtype)
    attributes = check_attributes(item[1], len(positions))
    if layout is None:
        return positions, attributes
    template, columns = layout
    if positions.shape[1] != template.shape[1]:
        raise ValidationError(
            f"a batch has {positions.shape[1]} axes but the first had {template.shape[1]}"
        )
    if sorted(attributes) != sorted(columns):
        raise ValidationError(
            f"a batch has attributes {sorted(attributes)} but the first had {sorted(columns)}; "
            "every batch needs the same attributes"
        )
    fitted = {n: check_fits(f"attribute {n!r}", a, columns[n].dtype) for n, a in attributes.items()}
    for n, a in fitted.items():
        if a.shape[1:] != columns[n].shape[1:]:
            raise ValidationError(
                f"attribute {n!r} has rows of shape {list(a.shape[1:])} in a batch but "
                f"{list(columns[n].shape[1:])} in the first"
            )
    return positions, fitted

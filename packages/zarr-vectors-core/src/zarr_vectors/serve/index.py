"""The spatial index Neuroglancer reads, laid over a store's cells and levels.

A store keeps level ``k``'s points in the cells of one grid (``chunk_shape``
from ``grid_origin``), level ``k > 0`` holding one centroid per
``chunk_shape * 2**k`` bin. The served index has one level per store level,
coarsest first, and index level ``i`` (store level ``k = L-1-i``) has chunks of
``chunk_shape * 2**k``: an index chunk is exactly the ``2**k`` cells per axis it
covers, so every store cell belongs to one chunk of one index level and a chunk
request is one batched read of a known list of cells. The grid is padded to a
multiple of the coarsest factor, so that ``grid_shape * chunk_size`` is the same
extent at every level, as the format asks.

Neuroglancer shows the coarse levels first (few points: one per bin) and adds
finer ones as the view's density allows; ``limit`` is the mean number of points
per non-empty chunk of the level (the maximum would need every cell read).
Coarse points are centroids, not a subset of level 0's: they stay visible when
zoomed in, beside the points they summarise.

Annotation ids are ``(store level * cells in the grid + linear cell index) <<
row_bits | row`` (rows counted within the stored cell), so the by-id index can
find an annotation's cell from its id alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import UnsupportedOperationError
from zarr_vectors.format.levels import ATTRIBUTES, VERTICES, attribute_names, le_dtype, listed_cells
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.serve.encoding import PropertySpec, property_specs

__all__ = ["IndexLevel", "SpatialIndex", "nanometres_per_unit", "neuroglancer_dimensions"]

Cell = tuple[int, ...]

#: OME / UDUNITS unit names -> (metres or seconds per unit, Neuroglancer base unit).
_UNITS: dict[str, tuple[float, str]] = {
    "angstrom": (1e-10, "m"),
    "picometer": (1e-12, "m"),
    "nanometer": (1e-9, "m"),
    "nm": (1e-9, "m"),
    "micrometer": (1e-6, "m"),
    "micron": (1e-6, "m"),
    "um": (1e-6, "m"),
    "millimeter": (1e-3, "m"),
    "mm": (1e-3, "m"),
    "centimeter": (1e-2, "m"),
    "cm": (1e-2, "m"),
    "meter": (1.0, "m"),
    "m": (1.0, "m"),
    "kilometer": (1e3, "m"),
    "km": (1e3, "m"),
    "nanosecond": (1e-9, "s"),
    "microsecond": (1e-6, "s"),
    "millisecond": (1e-3, "s"),
    "second": (1.0, "s"),
    "s": (1.0, "s"),
    "minute": (60.0, "s"),
    "hour": (3600.0, "s"),
}


def neuroglancer_dimensions(axes: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """``{name: [scale, unit]}`` for the store's axes (unitless where the unit is unknown)."""
    out: dict[str, list[Any]] = {}
    for i, axis in enumerate(axes):
        name = str(axis.get("name") or f"d{i}")
        scale, unit = _UNITS.get(str(axis.get("unit", "")).strip().lower(), (1.0, ""))
        out[name] = [scale, unit]
    return out


def nanometres_per_unit(dimensions: dict[str, list[Any]]) -> tuple[float, ...]:
    """Per axis, how many nanometres one stored unit is (1 where the unit is not a length).

    Neuroglancer's standalone skeleton and mesh sources place their vertices in
    nanometres (its precomputed ``datasource``: a fixed ``1e-9 m`` model space),
    whereas annotations carry their own ``dimensions``; a store in micrometres
    must be scaled by 1000 to line up with its points. A unitless store is taken
    as it stands.
    """
    # rounded to 12 digits, so that a micrometre is 1000 nm, not 999.9999999999999
    return tuple(
        float(f"{float(scale) / 1e-9:.12g}") if unit == "m" else 1.0
        for scale, unit in dimensions.values()
    )


@dataclass(frozen=True)
class IndexLevel:
    """One level of the served spatial index."""

    key: str
    store_level: int
    factor: int
    grid_shape: tuple[int, ...]
    chunk_size: tuple[float, ...]
    limit: int
    chunks: dict[Cell, list[Cell]]  # index chunk -> world cells of the store level
    attributes: tuple[str, ...]  # served attributes stored at this level

    def info(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "grid_shape": list(self.grid_shape),
            "chunk_size": list(self.chunk_size),
            "limit": self.limit,
        }


class SpatialIndex:
    """The ``info`` document and chunk -> cells mapping of one committed store state."""

    def __init__(self, snap: Snapshot) -> None:
        meta = snap.meta
        self.ndim = meta.ndim
        self.origin: tuple[int, ...] = meta.grid_origin()
        self.grid: tuple[int, ...] = meta.grid_shape()
        self.dimensions = neuroglancer_dimensions(meta.axes)
        store_levels = [int(p) for p in meta.levels]
        top = 2 ** max(store_levels, default=0)
        padded = tuple(math.ceil(g / top) * top for g in self.grid)
        cs = meta.chunk_shape
        self.lower = tuple(float(o * c) for o, c in zip(self.origin, cs, strict=True))
        self.upper = tuple(
            float((o + p) * c) for o, p, c in zip(self.origin, padded, cs, strict=True)
        )
        self.bounds = meta.bounds
        layout = _attribute_layout(snap, 0) if 0 in store_levels else {}
        self.properties: list[PropertySpec]
        self.properties, self.skipped = property_specs(layout)
        served = {p.attribute for p in self.properties}
        self.n_cells = math.prod(self.grid)
        self.n_store_levels = max(store_levels, default=0) + 1
        cell_bits = max(1, math.ceil(math.log2(max(2, self.n_store_levels * self.n_cells))))
        self.row_bits = 64 - cell_bits
        self.levels: list[IndexLevel] = []
        #: Why the points are not served (vertices not stored as raw rows), else None.
        #: Only a mesh store is served so (its meshes by id); any other store is refused.
        self.refused = _refusal(snap, store_levels)
        if self.refused is not None:
            if "mesh" not in meta.geometry_types:
                raise UnsupportedOperationError(self.refused)
            return
        for i, k in enumerate(sorted(store_levels, reverse=True)):
            factor = 2**k
            world = _level_cells(snap, k, self.origin)
            chunks: dict[Cell, list[Cell]] = {}
            grids = (world - np.asarray(self.origin, np.int64)) // factor
            for w, g in zip(world.tolist(), grids.tolist(), strict=True):
                chunks.setdefault(tuple(g), []).append(tuple(w))
            count = snap.level_meta(k).vertex_count
            present = tuple(n for n in attribute_names(snap, k) if n in served)
            self.levels.append(
                IndexLevel(
                    key=f"spatial{i}",
                    store_level=k,
                    factor=factor,
                    grid_shape=tuple(p // factor for p in padded),
                    chunk_size=tuple(float(c * factor) for c in cs),
                    limit=max(1, math.ceil(count / max(1, len(chunks)))),
                    chunks=chunks,
                    attributes=present,
                )
            )

    def info(self) -> dict[str, Any]:
        """The ``info`` document (``neuroglancer_annotations_v1``)."""
        return {
            "@type": "neuroglancer_annotations_v1",
            "dimensions": self.dimensions,
            "lower_bound": list(self.lower),
            "upper_bound": list(self.upper),
            "annotation_type": "POINT",
            "properties": [p.info() for p in self.properties],
            "relationships": [],
            "by_id": {"key": "by_id"},
            "spatial": [level.info() for level in self.levels],
        }

    def level_by_key(self, key: str) -> IndexLevel | None:
        return next((lv for lv in self.levels if lv.key == key), None)

    def linear(self, world: Cell) -> int:
        """The C-order index of a world cell in the store's grid."""
        out = 0
        for w, o, g in zip(world, self.origin, self.grid, strict=True):
            out = out * g + (w - o)
        return out

    def ids(self, store_level: int, world: Cell, rows: int) -> npt.NDArray[np.uint64]:
        """Annotation ids of rows ``0..rows-1`` of a stored cell (wrapping past ``row_bits``)."""
        base = (store_level * self.n_cells + self.linear(world)) << self.row_bits
        mask = (1 << self.row_bits) - 1
        return np.uint64(base) | (np.arange(rows, dtype=np.uint64) & np.uint64(mask))

    def locate(self, annotation_id: int) -> tuple[int, Cell, int] | None:
        """``(store level, world cell, row)`` of an id, ``None`` when no cell has it."""
        if not 0 <= annotation_id < 2**64:
            return None
        row = annotation_id & ((1 << self.row_bits) - 1)
        slot = annotation_id >> self.row_bits
        level, lin = divmod(slot, self.n_cells)
        if level >= self.n_store_levels:
            return None
        grid: list[int] = []
        for g in reversed(self.grid):
            lin, r = divmod(lin, g)
            grid.append(r)
        world = tuple(o + r for o, r in zip(self.origin, reversed(grid), strict=True))
        return level, world, row

    def chunk_of(self, level: IndexLevel, world: Cell) -> Cell:
        """The index chunk of ``level`` that holds world cell ``world``."""
        return tuple((w - o) // level.factor for w, o in zip(world, self.origin, strict=True))


def _refusal(snap: Snapshot, levels: Sequence[int]) -> str | None:
    """Why the levels' vertices cannot be served as points (not raw rows), or None."""
    for level in levels:
        doc = snap.node(f"{level}/{VERTICES}") or {}
        encoding = doc.get("attributes", {}).get("encoding", "raw")
        if encoding not in (None, "raw"):
            return (
                f"{snap.backend.url}: level {level} stores its vertices encoded as "
                f"{encoding!r}; points are served from raw vertices only (write the store "
                "with encoding='raw' to serve them)"
            )
    return None


def _level_cells(snap: Snapshot, level: int, origin: Sequence[int]) -> npt.NDArray[np.int64]:
    doc = snap.node(f"{level}/{VERTICES}")
    if doc is None:
        return np.empty((0, snap.meta.ndim), np.int64)
    attrs = doc.get("attributes", {})
    stored_origin = [int(o) for o in attrs.get("chunk_grid_origin", [0] * len(origin))]
    return listed_cells(snap, level, attrs, stored_origin)


def _attribute_layout(
    snap: Snapshot, level: int
) -> dict[str, tuple[np.dtype[Any], tuple[int, ...]]]:
    names = attribute_names(snap, level)
    docs = snap.nodes([f"{level}/{ATTRIBUTES}/{n}" for n in names])
    out: dict[str, tuple[np.dtype[Any], tuple[int, ...]]] = {}
    for n in names:
        doc = docs[f"{level}/{ATTRIBUTES}/{n}"] or {}
        a = doc.get("attributes", {})
        try:
            out[n] = (le_dtype(a["dtype"]), tuple(int(s) for s in a.get("row_shape") or ()))
        except (KeyError, TypeError, ValueError):
            continue  # not a readable attribute array; reads report it when asked for
    return out

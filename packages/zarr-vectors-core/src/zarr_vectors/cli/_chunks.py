"""The chunk shape ``zarr-vectors write`` chooses when none is given, and how it is said."""

from __future__ import annotations

from typing import Any

__all__ = ["CELLS_ALONG", "chosen_chunk_shape", "default_chunk_shape", "in_cells"]

#: Cells per axis along the largest extent when no --chunk-shape is given.
CELLS_ALONG = 4


def default_chunk_shape(lo: Any, hi: Any) -> tuple[float, ...]:
    """Cubic cells of 1/4 of the largest extent (at least 1e-6), one value per axis."""
    import numpy as np

    span = float(np.max(np.asarray(hi, dtype=np.float64) - np.asarray(lo, dtype=np.float64)))
    side = max(span / CELLS_ALONG, 1e-6)
    return (side,) * len(lo)


def chosen_chunk_shape(opts: dict[str, Any], positions: Any) -> tuple[float, ...] | None:
    """``--chunk-shape`` (one number: the same for every axis), else the default for a new
    store, else ``None`` (an append takes the store's)."""
    chunk: tuple[float, ...] | None = opts["chunk_shape"]
    if chunk is not None and len(chunk) == 1:
        chunk = chunk * positions.shape[1]
    if chunk is None and opts["mode"] != "a":
        chunk = default_chunk_shape(positions.min(axis=0), positions.max(axis=0))
    return chunk


def in_cells(chunk: tuple[float, ...] | None) -> str:
    """The cell size a write used, as its summary line prints it (nothing for an append)."""
    return "" if chunk is None else f" in cells of {[round(c, 6) for c in chunk]}"

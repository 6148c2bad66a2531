"""The chunk shape ``zarr-vectors write`` chooses when none is given."""

from __future__ import annotations

from typing import Any

__all__ = ["CELLS_ALONG", "default_chunk_shape"]

#: Cells per axis along the largest extent when no --chunk-shape is given.
CELLS_ALONG = 4


def default_chunk_shape(lo: Any, hi: Any) -> tuple[float, ...]:
    """Cubic cells of 1/4 of the largest extent (at least 1e-6), one value per axis."""
    import numpy as np

    span = float(np.max(np.asarray(hi, dtype=np.float64) - np.asarray(lo, dtype=np.float64)))
    side = max(span / CELLS_ALONG, 1e-6)
    return (side,) * len(lo)

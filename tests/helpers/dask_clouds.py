"""The small clouds and comparisons the Dask tests share (tests/dask/test_*.py).

Plain functions, not fixtures: a write test and a read test each make their own
store from the same seeded cloud, and compare results row for row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

CS = (125.0, 125.0, 125.0)
BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
BOX = ((100.0, 200.0, 0.0), (420.0, 800.0, 640.0))


def cloud(n: int, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` float32 points in the 1000-unit cube with an ``id`` and an ``rgb`` attribute."""
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 1000, (n, 3)).astype(np.float32)
    attributes = {
        "id": np.arange(n, dtype=np.int64) + 1000 * seed,
        "rgb": rng.integers(0, 256, (n, 3)).astype(np.uint8),
    }
    return positions, attributes


def assert_same(a: Any, b: Any) -> None:
    """Two point clouds equal row for row (same cells, same order), attributes included."""
    np.testing.assert_array_equal(a.positions, b.positions)
    assert sorted(a.vertex_attributes) == sorted(b.vertex_attributes)
    for name, values in a.vertex_attributes.items():
        np.testing.assert_array_equal(values, b.vertex_attributes[name])


def frame_rows(frame: pd.DataFrame) -> np.ndarray:
    """The x, y, z columns of a frame a Dask read made."""
    return frame[["x", "y", "z"]].to_numpy()


def staged_keys(url: str, **options: Any) -> list[str]:
    """Keys a write staged and left behind (none after a commit or a recovery)."""
    from zarr_vectors.storage import make_backend

    with make_backend(url, **options) as backend:
        return [k for k in backend.list_prefix("", recursive=True) if k.startswith(".zv-staged")]

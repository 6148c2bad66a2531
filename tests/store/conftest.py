"""Fixtures of the store API tests: a small point cloud stored with attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.types.points import write_points

POINTS = np.random.default_rng(5).uniform(0, 1000, (3_000, 3)).astype(np.float32)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """:data:`POINTS` with an ``id`` and a ``normal`` attribute, in cells of 250."""
    path = tmp_path / "scan.zarrvectors"
    ids = np.arange(len(POINTS))
    normals = np.random.default_rng(6).normal(size=(len(POINTS), 3))
    write_points(
        path,
        POINTS,
        chunk_shape=(250.0,) * 3,
        vertex_attributes={"id": ids, "normal": normals},
    )
    return path

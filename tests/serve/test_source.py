"""A store as an annotation source (zarr_vectors.serve.source): one committed state a request.

A commit is served once the root says so, a replaced store as replaced, and a store
that cannot be served is refused before the server starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from tests.serve.conftest import Served, chunk_names, fetch, fetch_info, write_cloud
from zarr_vectors.serve import open_source
from zarr_vectors.serve.encoding import decode_annotations


def finest_count(url: str, source: Any) -> int:
    info = fetch_info(url)
    level = info["spatial"][-1]
    specs = source.read_state().index.properties
    total = 0
    for name in chunk_names(level):
        status, _, body = fetch(f"{url}/{level['key']}/{name}")
        assert status == 200, body
        total += len(decode_annotations(body, 3, specs)[0])
    return total


@pytest.mark.slow
def test_a_commit_is_served_once_the_root_says_so(
    tmp_path: Path, serve: Callable[..., Served]
) -> None:
    path = str(tmp_path / "cloud.zarrvectors")
    write_cloud(path, 2000, levels=1)
    url, source = serve(path)
    assert finest_count(url, source) == 2000
    old = source.read_state()
    more = np.random.default_rng(5).uniform(0, 1000, (500, 3)).astype(np.float32)
    attrs = {
        "intensity": np.zeros(500, np.float32),
        "label": np.ones(500, np.uint8),
        "normal": np.zeros((500, 3), np.float32),
        "gps_time": np.zeros(500, np.int64),
    }
    zv.write_points(path, more, mode="a", vertex_attributes=attrs)
    assert finest_count(url, source) == 2500
    # A state taken before the append still serves the points it had: cells the append
    # grew are cut back to their committed rows.
    level = old.index.levels[-1]
    served = sum(
        len(decode_annotations(old.chunk_bytes(level, c), 3, old.index.properties)[0])
        for c in level.chunks
    )
    assert served == 2000


@pytest.mark.slow
def test_a_replaced_store_is_served_as_replaced(
    tmp_path: Path, serve: Callable[..., Served]
) -> None:
    path = str(tmp_path / "cloud.zarrvectors")
    write_cloud(path, 1500, levels=1)
    url, source = serve(path)
    assert finest_count(url, source) == 1500
    old = source.read_state()
    write_cloud(path, 700, levels=1, seed=3, mode="w")
    assert finest_count(url, source) == 700
    # The old state's cells are gone: reading through it says so instead of mixing states.
    level = old.index.levels[-1]
    with pytest.raises(zv.exceptions.StoreError):
        for chunk in level.chunks:
            old.chunk_bytes(level, chunk)


def test_no_store_is_an_error_before_serving(tmp_path: Path) -> None:
    with pytest.raises(zv.exceptions.StoreError, match="no Zarr Vectors store"):
        open_source(str(tmp_path / "nothing.zarrvectors"))
    assert not os.path.exists(tmp_path / "nothing.zarrvectors")


def test_vertices_it_cannot_decode_are_refused_by_name(tmp_path: Path) -> None:
    pytest.importorskip("DracoPy")
    rng = np.random.default_rng(0)
    vertices = rng.uniform(0, 1000, (60, 3)).astype(np.float32)
    faces = np.array([[i, i + 1, i + 2] for i in range(0, 57, 3)])
    path = str(tmp_path / "mesh.zarrvectors")
    zv.write_mesh(path, vertices, faces, chunk_shape=(500.0, 500.0, 500.0), encoding="draco")
    with pytest.raises(zv.exceptions.UnsupportedOperationError, match="'draco'"):
        open_source(path)

"""Dask reads of objects (zarr_vectors.dask.objects): partitions of whole objects, what is refused.

The full round trip of a polyline store through ``read_polylines(as_dask=True)``
is in tests/types/test_polylines.py; here the partitioning and its edges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.dataframe")

from zarr_vectors.dask.objects import objects_frame
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.types.points import write_points
from zarr_vectors.types.polylines import write_polylines

BOUNDS = ((0.0, 0.0, 0.0), (10.0, 10.0, 10.0))


@pytest.fixture
def lines(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """Ten short polylines (object i has i + 2 vertices) in a local store."""
    rng = np.random.default_rng(5)
    shapes = [rng.uniform(0, 10, (i + 2, 3)).astype(np.float32) for i in range(10)]
    write_polylines(tmp_path / "lines", shapes, chunk_shape=(5.0, 5.0, 5.0), bounds=BOUNDS)
    return tmp_path / "lines", shapes


def test_objects_are_whole_in_one_partition(lines: tuple[Path, list[np.ndarray]]) -> None:
    store, shapes = lines
    frame = objects_frame(store, object_ids=[8, 1, 4, 6], objects_per_partition=3, axes="abc")
    assert frame.npartitions == 2  # ids 1, 4, 6 | 8: in id order, three at a time
    parts = [p.compute(scheduler="sync") for p in frame.to_delayed()]
    assert [sorted(set(p["object_id"])) for p in parts] == [[1, 4, 6], [8]]
    for part in parts:
        for oid, rows in part.groupby("object_id"):
            np.testing.assert_array_equal(rows[["a", "b", "c"]].to_numpy(), shapes[int(oid)])


def test_no_object_selected_is_one_empty_partition(lines: tuple[Path, list[np.ndarray]]) -> None:
    frame = objects_frame(lines[0], object_ids=[])
    assert frame.npartitions == 1
    got = frame.compute(scheduler="sync")
    assert len(got) == 0 and list(got.columns) == ["object_id", "x", "y", "z"]


def test_what_an_objects_frame_refuses(
    lines: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="objects_per_partition must be an integer >= 1"):
        objects_frame(lines[0], objects_per_partition=0)
    write_points(tmp_path / "points", np.zeros((3, 3), np.float32), chunk_shape=(5.0, 5.0, 5.0))
    with pytest.raises(ValidationError, match="no object index; read points with read_points"):
        objects_frame(tmp_path / "points")

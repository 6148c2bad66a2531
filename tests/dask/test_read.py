"""Dask reads (zarr_vectors.dask.read): one snapshot per frame, box and attributes pushed down.

The tasks run with Dask's local schedulers against a local store; the read by a
real cluster's workers is in test_write.py's cluster test, beside the write it reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.dataframe")

import dask

from tests.helpers.dask_clouds import BOUNDS, BOX, CS, cloud, frame_rows
from zarr_vectors import open_zv, read_points, write_points
from zarr_vectors.dask import StoreLocation, points_frame


def test_dask_reads_push_the_box_and_the_attributes_down(tmp_path: Path) -> None:
    positions, attributes = cloud(20_000, 3)
    url = str(tmp_path / "store")
    write_points(url, positions, chunk_shape=CS, vertex_attributes=attributes, levels=2)
    with open_zv(url) as zv:
        whole = zv.to_dask(partition_cells=40)
        assert whole.npartitions == 512 // 40 + 1  # 8 x 8 x 8 occupied cells
        assert list(whole.columns) == ["x", "y", "z", "id", "rgb_0", "rgb_1", "rgb_2"]
        table = whole.compute(scheduler="threads")
        expected = read_points(url)
        np.testing.assert_array_equal(frame_rows(table), expected.positions)
        np.testing.assert_array_equal(table["id"].to_numpy(), expected.vertex_attributes["id"])
        np.testing.assert_array_equal(
            table[["rgb_0", "rgb_1", "rgb_2"]].to_numpy(), expected.vertex_attributes["rgb"]
        )
        boxed = zv.to_dask(bbox=BOX, attribute_names=["id"], partition_cells=5)
        # Only the cells meeting the box are partitions' work: x 0..3, y 1..6, z 0..5.
        assert boxed.npartitions == -(-(4 * 6 * 6) // 5)
        assert list(boxed.columns) == ["x", "y", "z", "id"]
        got = boxed.compute(scheduler="sync")
        want = read_points(url, bbox=BOX, attribute_names=["id"])
        np.testing.assert_array_equal(frame_rows(got), want.positions)
        np.testing.assert_array_equal(got["id"].to_numpy(), want.vertex_attributes["id"])
        coarse = zv.to_dask(level=1, axes=["a", "b", "c"]).compute(scheduler="sync")
        np.testing.assert_array_equal(
            coarse[["a", "b", "c"]].to_numpy(), read_points(url, level=1).positions
        )
    frame = read_points(url, as_dask=True, bbox=BOX, attribute_names=[])
    assert list(frame.columns) == ["x", "y", "z"]
    np.testing.assert_array_equal(frame_rows(frame.compute(scheduler="sync")), want.positions)
    empty = read_points(url, as_dask=True, bbox=((2000, 2000, 2000), (3000, 3000, 3000)))
    assert len(empty.compute(scheduler="sync")) == 0


def test_a_dask_read_keeps_to_the_snapshot_it_was_made_from(tmp_path: Path) -> None:
    positions, _ = cloud(5_000, 4)
    url = str(tmp_path / "store")
    write_points(url, positions, chunk_shape=CS, bounds=BOUNDS)
    with open_zv(url) as zv:
        frame = zv.to_dask()
        extra, _ = cloud(1_000, 5)
        write_points(url, extra, mode="a")  # committed after the frame was made
        assert len(frame.compute(scheduler="sync")) == 5_000
    assert len(read_points(url, as_dask=True).compute(scheduler="sync")) == 6_000


def test_no_secret_in_task_names_reprs_or_graphs(tmp_path: Path) -> None:
    secret = "zv-very-secret-value-1234567890"
    url = str(tmp_path / "store")
    positions, attributes = cloud(3_000, 9)
    write_points(url, positions, chunk_shape=CS, vertex_attributes=attributes)
    location = StoreLocation(url, None, {"secret_access_key": secret, "region": "x"})
    assert secret not in repr(location) and secret not in str(location)
    assert secret not in dask.base.tokenize(location)
    assert dask.base.tokenize(location) != dask.base.tokenize(StoreLocation(url, None, {}))
    with open_zv(url) as zv:
        frame = points_frame(location, zv._snap, bbox=BOX, partition_cells=3)
    graph = dict(frame.__dask_graph__())
    assert secret not in repr(list(graph)) and secret not in repr(graph)

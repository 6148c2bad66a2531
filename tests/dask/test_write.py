"""Dask writes (zarr_vectors.dask.write).

Local tests run the tasks with Dask's local schedulers (threads, sync) against a
local store: the partitioned write must give the very cells a single-process
write gives, and a failing task must leave the old store. The cluster tests run
a real ``distributed.LocalCluster`` (worker processes) writing to SeaweedFS run
as a cluster (master, two volume servers, filer with the S3 gateway), and read
back through the workers. Dask reads are in test_read.py.
"""

from __future__ import annotations

import filecmp
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

import dask.array as da
import dask.dataframe as dd
import pandas as pd

from tests.helpers import dask_faults
from tests.helpers.dask_clouds import BOUNDS, BOX, CS, assert_same, cloud, frame_rows, staged_keys
from zarr_vectors import open_zv, read_points, write_points
from zarr_vectors.exceptions import StoreError, ValidationError


# -- local schedulers ----------------------------------------------------------------------
def test_a_dask_array_written_by_tasks_gives_the_cells_one_process_gives(tmp_path: Path) -> None:
    positions, attributes = cloud(20_000, 1)
    write_points(
        tmp_path / "one", positions, chunk_shape=CS, vertex_attributes=attributes, levels=3
    )
    seen: list[tuple[int, int]] = []
    summary = write_points(
        tmp_path / "tasks",
        da.from_array(positions, chunks=(3_000, 3)),
        chunk_shape=CS,
        vertex_attributes={
            "id": da.from_array(attributes["id"], chunks=7_000),
            "rgb": attributes["rgb"],
        },
        levels=3,
        scheduler="threads",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert summary.points_written == 20_000 and summary.levels == 3
    assert seen[-1] == (20_000, 20_000)  # counted in points, as every write counts
    for level in range(3):
        assert_same(
            read_points(tmp_path / "one", level=level), read_points(tmp_path / "tasks", level=level)
        )
    # Byte for byte: the points of a cell are put back into input order before encoding.
    for array in ("vertices", "vertex_attributes/id", "vertex_attributes/rgb"):
        left, right = tmp_path / "one" / "0" / array / "c", tmp_path / "tasks" / "0" / array / "c"
        files = sorted(str(p.relative_to(left)) for p in left.rglob("*") if p.is_file())
        assert files and files == sorted(
            str(p.relative_to(right)) for p in right.rglob("*") if p.is_file()
        )
        match, mismatch, errors = filecmp.cmpfiles(left, right, files, shallow=False)
        assert not mismatch and not errors and len(match) == len(files)
    # And the attribute cells are bound to their keys the same way (format.cellsums).
    for name in ("id", "rgb"):
        docs = [
            json.loads((tmp_path / t / "0/vertex_attributes" / name / "zarr.json").read_text())
            for t in ("one", "tasks")
        ]
        assert docs[0]["attributes"]["cell_crc32c"] == docs[1]["attributes"]["cell_crc32c"]


def test_a_sharded_dask_write_keeps_shards_whole(tmp_path: Path) -> None:
    """Blocks are whole shards: every shard object is made by one task, as one process makes it."""
    positions, attributes = cloud(20_000, 10)
    kwargs: dict[str, Any] = {"chunk_shape": CS, "bounds": BOUNDS, "levels": 2, "shard_shape": 2}
    ids = {"id": attributes["id"]}
    write_points(tmp_path / "one", positions, vertex_attributes=ids, **kwargs)
    write_points(
        tmp_path / "tasks",
        da.from_array(positions, chunks=(3_000, 3)),
        vertex_attributes=ids,
        scheduler="threads",
        **kwargs,
    )
    for level in (0, 1):
        one, tasks = (
            read_points(tmp_path / "one", level=level),
            read_points(tmp_path / "tasks", level=level),
        )
        assert_same(one, tasks)
    left, right = (
        tmp_path / "one" / "0" / "vertices" / "c",
        tmp_path / "tasks" / "0" / "vertices" / "c",
    )
    files = sorted(str(p.relative_to(left)) for p in left.rglob("*") if p.is_file())
    assert len(files) == 4 * 4 * 4  # 8 x 8 x 8 cells in shards of 2 x 2 x 2
    match, mismatch, errors = filecmp.cmpfiles(left, right, files, shallow=False)
    assert not mismatch and not errors and len(match) == len(files)


def test_a_dask_dataframe_with_named_columns(tmp_path: Path) -> None:
    positions, attributes = cloud(12_000, 2)
    table = pd.DataFrame(
        {
            "east": positions[:, 0],
            "north": positions[:, 1],
            "up": positions[:, 2],
            "intensity": attributes["rgb"][:, 0].astype(np.float32),
            "id": attributes["id"],
        }
    )
    write_points(
        tmp_path / "df",
        dd.from_pandas(table, npartitions=5),
        chunk_shape=CS,
        position_columns=("east", "north", "up"),
        scheduler="sync",
    )
    expected = {"intensity": table["intensity"].to_numpy(), "id": table["id"].to_numpy()}
    write_points(tmp_path / "one", positions, chunk_shape=CS, vertex_attributes=expected)
    assert_same(read_points(tmp_path / "one"), read_points(tmp_path / "df"))
    # float64 columns with the default names, stored as float32 by dtype=
    plain = pd.DataFrame({"x": positions[:, 0], "y": positions[:, 1], "z": positions[:, 2]})
    write_points(
        tmp_path / "f32",
        dd.from_pandas(plain.astype(np.float64), npartitions=3),
        chunk_shape=CS,
        dtype=np.float32,
        scheduler="sync",
    )
    got = read_points(tmp_path / "f32")
    assert got.positions.dtype == np.float32
    np.testing.assert_array_equal(got.positions, read_points(tmp_path / "one").positions)


def test_a_failing_task_leaves_the_old_store_readable(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    old, old_attrs = cloud(4_000, 6)
    write_points(url, old, chunk_shape=CS, bounds=BOUNDS, vertex_attributes={"id": old_attrs["id"]})
    before = read_points(url)
    new, _ = cloud(9_000, 7)
    new[7_500] = np.nan  # in the third block: that binning task fails
    with pytest.raises(ValidationError, match="NaN"):
        write_points(
            url,
            da.from_array(new, chunks=(3_000, 3)),
            chunk_shape=CS,
            bounds=BOUNDS,
            mode="w",
            scheduler="threads",
        )
    assert_same(read_points(url), before)
    new[7_500] = 1.0
    write_points(
        url, da.from_array(new, chunks=(3_000, 3)), chunk_shape=CS, mode="w", scheduler="threads"
    )
    np.testing.assert_array_equal(np.sort(read_points(url).positions, axis=0), np.sort(new, axis=0))
    assert staged_keys(url) == []


def test_what_a_dask_write_refuses(tmp_path: Path) -> None:
    positions, _ = cloud(1_000, 8)
    array = da.from_array(positions, chunks=(500, 3))
    table = dd.from_pandas(pd.DataFrame(positions, columns=["x", "y", "z"]), npartitions=2)
    with pytest.raises(ValidationError, match="appending"):
        write_points(tmp_path / "a", array, chunk_shape=CS, mode="a", scheduler="sync")
    with pytest.raises(ValidationError, match="scheduler must be"):
        write_points(tmp_path / "a", array, chunk_shape=CS, scheduler="gpu")
    with pytest.raises(ValidationError, match="for Dask input"):
        write_points(tmp_path / "a", positions, chunk_shape=CS, scheduler="threads")
    with pytest.raises(ValidationError, match="no column"):
        write_points(tmp_path / "a", table, chunk_shape=CS, position_columns=("x", "y", "h"))
    with pytest.raises(ValidationError, match="not numeric"):
        write_points(tmp_path / "a", table.assign(label="a"), chunk_shape=CS)
    with pytest.raises(ValidationError, match="written by Dask workers only"):
        write_points(tmp_path / "a", table, chunk_shape=CS, scheduler="driver")
    from zarr_vectors.storage import make_backend

    with make_backend(str(tmp_path / "a")) as backend, pytest.raises(ValidationError, match="URL"):
        write_points(backend, table, chunk_shape=CS)
    assert not (tmp_path / "a").exists()
    write_points(tmp_path / "b", positions, chunk_shape=CS)
    with (
        make_backend(str(tmp_path / "b")) as backend,
        open_zv(backend) as zv,
        pytest.raises(ValidationError, match="path or URL"),
    ):
        zv.to_dask()
    # Without a client, a Dask array still streams through this process.
    write_points(tmp_path / "c", array, chunk_shape=CS)
    assert read_points(tmp_path / "c").vertex_count == 1_000


# -- a real cluster ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A ``distributed`` cluster of two single-threaded worker processes, and its client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit="3GiB",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def cluster_options(server: Any) -> dict[str, Any]:
    return {
        "endpoint": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
    }


@pytest.mark.servers
@pytest.mark.slow
def test_a_cluster_writes_to_seaweedfs_and_reads_back_exactly(
    dask_client: Any, s3_cluster: Any, s3_cluster_bucket: str, tmp_path: Path
) -> None:
    options = cluster_options(s3_cluster)
    assert len(s3_cluster.volume_servers()) == 2
    positions, attributes = cloud(200_000, 11)
    write_points(
        tmp_path / "one", positions, chunk_shape=CS, vertex_attributes=attributes, levels=2
    )
    one = read_points(tmp_path / "one")

    # A Dask array: written by the workers because a client is active.
    url = f"s3://{s3_cluster_bucket}/array.zarr"
    dask_client.run(dask_faults.count_cell_puts)
    dask_faults.count_cell_puts()  # and in this process, which must put none
    write_points(
        url,
        da.from_array(positions, chunks=(25_000, 3)),
        chunk_shape=CS,
        vertex_attributes={
            n: da.from_array(v, chunks=(40_000, *v.shape[1:])) for n, v in attributes.items()
        },
        levels=2,
        storage_options=options,
    )
    by_worker = dask_client.run(dask_faults.counted)
    assert dask_faults.counted() == []
    assert all(keys for keys in by_worker.values())  # both workers wrote cells
    keys = [k for ks in by_worker.values() for k in ks]
    assert len(keys) == len(set(keys))  # each cell object once
    # 512 level-0 and 64 level-1 cells x (vertices, fragments, id, rgb): coarse levels
    # carry the attributes too (each coarse point its bin's first point's values)
    assert len(keys) == 512 * 4 + 64 * 4
    assert_same(read_points(url, storage_options=options), one)
    assert_same(
        read_points(url, bbox=BOX, attribute_names=["id"], storage_options=options),
        read_points(tmp_path / "one", bbox=BOX, attribute_names=["id"]),
    )
    assert_same(
        read_points(url, level=1, storage_options=options), read_points(tmp_path / "one", level=1)
    )

    # Read by the workers.
    frame = read_points(
        url, as_dask=True, bbox=BOX, attribute_names=["id"], storage_options=options
    )
    got = frame.compute()
    want = read_points(tmp_path / "one", bbox=BOX, attribute_names=["id"])
    np.testing.assert_array_equal(frame_rows(got), want.positions)
    np.testing.assert_array_equal(got["id"].to_numpy(), want.vertex_attributes["id"])
    with open_zv(url, storage_options=options) as zv:
        whole = zv.to_dask(partition_cells=64)
        assert whole.npartitions == 8
        table = whole.compute()
    np.testing.assert_array_equal(frame_rows(table), one.positions)
    np.testing.assert_array_equal(
        table[["rgb_0", "rgb_1", "rgb_2"]].to_numpy(), one.vertex_attributes["rgb"]
    )

    # A Dask DataFrame with attribute columns, replacing a store.
    table = pd.DataFrame(
        {
            "x": positions[:, 0],
            "y": positions[:, 1],
            "z": positions[:, 2],
            "id": attributes["id"],
            "intensity": attributes["rgb"][:, 1].astype(np.float32),
        }
    )
    write_points(
        url, dd.from_pandas(table, npartitions=6), chunk_shape=CS, mode="w", storage_options=options
    )
    flat = {"id": attributes["id"], "intensity": table["intensity"].to_numpy()}
    write_points(tmp_path / "flat", positions, chunk_shape=CS, vertex_attributes=flat)
    assert_same(read_points(url, storage_options=options), read_points(tmp_path / "flat"))
    assert staged_keys(url, **options) == []


@pytest.mark.servers
@pytest.mark.slow
def test_on_a_cluster_a_failing_write_task_leaves_the_old_store(
    dask_client: Any, s3_cluster: Any, s3_cluster_bucket: str
) -> None:
    options = cluster_options(s3_cluster)
    url = f"s3://{s3_cluster_bucket}/kept.zarr"
    old, old_attrs = cloud(30_000, 12)
    write_points(
        url, old, chunk_shape=CS, vertex_attributes={"id": old_attrs["id"]}, storage_options=options
    )
    before = read_points(url, storage_options=options)
    new, new_attrs = cloud(200_000, 13)
    array = da.from_array(new, chunks=(25_000, 3))
    ids = {"id": da.from_array(new_attrs["id"], chunks=25_000)}

    dask_client.run(dask_faults.break_cell_puts, after=1)  # each worker's second batch fails
    try:
        with pytest.raises(StoreError, match="injected failure"):
            write_points(
                url, array, chunk_shape=CS, vertex_attributes=ids, mode="w", storage_options=options
            )
    finally:
        dask_client.run(dask_faults.mend_cell_puts)
    assert_same(read_points(url, storage_options=options), before)
    with open_zv(url, storage_options=options) as zv:
        assert len(zv.to_dask().compute()) == 30_000
    # No secret in the workers' or the scheduler's logs, nor in the task names it saw.
    logs = repr(dask_client.get_worker_logs()) + repr(dask_client.get_scheduler_logs())
    seen = dask_client.run_on_scheduler(
        lambda dask_scheduler: repr(list(dask_scheduler.transition_log))
    )
    assert "zarr-vectors-write" in seen
    assert s3_cluster.secret_key not in logs and s3_cluster.secret_key not in seen

    # The next write recovers the staged leftovers and lands whole.
    write_points(
        url, array, chunk_shape=CS, vertex_attributes=ids, mode="w", storage_options=options
    )
    got = read_points(url, storage_options=options)
    assert got.vertex_count == 200_000
    order = np.lexsort(got.positions.T[::-1])
    np.testing.assert_array_equal(got.positions[order], new[np.lexsort(new.T[::-1])])
    assert staged_keys(url, **options) == []

"""A whole level larger than a batch is read batch by batch into arrays allocated once.

``format.levels._read_whole_level`` fetches about ``READ_BATCH_BYTES`` of cells
at a time and copies each batch into the result before fetching the next, so a
full read holds the result plus one batch, not the result plus every cell's
bytes. Here batches are 64 bytes (one cell each): the result must be exactly
what the one-go read returns, for plain and sharded stores with attributes and
appends; and a batched read must give way to the usual read (which cuts cells
back to the snapshot) when a write committed while it was reading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.format import cellread, levels
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import read_points, write_points

CHUNK = (100.0, 100.0, 100.0)
BOUNDS = ((0.0, 0.0, 0.0), (400.0, 400.0, 400.0))


def cloud(seed: int, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 400, (n, 3)).astype(np.float32)
    attrs: dict[str, np.ndarray] = {
        "id": np.arange(seed * 10**6, seed * 10**6 + n, dtype=np.int64),
        "normal": rng.random((n, 3)).astype(np.float32),
        "label": rng.integers(0, 200, n).astype(np.uint8),
    }
    return pos, attrs


@pytest.mark.parametrize("shard_shape", [None, (2, 2, 2)], ids=["cells", "shards"])
def test_a_batched_read_equals_the_one_go_read(
    tmp_path: Path, shard_shape: tuple[int, ...] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(tmp_path / "s.zarr")
    pos, attrs = cloud(1, 20_000)
    write_points(
        url, pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS, shard_shape=shard_shape
    )
    for seed in (2, 3):
        more, more_attrs = cloud(seed, 3_000)
        write_points(url, more, vertex_attributes=more_attrs, mode="a")
    one_go = read_points(url)
    monkeypatch.setattr(levels, "READ_BATCH_BYTES", 64)
    monkeypatch.setattr(levels, "READ_BATCH_MIN_CELLS", 1)
    with open_zv(url) as zv:
        plan = cellread.plan_cells(zv._snap, 0, bbox=None, only=None, attribute_names_=None)
        assert plan is not None
        batched = levels._read_whole_level(plan, None)
    assert batched is not None, "the batched path gave way on a store nobody was writing"
    assert batched.cells_read == 64  # 4^3 cells, every one a batch of its own
    np.testing.assert_array_equal(batched.positions, one_go.positions)
    assert set(batched.attributes) == set(one_go.vertex_attributes)
    for name, column in one_go.vertex_attributes.items():
        assert batched.attributes[name].dtype == column.dtype
        np.testing.assert_array_equal(batched.attributes[name], column)
    via_api = read_points(url)  # read_points takes the batched path too
    np.testing.assert_array_equal(via_api.vertex_attributes["id"], one_go.vertex_attributes["id"])


def test_a_batched_read_gives_way_when_a_write_committed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(tmp_path / "s.zarr")
    pos, attrs = cloud(1, 20_000)
    write_points(url, pos, vertex_attributes=attrs, chunk_shape=CHUNK, bounds=BOUNDS)
    monkeypatch.setattr(levels, "READ_BATCH_BYTES", 64)
    monkeypatch.setattr(levels, "READ_BATCH_MIN_CELLS", 1)
    with open_zv(url) as zv:
        more, more_attrs = cloud(2, 3_000)
        write_points(url, more, vertex_attributes=more_attrs, mode="a")  # after the snapshot
        plan = cellread.plan_cells(zv._snap, 0, bbox=None, only=None, attribute_names_=None)
        assert plan is not None
        assert levels._read_whole_level(plan, None) is None
        got = zv.read_points()  # the usual read cuts the appended rows away
        np.testing.assert_array_equal(np.sort(got.vertex_attributes["id"]), attrs["id"])

"""The lazy handle (zarr_vectors.lazy): ``open_zv`` reads only what is asked for.

Reads go through a zarr store that records the keys asked for, so the test
sees every request: opening costs the root document, a level costs its own
document, a cell only its objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zarr
import zarr.storage
from zarr.storage import WrapperStore

from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import write_points

BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
CS = (250.0, 250.0, 250.0)


class CountingStore(WrapperStore[Any]):
    """Records the keys read through it."""

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.gets: list[str] = []

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        self.gets.append(key)
        return await self._store.get(key, prototype, byte_range)


def test_opening_a_consolidated_store_costs_one_metadata_request() -> None:
    inner = zarr.storage.MemoryStore()
    write_points(
        inner,
        np.random.default_rng(0).uniform(0, 1000, (2000, 3)).astype(np.float32),
        chunk_shape=CS,
    )
    counting = CountingStore(inner)
    zv = open_zv(counting)
    assert counting.gets == ["zarr.json"]
    assert zv.levels == [0]
    assert zv.consolidated
    # A full read then fetches cells and reads the root once more, to confirm the
    # snapshot still holds (no write committed meanwhile): no other metadata document.
    pc = zv.read_points()
    assert pc.vertex_count == 2000
    assert [k for k in counting.gets if k.endswith("zarr.json")] == ["zarr.json", "zarr.json"]


def test_lazy_store_fetches_only_what_is_asked_for() -> None:
    inner = zarr.storage.MemoryStore()
    pos = np.random.default_rng(0).uniform(0, 1000, (2000, 3)).astype(np.float32)
    write_points(
        inner,
        pos,
        chunk_shape=CS,
        bounds=BOUNDS,
        consolidate=False,
        vertex_attributes={"id": np.arange(2000)},
    )
    counting = CountingStore(inner)
    zv = open_zv(counting)
    assert counting.gets == ["zarr.json"]
    assert isinstance(zv.metadata, RootMetadata) and zv.metadata.chunk_shape == CS
    assert zv.metadata.grid_shape() == (5, 5, 5)
    level = zv[0]
    assert counting.gets == ["zarr.json"]
    assert level.vertex_count == 2000
    # The level document, then the root once more: without consolidated metadata the
    # document may count appends committed since the handle opened (commit records).
    assert counting.gets == ["zarr.json", "0/zarr.json", "zarr.json"]
    cell = level.chunk((1, 2, 3))
    inside = np.all(np.floor(pos / 250.0).astype(int) == (1, 2, 3), axis=1)
    np.testing.assert_array_equal(np.sort(cell.vertex_attributes["id"]), np.flatnonzero(inside))
    cell_gets = [k for k in counting.gets if "/c/" in k]
    assert cell_gets and all(k.endswith("/c/1/2/3") for k in cell_gets)
    assert level.array("vertices").shape == (5, 5, 5)
    assert "ZVStore(" in repr(zv)


def test_a_store_without_versions_says_it_has_no_history() -> None:
    import pytest

    from zarr_vectors.exceptions import UnsupportedOperationError

    inner = zarr.storage.MemoryStore()
    write_points(inner, np.zeros((10, 3), np.float32), chunk_shape=CS, bounds=BOUNDS)
    zv = open_zv(inner)
    assert zv.version is None
    with pytest.raises(UnsupportedOperationError, match="has no history: its backend"):
        zv.history()
    with pytest.raises(UnsupportedOperationError, match="has no tags"):
        zv.tag("v1")

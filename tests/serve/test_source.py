"""A store as an annotation source (zarr_vectors.serve.source): one committed state a request.

A commit is served once the root says so, a replaced store as replaced, and a store
that cannot be served is refused before the server starts.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from tests.serve.conftest import Served, chunk_names, fetch, fetch_info, write_cloud
from zarr_vectors.serve import open_source
from zarr_vectors.serve.encoding import decode_annotations
from zarr_vectors.serve.source import StoreState


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
    write_cloud(path, 2000, levels=1, chunk=250.0)  # 64 cells: every chunk is fetched
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
    write_cloud(path, 1500, levels=1, chunk=250.0)
    url, source = serve(path)
    assert finest_count(url, source) == 1500
    old = source.read_state()
    write_cloud(path, 700, levels=1, seed=3, mode="w", chunk=250.0)
    assert finest_count(url, source) == 700
    # The old state's cells are gone: reading through it says so instead of mixing states.
    level = old.index.levels[-1]
    with pytest.raises(zv.exceptions.StoreError):
        for chunk in level.chunks:
            old.chunk_bytes(level, chunk)


def test_metadata_is_read_once_per_store_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of requests builds one state; a commit builds one more, and is served."""
    path = str(tmp_path / "cloud.zarrvectors")
    zv.write_points(path, np.full((40, 3), 5.0, np.float32), chunk_shape=(10.0, 10.0, 10.0))
    built: list[object] = []
    real = StoreState.from_root.__func__  # type: ignore[attr-defined]

    def from_root(cls: type[StoreState], backend: Any, raw: bytes) -> StoreState:
        built.append(raw)
        return real(cls, backend, raw)  # type: ignore[no-any-return]

    monkeypatch.setattr(StoreState, "from_root", classmethod(from_root))

    async def count(source: Any, **wait: float) -> int:
        state = await source.state(**wait)
        body = await source.spatial("spatial0", (0, 0, 0))
        return len(decode_annotations(body, 3, state.index.properties)[0])

    async def scenario() -> tuple[list[int], int, int]:
        with open_source(path, refresh_interval=3600.0) as source:
            first = await asyncio.gather(*(count(source) for _ in range(20)))
            after_burst = len(built)
            zv.write_points(path, np.full((10, 3), 5.0, np.float32), mode="a")
            stale = await count(source)  # within the refresh interval: the same state
            fresh = await count(source, newer_than=time.monotonic())
            return [*first, stale, fresh], after_burst, source.root_reads

    counts, after_burst, root_reads = asyncio.run(scenario())
    assert counts == [40] * 21 + [50]
    assert after_burst == 2  # open_source's check, then the served state
    assert len(built) == 3 and root_reads == 3


@pytest.mark.parametrize("shard_shape", [None, 2], ids=["cells", "sharded"])
def test_a_chunk_is_one_batched_read_of_its_cells(tmp_path: Path, shard_shape: int | None) -> None:
    """Unsharded: one get_many of the cell's arrays; sharded: byte ranges, never whole
    shards; then one root read confirming the state."""
    path = str(tmp_path / "cloud.zarrvectors")
    write_cloud(path, 500, levels=1, chunk=250.0, shard_shape=shard_shape)
    with open_source(path, refresh_interval=3600.0) as source:
        backend = source.backend
        calls: list[tuple[str, list[str]]] = []
        get_many, get_range = backend.get_many, backend.get_range

        def counted_many(keys: Any) -> Any:
            keys = list(keys)
            calls.append(("get_many", keys))
            return get_many(keys)

        def counted_range(key: str, *args: Any) -> Any:
            calls.append(("get_range", [key]))
            return get_range(key, *args)

        backend.get_many, backend.get_range = counted_many, counted_range

        async def one_chunk() -> None:
            await source.state()
            calls.clear()
            await source.spatial("spatial0", (1, 2, 3))

        asyncio.run(one_chunk())
    served = [
        "vertices",
        "vertex_attributes/intensity",
        "vertex_attributes/label",
        "vertex_attributes/normal",
    ]
    many = [keys for kind, keys in calls if kind == "get_many"]
    assert many[-1] == ["zarr.json"]  # the confirming root read
    if shard_shape is None:
        assert len(many) == 2 and sorted(many[0]) == sorted(f"0/{a}/c/1/2/3" for a in served)
        assert not [c for c in calls if c[0] == "get_range"]
    else:
        assert len(many) == 1
        ranges = [keys[0] for kind, keys in calls if kind == "get_range"]
        assert sorted(set(ranges)) == sorted(f"0/{a}/c/0/1/1" for a in served)
        assert len(ranges) == 2 * len(served)  # each shard's index, then the cell's bytes


def test_no_store_is_an_error_before_serving(tmp_path: Path) -> None:
    with pytest.raises(zv.exceptions.StoreError, match="no Zarr Vectors store"):
        open_source(str(tmp_path / "nothing.zarrvectors"))
    assert not os.path.exists(tmp_path / "nothing.zarrvectors")

"""The data path: one backend per public call, closed by whoever opened it, no zarr store built.

Also the protocol's newer calls on the local backend (head, delete_many, put_if)
and the one concurrency helper.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import (
    PreconditionFailedError,
    StoreExistsError,
    UnsupportedOperationError,
    ValidationError,
)
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage import concurrency
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.store import create_store, open_store
from zarr_vectors.types.points import read_points, write_points

POINTS = np.random.default_rng(3).uniform(0, 1000, (2_000, 3)).astype(np.float32)


@pytest.fixture
def lifecycle(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts local backends made and closed, and fails if a zarr store adapter is built."""
    counts = {"made": 0, "closed": 0}
    init, close = LocalBackend.__init__, LocalBackend._close

    def counting_init(self: LocalBackend, *args: Any, **kwargs: Any) -> None:
        counts["made"] += 1
        init(self, *args, **kwargs)

    def counting_close(self: LocalBackend) -> None:
        counts["closed"] += 1
        close(self)

    monkeypatch.setattr(LocalBackend, "__init__", counting_init)
    monkeypatch.setattr(LocalBackend, "_close", counting_close)
    return counts


def test_write_and_read_close_every_backend_they_open(
    tmp_path: Path, lifecycle: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from zarr_vectors.storage import zarr_adapter

    def no_adapter(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the point I/O path built a zarr store adapter")

    monkeypatch.setattr(zarr_adapter.BackendStore, "__init__", no_adapter)
    url = tmp_path / "c.zarrvectors"
    write_points(url, POINTS, chunk_shape=(250.0,) * 3)
    write_points(url, POINTS[:10], mode="a")
    assert read_points(url).vertex_count == 2_010
    assert read_points(url, bbox=((0, 0, 0), (500, 500, 500))).vertex_count > 0
    with open_zv(url) as zv:
        assert zv.level(0).read().vertex_count == 2_010
    assert lifecycle["made"] == 5
    assert lifecycle["closed"] == lifecycle["made"]


def test_backends_are_closed_when_the_call_fails(tmp_path: Path, lifecycle: dict[str, int]) -> None:
    url = tmp_path / "c.zarrvectors"
    write_points(url, POINTS, chunk_shape=(250.0,) * 3)
    with pytest.raises(StoreExistsError):
        write_points(url, POINTS, chunk_shape=(250.0,) * 3)  # mode "w-" on a store
    with pytest.raises(ValidationError):
        read_points(url, attribute_names=["nope"])
    with pytest.raises(ValidationError):
        write_points(url, POINTS[:, :2], mode="a")  # 2 axes into a 3-axis store
    assert lifecycle["made"] == 4
    assert lifecycle["closed"] == 4


def test_a_backend_passed_in_is_left_open(tmp_path: Path) -> None:
    with LocalBackend(tmp_path / "c") as backend:
        write_points(backend, POINTS, chunk_shape=(250.0,) * 3)
        assert read_points(backend).vertex_count == len(POINTS)
        with open_zv(backend) as zv:
            assert zv.levels == [0]
        assert not backend.closed
    assert backend.closed


def test_store_handles_own_and_close_their_backend(
    tmp_path: Path, lifecycle: dict[str, int]
) -> None:
    url = tmp_path / "c.zarrvectors"
    group = create_store(url, bounds=((0, 0, 0), (10, 10, 10)), chunk_shape=(5, 5, 5))
    group.store.close()
    group = open_store(url, mode="r")
    assert "0" in group
    group.store.close()
    zv = open_zv(url)
    zv.close()
    zv.close()  # twice is fine
    assert lifecycle["made"] == lifecycle["closed"] == 3


def test_head_and_delete_many_on_the_local_backend(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.put_many({"a/1": b"x", "a/b/2": b"yy", "c": b"zzz"})
    info = backend.head("a/b/2")
    assert (info.key, info.size) == ("a/b/2", 2)
    backend.put_bytes("a/b/2", b"yy")
    assert backend.head("a/b/2").version != info.version  # same bytes, a new write
    with pytest.raises(KeyError):
        backend.head("a/missing")
    backend.delete_many(["a/1", "a/b/2", "a/1", "never/was"])
    assert list(backend.list_prefix("", recursive=True)) == ["c"]
    assert not (tmp_path / "a").exists()  # emptied directories are pruned


def test_put_if_on_the_local_backend(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    first = backend.put_if("lock", b"1", expect=None)
    with pytest.raises(PreconditionFailedError):
        backend.put_if("lock", b"2", expect=None)
    second = backend.put_if("lock", b"3", expect=first)
    assert second == backend.head("lock").version != first
    with pytest.raises(PreconditionFailedError):
        backend.put_if("lock", b"4", expect=first)
    assert backend.get_bytes("lock") == b"3"
    assert list(backend.list_prefix("")) == ["lock"]  # no temporary file left


def test_put_if_lets_exactly_one_of_many_racers_win(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    start = backend.put_if("k", b"0", expect=None)
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def racer(i: int) -> None:
        barrier.wait()
        try:
            backend.put_if("k", str(i).encode(), expect=start)
            wins.append(i)
        except PreconditionFailedError:
            pass

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert backend.get_bytes("k") == str(wins[0]).encode()


def test_a_backend_without_conditional_writes_says_so(tmp_path: Path) -> None:
    class Plain(LocalBackend):
        conditional_writes = False

    with pytest.raises(UnsupportedOperationError, match="no conditional writes"):
        Plain(tmp_path).put_if("k", b"1", expect=None)


def test_amap_bounded_keeps_order_and_the_bound() -> None:
    in_flight = peak = 0

    async def work(i: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001 * (i % 3))
        in_flight -= 1
        return i * 2

    out = asyncio.run(concurrency.amap_bounded(work, list(range(50)), 4))
    assert out == [i * 2 for i in range(50)]
    assert peak == 4


def test_amap_bounded_stops_the_others_on_the_first_error() -> None:
    started: list[int] = []

    async def work(i: int) -> int:
        started.append(i)
        if i == 2:
            raise ValueError("boom")
        await asyncio.sleep(0.01)
        return i

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(concurrency.amap_bounded(work, list(range(100)), 3))
    assert len(started) < 100


def test_map_bounded_runs_on_at_most_limit_threads() -> None:
    names: set[str] = set()
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            names.add(threading.current_thread().name)
        return i + 1

    assert concurrency.map_bounded(work, list(range(40)), 3) == list(range(1, 41))
    assert len(names) <= 3


def test_the_io_loop_is_drained_and_stopped_at_exit(tmp_path: Path) -> None:
    code = (
        "import asyncio, atexit\n"
        "from zarr_vectors.storage.runner import get_loop, run_sync\n"
        "loops = []\n"
        "# registered first, so it runs after the runner's own exit handler\n"
        "atexit.register(lambda: print('closed' if loops[0].is_closed() else 'open'))\n"
        "async def slow():\n"
        "    await asyncio.sleep(3600)\n"
        "loops.append(get_loop())\n"
        "asyncio.run_coroutine_threadsafe(slow(), loops[0])  # still pending at exit\n"
        "assert run_sync(asyncio.sleep(0, result=7)) == 7\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed"

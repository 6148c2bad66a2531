"""Concurrency options and bounded maps (zarr_vectors.storage.concurrency).

The limits are counted with a gate each call waits on, never with timing.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.concurrency import (
    amap_bounded,
    check_concurrency,
    check_flag,
    map_bounded,
)


def test_a_concurrency_is_a_whole_number_of_at_least_one() -> None:
    assert check_concurrency(8) == 8
    assert check_concurrency(np.int64(3)) == 3 and type(check_concurrency(np.int64(3))) is int
    with pytest.raises(BackendOptionError, match="not a string: max_concurrency=4"):
        check_concurrency("4")
    with pytest.raises(BackendOptionError, match=r"got 0 \(an int below 1\)"):
        check_concurrency(0)
    for wrong in (True, 2.5, None):
        with pytest.raises(BackendOptionError, match=f"a {type(wrong).__name__}"):
            check_concurrency(wrong, "workers")


def test_a_flag_is_a_bool_not_a_truthy_string() -> None:
    assert check_flag(False, "fsync") is False
    with pytest.raises(BackendOptionError, match="--option fsync=true"):
        check_flag("false", "fsync")


def test_a_bounded_map_keeps_order_and_its_limit() -> None:
    lock, running, most = threading.Lock(), [0], [0]
    barrier = threading.Barrier(3)

    def work(x: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if x < 3:
            barrier.wait(timeout=30)  # the first three are in flight together
        with lock:
            running[0] -= 1
        return x * x

    assert map_bounded(work, list(range(12)), 3) == [x * x for x in range(12)]
    assert most[0] == 3
    assert map_bounded(lambda x: threading.current_thread().name, [1], 8) == [
        threading.current_thread().name
    ]  # one item runs in the calling thread


def test_an_async_bounded_map_keeps_order_and_stops_at_the_first_error() -> None:
    async def scenario() -> tuple[list[int], int, list[int]]:
        running, most, started = [0], [0], []

        async def work(x: int) -> int:
            started.append(x)
            running[0] += 1
            most[0] = max(most[0], running[0])
            await asyncio.sleep(0)
            running[0] -= 1
            return -x

        results = await amap_bounded(work, list(range(10)), 4)

        async def failing(x: int) -> int:
            if x == 1:
                raise OSError("broken")
            await asyncio.sleep(3600)  # cancelled by the failure, not waited for
            return x

        with pytest.raises(OSError, match="broken"):
            await amap_bounded(failing, list(range(6)), 2)
        return results, most[0], started

    results, most, started = asyncio.run(scenario())
    assert results == [-x for x in range(10)] and most == 4 and sorted(started) == list(range(10))

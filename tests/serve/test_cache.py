"""The chunk cache (zarr_vectors.serve.cache): concurrent misses share one computation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.serve.conftest import Served, chunk_names, fetch, fetch_info
from zarr_vectors.serve.cache import ChunkCache


def test_identical_requests_share_one_computation() -> None:
    async def scenario() -> tuple[list[bytes], int, int]:
        cache = ChunkCache(1 << 20)
        release = asyncio.Event()
        calls = 0

        async def compute() -> bytes:
            nonlocal calls
            calls += 1
            await release.wait()
            return b"chunk"

        waiting = [asyncio.ensure_future(cache.get("k", compute)) for _ in range(20)]
        while calls == 0:
            await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)  # every waiter is parked on the computation in flight
        release.set()
        results = await asyncio.gather(*waiting)
        again = await cache.get("k", compute)
        return [*results, again], calls, cache.computed

    results, calls, computed = asyncio.run(scenario())
    assert results == [b"chunk"] * 21
    assert calls == 1 and computed == 1


def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    async def scenario() -> tuple[int, int, bytes]:
        cache = ChunkCache(1 << 20)
        release = asyncio.Event()
        calls = 0

        async def failing() -> bytes:
            nonlocal calls
            calls += 1
            await release.wait()
            raise OSError("cell gone")

        tasks = [asyncio.ensure_future(cache.get("k", failing)) for _ in range(5)]
        while calls == 0:
            await asyncio.sleep(0)
        release.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        failed = sum(isinstance(o, OSError) for o in outcomes)

        async def fine() -> bytes:
            return b"ok"

        return failed, calls, await cache.get("k", fine)

    failed, calls, after = asyncio.run(scenario())
    assert failed == 5 and calls == 1 and after == b"ok"


def test_least_recently_used_chunks_go_first_and_huge_ones_are_not_kept() -> None:
    async def scenario() -> tuple[ChunkCache, list[str]]:
        cache = ChunkCache(400)
        computed: list[str] = []

        def of(key: str, size: int) -> Callable[[], Any]:
            async def compute() -> bytes:
                computed.append(key)
                return key.encode() * size

            return compute

        for key in "abcd":
            await cache.get(key, of(key, 90))
        await cache.get("a", of("a", 90))  # a hit: "a" is now the most recently used
        await cache.get("e", of("e", 90))  # 450 bytes: the least recently used ("b") goes
        assert cache.size == 360
        await cache.get("a", of("a", 90))
        await cache.get("b", of("b", 90))  # computed again
        await cache.get("huge", of("huge", 26))  # 104 > a quarter of 400: served, not kept
        await cache.get("huge", of("huge", 26))
        return cache, computed

    cache, computed = asyncio.run(scenario())
    assert computed == ["a", "b", "c", "d", "e", "b", "huge", "huge"]
    assert cache.computed == 8 and cache.size == 360
    cache.clear()
    assert cache.size == 0


@pytest.mark.slow
def test_the_cache_stays_within_its_budget(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served]
) -> None:
    url, source = serve(cloud[0], cache_bytes=5_000)
    info = fetch_info(url)
    served = 0
    for level in info["spatial"]:
        for name in list(chunk_names(level))[:150]:
            status, _, body = fetch(f"{url}/{level['key']}/{name}")
            assert status == 200
            served += len(body)
    assert served > 3 * 5_000  # more than the budget was served, so some had to go
    assert 0 < source.cache.size <= 5_000

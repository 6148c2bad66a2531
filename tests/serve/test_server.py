"""The HTTP server: what it answers, what it refuses, errors, store states, the cache."""

from __future__ import annotations

import asyncio
import http.client
import os
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from tests.serve.conftest import Served, chunk_names, fetch, fetch_info, write_cloud
from zarr_vectors.serve import ServerThread, open_source
from zarr_vectors.serve.cache import ChunkCache
from zarr_vectors.serve.encoding import decode_annotations
from zarr_vectors.serve.source import StoreState


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET of ``path`` exactly as written (no client-side normalisation of ``..``)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


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


def test_binds_loopback_by_default(cloud: tuple[str, Any, Any]) -> None:
    with ServerThread(open_source(cloud[0])) as server:
        assert server.host == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
        status, _, _ = fetch(f"{server.url}/info")
        assert status == 200


def test_cors_on_answers_errors_and_preflight(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served]
) -> None:
    url, _ = serve(cloud[0])
    for path in ("/info", "/spatial0/0_0_0", "/nothing-here", "/spatial0/99_99_99"):
        _, headers, _ = fetch(url + path)
        assert headers.get("Access-Control-Allow-Origin") == "*", path
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(
            "OPTIONS",
            "/spatial0/0_0_0",
            headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 204
        assert response.getheader("Access-Control-Allow-Origin") == "*"
        assert "GET" in (response.getheader("Access-Control-Allow-Methods") or "")
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/zarr.json",
        "/0/vertices/c/0/0/0",
        "/../zarr.json",
        "/spatial0/../../zarr.json",
        "/spatial0/..%2F..%2Fzarr.json",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/by_id/../zarr.json",
        "/spatial0/0_0",
        "/spatial0/3_0_0",
        "/spatial9/0_0_0",
        "/spatial0/-1_0_0",
        "/by_id/x",
    ],
)
def test_nothing_outside_the_index_is_served(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served], path: str
) -> None:
    url, _ = serve(cloud[0])
    root = (Path(cloud[0]) / "zarr.json").read_bytes()
    status, body = raw_get(url, path)
    assert status == 404, (path, body[:200])
    assert root[:40] not in body and b"zarr_format" not in body


@pytest.mark.slow
def test_a_corrupt_or_missing_cell_is_named_and_the_server_goes_on(
    tmp_path: Path, serve: Callable[..., Served]
) -> None:
    path = tmp_path / "cloud.zarrvectors"
    write_cloud(str(path), 3000, levels=1)
    url, _ = serve(str(path))
    cells = sorted((path / "0" / "vertices" / "c").glob("*/*/*"))
    broken, gone = cells[0], cells[1]
    broken.write_bytes(b"\x00garbage" * 10)
    gone.unlink()
    for cell in (broken, gone):
        key = cell.relative_to(path).as_posix()
        chunk = "_".join(cell.relative_to(path / "0" / "vertices" / "c").parts)
        status, _, body = fetch(f"{url}/spatial0/{chunk}")
        assert status == 500
        assert key in body.decode(), body
    assert b"missing" in fetch(f"{url}/spatial0/" + "_".join(gone.parts[-3:]))[2]
    status, _, _ = fetch(f"{url}/info")
    assert status == 200
    good = "_".join(cells[2].relative_to(path / "0" / "vertices" / "c").parts)
    status, _, body = fetch(f"{url}/spatial0/{good}")
    assert status == 200 and len(body) > 8


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


@pytest.mark.slow
def test_the_cache_stays_within_its_budget(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served]
) -> None:
    url, source = serve(cloud[0], cache_bytes=20_000)
    info = fetch_info(url)
    for level in info["spatial"]:
        for name in chunk_names(level):
            assert fetch(f"{url}/{level['key']}/{name}")[0] == 200
    assert 0 < source.cache.size <= 20_000


@pytest.mark.slow
def test_many_concurrent_requests_are_answered(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    url, source = serve(cloud[0], max_fetches=4)
    level = fetch_info(url)["spatial"][-1]
    # Count the chunk reads running at once: however many requests wait, at most
    # max_fetches reads (and the memory they hold) are in flight.
    lock, running, most = threading.Lock(), [0], [0]
    read = StoreState.chunk_bytes

    def counted(state: StoreState, *args: Any) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return read(state, *args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(StoreState, "chunk_bytes", counted)
    names = list(chunk_names(level))[:100] * 2  # 200 requests, each chunk asked twice

    async def burst() -> list[tuple[int, bytes]]:
        async with aiohttp.ClientSession() as session:

            async def one(name: str) -> tuple[int, bytes]:
                async with session.get(f"{url}/{level['key']}/{name}") as response:
                    return response.status, await response.read()

            return await asyncio.gather(*(one(n) for n in names))

    answers = asyncio.run(burst())
    assert all(status == 200 for status, _ in answers)
    by_name: dict[str, bytes] = {}
    for name, (_, body) in zip(names, answers, strict=True):
        assert by_name.setdefault(name, body) == body
    assert source.cache.computed == 100  # the second ask of each chunk was never recomputed
    assert 1 <= most[0] <= 4


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

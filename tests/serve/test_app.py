"""The HTTP server (zarr_vectors.serve.app): what it answers, what it refuses, errors, load.

Store states are in test_source.py, the chunk cache in test_cache.py.
"""

from __future__ import annotations

import asyncio
import http.client
import signal
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Served, chunk_names, fetch, fetch_info, raw_get, write_cloud
from zarr_vectors.serve import ServerThread, open_source
from zarr_vectors.serve.app import client_url, how_to_stop
from zarr_vectors.serve.source import StoreState


def test_binds_loopback_by_default(cloud: tuple[str, Any, Any]) -> None:
    with ServerThread(open_source(cloud[0])) as server:
        assert server.host == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
        status, _, _ = fetch(f"{server.url}/info")
        assert status == 200


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:80"),
        ("0.0.0.0", "http://127.0.0.1:80"),
        ("::", "http://[::1]:80"),
        ("::1", "http://[::1]:80"),
        ("vm.example.org", "http://vm.example.org:80"),
    ],
)
def test_a_wildcard_address_is_given_to_clients_as_loopback(host: str, url: str) -> None:
    """A server listening on every interface is reached on this machine by loopback:
    ``view``'s layer source must not send the browser to ``http://0.0.0.0``."""
    assert client_url(host, 80) == url


def test_cors_on_answers_errors_and_preflight(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served]
) -> None:
    url, _ = serve(cloud[0])
    for path in ("/info", "/spatial0/0_0_0", "/nothing-here", "/spatial0/99_99_99"):
        _, headers, _ = fetch(url + path)
        assert headers.get("Access-Control-Allow-Origin") == "*", path
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None
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


@pytest.mark.parametrize(
    ("sigint", "says"),
    [(signal.default_int_handler, "Press Ctrl-C to stop."), (signal.SIG_IGN, "kill ")],
)
def test_the_stop_hint_names_sigterm_when_ctrl_c_is_ignored(sigint: Any, says: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    previous = signal.signal(signal.SIGINT, sigint)
    try:
        assert says in how_to_stop()
    finally:
        signal.signal(signal.SIGINT, previous)

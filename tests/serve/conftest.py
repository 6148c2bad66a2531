"""Fixtures of the serving tests: small stores and a server on 127.0.0.1 for them."""

from __future__ import annotations

import http.client
import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from zarr_vectors.serve import ServerThread, open_source
from zarr_vectors.serve.source import AnnotationSource

Served = tuple[str, AnnotationSource]


def write_cloud(
    store: Any,
    n: int = 3000,
    *,
    levels: int = 3,
    seed: int = 0,
    shard_shape: int | None = None,
    chunk: float = 100.0,
    **options: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A cloud in a 1000-unit cube with a float, an int and a 3-wide attribute, and a
    64-bit integer one (which is not served); cells of ``chunk`` (100: 1,000 cells)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1000, (n, 3)).astype(np.float32)
    attrs: dict[str, np.ndarray] = {
        "intensity": rng.uniform(0, 1, n).astype(np.float32),
        "label": rng.integers(0, 200, n).astype(np.uint8),
        "normal": rng.normal(size=(n, 3)).astype(np.float32),
        "gps_time": rng.integers(0, 2**40, n).astype(np.int64),
    }
    zv.write_points(
        store,
        pts,
        chunk_shape=(chunk, chunk, chunk),
        bounds=((0, 0, 0), (1000, 1000, 1000)),
        levels=levels,
        vertex_attributes=attrs,
        shard_shape=shard_shape,
        **options,
    )
    return pts, attrs


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def fetch_info(url: str) -> dict[str, Any]:
    status, _, body = fetch(f"{url}/info")
    assert status == 200, body
    doc: dict[str, Any] = json.loads(body)
    return doc


def chunk_names(level: dict[str, Any]) -> Iterator[str]:
    """Every chunk of an index level of ``info`` (``i_j_k``)."""
    for cell in itertools.product(*(range(g) for g in level["grid_shape"])):
        yield "_".join(str(c) for c in cell)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(store, **source_options) -> (url, source)``; every server stopped at the end."""
    running: list[ServerThread] = []

    def start(store: Any, **options: Any) -> Served:
        options.setdefault("refresh_interval", 0)
        source = open_source(store, **options)
        server = ServerThread(source)
        running.append(server)
        return server.url, source

    yield start
    for server in running:
        server.stop()
        server.source.close()


@pytest.fixture(scope="session")
def cloud(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """A 3,000-point store of 1,000 cells and 3 levels, written once (never written to:
    the tests that damage or change a store write their own)."""
    path = str(tmp_path_factory.mktemp("served") / "cloud.zarrvectors")
    pts, attrs = write_cloud(path)
    return path, pts, attrs


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """A GET of ``path`` exactly as written (no client-side normalisation of ``..``)."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()

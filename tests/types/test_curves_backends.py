"""Curves on real servers: S3 and Azure through obstore, fsspec on S3, and HTTP reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.types.test_points_backends import azure_options, s3_options
from zarr_vectors.exceptions import ReadOnlyBackendError, ValidationError
from zarr_vectors.types.graphs import read_graph, write_graph
from zarr_vectors.types.polylines import read_polylines, write_polylines

CS = (100.0, 100.0, 100.0)
#: Cells on the servers: the walks and the graph still cross cells, in far fewer requests.
REMOTE_CS = (250.0, 250.0, 250.0)
BOUNDS = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def walks(k: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(
            rng.uniform(200, 800, 3) + np.cumsum(rng.normal(0, 25, (30, 3)), axis=0), 0, 1000
        ).astype(np.float32)
        for _ in range(k)
    ]


def exercise(url: str, **options: Any) -> None:
    """Create, read whole and by id/group, append whole objects, replace, on one store."""
    lines = walks(30)
    groups = {0: list(range(0, 30, 2)), 1: list(range(1, 30, 2))}
    write_polylines(
        url, lines, chunk_shape=REMOTE_CS, bounds=BOUNDS, groups=groups, shard_shape=3, **options
    )
    got = read_polylines(url, **options)
    for a, b in zip(got.polylines, lines, strict=True):
        np.testing.assert_array_equal(a, b)
    assert read_polylines(url, group_ids=[1], **options).object_ids.tolist() == groups[1]
    np.testing.assert_array_equal(
        read_polylines(url, object_ids=[7], **options).polylines[0], lines[7]
    )
    more = walks(3, 1)
    with pytest.raises(ValidationError, match="groups"):  # refused, nothing written
        write_polylines(url, more, object_ids=[30, 31, 32], mode="a", **options)
    write_polylines(
        url, lines, chunk_shape=REMOTE_CS, bounds=BOUNDS, mode="w", **options
    )  # replace
    # appended from batches (in memory: the fsspec test and the local ones)
    batches = iter(
        [
            {"polylines": more[:1], "object_ids": [30]},
            {"polylines": more[1:], "object_ids": [31, 32]},
        ]
    )
    write_polylines(url, batches, mode="a", **options)
    got = read_polylines(url, **options)
    assert got.object_ids.tolist() == list(range(33))
    np.testing.assert_array_equal(got.polylines[31], more[1])
    g_url = url.rstrip("/") + "-graph"
    rng = np.random.default_rng(2)
    pos = rng.uniform(0, 1000, (200, 3)).astype(np.float32)
    edges = np.stack([np.arange(1, 200), rng.integers(0, 199, 199)], axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    write_graph(g_url, pos, edges, chunk_shape=REMOTE_CS, bounds=BOUNDS, **options)
    p2 = rng.uniform(0, 1000, (50, 3)).astype(np.float32)
    write_graph(
        g_url, p2, np.array([[0, 1], [2, 3]]), object_ids=np.full(50, 9), mode="a", **options
    )
    g = read_graph(g_url, **options)
    assert g.node_count == 250 and g.edge_count == len(edges) + 2
    assert g.objects.tolist() == [0, 9]
    write_polylines(url, more, chunk_shape=REMOTE_CS, bounds=BOUNDS, mode="w", **options)  # replace
    assert read_polylines(url, **options).polyline_count == 3


@pytest.mark.servers
def test_curves_on_s3_through_obstore(s3_server: Any, s3_bucket: str) -> None:
    exercise(f"s3://{s3_bucket}/tracts.zarr", **s3_options(s3_server))


@pytest.mark.servers
def test_curves_on_s3_through_fsspec(s3_server: Any, s3_bucket: str) -> None:
    pytest.importorskip("s3fs")
    options = {
        "backend": "fsspec",
        "key": s3_server.access_key,
        "secret": s3_server.secret_key,
        "endpoint_url": s3_server.endpoint,
        "client_kwargs": {"region_name": s3_server.region},
    }
    # The whole exercise runs through obstore on S3 and Azure; through s3fs (slower per
    # request) a create, an in-place append and reads, read back through obstore too.
    url = f"s3://{s3_bucket}/fs-tracts.zarr"
    lines, more = walks(12), walks(3, 1)
    write_polylines(url, lines, chunk_shape=REMOTE_CS, bounds=BOUNDS, shard_shape=3, **options)
    write_polylines(url, more, object_ids=[12, 13, 14], mode="a", **options)
    for got in (read_polylines(url, **options), read_polylines(url, **s3_options(s3_server))):
        assert got.object_ids.tolist() == list(range(15))
        for a, b in zip(got.polylines, lines + more, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        read_polylines(url, object_ids=[13], **options).polylines[0], more[1]
    )


@pytest.mark.servers
def test_curves_on_azure_through_obstore(azure_server: Any, azure_container: str) -> None:
    exercise(f"az://{azure_container}/tracts.zarr", **azure_options(azure_server))


@pytest.mark.servers
def test_curves_read_over_http(http_server: Any) -> None:
    lines = walks(12, 3)
    root = Path(http_server.root)
    write_polylines(root / "tracts.zarr", lines, chunk_shape=CS, bounds=BOUNDS)
    url = f"{http_server.url}/tracts.zarr"
    got = read_polylines(url)
    for a, b in zip(got.polylines, lines, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(read_polylines(url, object_ids=[4]).polylines[0], lines[4])
    with pytest.raises(ReadOnlyBackendError):
        write_polylines(url, lines, chunk_shape=CS, bounds=BOUNDS, mode="w")

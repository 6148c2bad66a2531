"""How many delete requests replacing a point-cloud store costs on S3.

``write_points(..., mode="w")`` over a store of about 1,000 cells removes
thousands of old objects. On S3 that must take a few DeleteObjects requests
(up to 1,000 keys each), not one DELETE per object: the obstore backend's
``delete_many`` sends them. The requests are counted by a reverse proxy
between the client and SeaweedFS (:mod:`tests.helpers.servers.counting_proxy`).

The same replace through the fsspec backend is counted and reported (printed,
``pytest -s``), and held to the same bound only where that backend batches too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.helpers.servers import procs
from tests.helpers.servers.counting_proxy import CountingProxy
from zarr_vectors.storage.resolve import make_backend
from zarr_vectors.types.points import read_points, write_points

pytestmark = pytest.mark.servers

#: 20,000 points in a 1000^3 box with cells of 100^3: about 1,000 occupied cells.
POINTS = 20_000
CHUNK = (100.0, 100.0, 100.0)
#: Delete requests allowed per 1,000 objects removed (S3 DeleteObjects takes 1,000).
PER_THOUSAND = 3


def _options(backend: str, server: procs.S3Server, endpoint: str) -> dict[str, Any]:
    return server.backend_options(backend, endpoint)


def _deletes(counts: dict[str, int]) -> int:
    """DELETE requests of any kind, and S3 DeleteObjects (``POST ?delete``)."""
    return sum(
        n for kind, n in counts.items() if kind.startswith("DELETE") or kind == "POST?delete"
    )


def _keys(url: str, options: dict[str, Any]) -> int:
    with make_backend(url, backend="obstore", **options) as backend:
        return len(list(backend.list_prefix("", recursive=True)))


@pytest.fixture(autouse=True)
def default_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write with the default lease, not the suite's 3-second one.

    tests/conftest.py shortens the lease for tests that kill writers; a busy machine
    replacing 2,000 objects through the proxy can stall its renewal past 3 s, and
    requests are what is counted here, not lease renewals.
    """
    monkeypatch.delenv("ZARR_VECTORS_LEASE_SECONDS", raising=False)


def replace_and_count(
    backend: str, server: procs.S3Server, bucket: str, proxy: CountingProxy
) -> tuple[int, int, dict[str, int]]:
    """Write a store, replace it with ``mode="w"``; (objects before, deletes, all counts)."""
    rng = np.random.default_rng(7)
    first = rng.uniform(0, 1000, (POINTS, 3)).astype(np.float32)
    second = rng.uniform(0, 1000, (POINTS, 3)).astype(np.float32)
    url = f"s3://{bucket}/{backend}/cloud.zv"
    direct = _options(backend, server, server.endpoint)
    summary = write_points(url, first, chunk_shape=CHUNK, backend=backend, **direct)
    assert summary.cells_written >= 900
    before = _keys(url, _options("obstore", server, server.endpoint))
    proxy.reset()
    proxied = _options(backend, server, proxy.url)
    write_points(url, second, chunk_shape=CHUNK, mode="w", backend=backend, **proxied)
    counts = dict(proxy.counts())
    cloud = read_points(url, backend="obstore", **_options("obstore", server, server.endpoint))
    assert len(cloud.positions) == POINTS
    return before, _deletes(counts), counts


def test_obstore_replace_deletes_in_bulk(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    before, deletes, counts = replace_and_count("obstore", s3_server, s3_bucket, s3_counting_proxy)
    print(f"\nobstore: replacing {before} objects took {deletes} delete requests: {counts}")
    assert before >= 1000
    assert deletes >= 1, f"the replace deleted nothing: {counts}"
    assert deletes <= PER_THOUSAND * math.ceil(before / 1000), counts
    assert counts.get("DELETE", 0) <= PER_THOUSAND, counts  # not one request per object


@pytest.mark.slow
def test_fsspec_replace_deletes_counted(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    pytest.importorskip("zarr_vectors_fsspec")
    before, deletes, counts = replace_and_count("fsspec", s3_server, s3_bucket, s3_counting_proxy)
    print(f"\nfsspec: replacing {before} objects took {deletes} delete requests: {counts}")
    assert before >= 1000 and deletes >= 1
    # s3fs's bulk delete is DeleteObjects too: hold it to the same bound.
    assert deletes <= PER_THOUSAND * math.ceil(before / 1000), counts

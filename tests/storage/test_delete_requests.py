"""The requests a replace of a point-cloud store costs on S3: bulk deletes, server-side moves.

``write_points(..., mode="w")`` over a store of 80 cells (about 170 objects)
writes the new store under ``.zv-staged-*/``, moves it into place with
``move_many`` and removes the old objects with ``delete_many``. On S3 that must be:

- a few DeleteObjects requests (up to 1,000 keys each), not one DELETE per object
  (paging past 1,000 keys is the backend suite's ``test_s3_delete_many_in_batches``:
  a store of that size here cost minutes through s3fs and the proxy and proved no more);
- a CopyObject per staged object (counted as ``PUT+copy``), with no staged object
  read back (a GET) and written again (a second PUT of its bytes).

Both backends that speak S3 (obstore, and fsspec through s3fs) are held to it. The
requests are counted by a reverse proxy between the client and SeaweedFS
(:mod:`tests.helpers.servers.counting_proxy`); one replace per backend checks both.
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

#: 2,000 points in a 1000^3 box with 4 x 4 x 5 cells: all 80 occupied, two objects each.
POINTS = 2_000
CHUNK = (250.0, 250.0, 200.0)
CELLS = 80
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


def replace_and_count(
    backend: str, server: procs.S3Server, bucket: str, proxy: CountingProxy
) -> tuple[int, dict[str, int], list[tuple[str, str]]]:
    """Write a store, replace it with ``mode="w"``; (objects before, counts, requests)."""
    rng = np.random.default_rng(7)
    first = rng.uniform(0, 1000, (POINTS, 3)).astype(np.float32)
    second = rng.uniform(0, 1000, (POINTS, 3)).astype(np.float32)
    url = f"s3://{bucket}/{backend}/cloud.zv"
    direct = _options(backend, server, server.endpoint)
    summary = write_points(url, first, chunk_shape=CHUNK, backend=backend, **direct)
    assert summary.cells_written == CELLS
    before = _keys(url, _options("obstore", server, server.endpoint))
    proxy.reset()
    # The proxy is threads in this process: at most 16 requests in flight keep each one
    # well inside the client's 30 s timeout on a busy machine (one took 30 s at 128).
    proxied = {**_options(backend, server, proxy.url), "max_concurrency": 16}
    write_points(url, second, chunk_shape=CHUNK, mode="w", backend=backend, **proxied)
    counts = dict(proxy.counts())
    requests = list(proxy.requests())
    cloud = read_points(url, backend="obstore", **_options("obstore", server, server.endpoint))
    assert len(cloud.positions) == POINTS
    return before, counts, requests


def check_replace_requests(
    backend: str, server: procs.S3Server, bucket: str, proxy: CountingProxy
) -> None:
    before, counts, requests = replace_and_count(backend, server, bucket, proxy)
    print(f"\n{backend}: replacing {before} objects: {dict(sorted(counts.items()))}")
    assert before > 2 * CELLS
    # Old objects go in bulk: DeleteObjects pages, not one DELETE per object.
    deletes = _deletes(counts)
    assert deletes >= 1, f"the replace deleted nothing: {counts}"
    assert deletes <= PER_THOUSAND * math.ceil(before / 1000), counts
    assert counts.get("DELETE", 0) <= PER_THOUSAND, counts
    # Staged objects are moved on the server: written once, copied once, never read back.
    staged_gets = [path for kind, path in requests if kind == "GET" and "/.zv-staged-" in path]
    staged_puts = sum(1 for kind, path in requests if kind == "PUT" and "/.zv-staged-" in path)
    copies = counts.get("PUT+copy", 0)
    assert staged_gets == [], f"{len(staged_gets)} staged objects were read back: {counts}"
    assert copies >= staged_puts - 5 and copies > CELLS, counts
    # Every other PUT is a document (zarr.json, the journal, lease renewals of the root, whose
    # number grows with the time the replace takes): no cell's bytes are PUT a second time.
    cell_puts = [
        path
        for kind, path in requests
        if kind == "PUT" and "/.zv-staged-" not in path and "/c/" in path
    ]
    assert cell_puts == [], f"{len(cell_puts)} cells were written again: {cell_puts[:5]}"


def test_obstore_replace_deletes_in_bulk_and_moves_on_the_server(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    check_replace_requests("obstore", s3_server, s3_bucket, s3_counting_proxy)


def test_fsspec_replace_deletes_in_bulk_and_moves_on_the_server(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    pytest.importorskip("zarr_vectors_fsspec")
    check_replace_requests("fsspec", s3_server, s3_bucket, s3_counting_proxy)

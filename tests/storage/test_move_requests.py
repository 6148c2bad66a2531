"""A replace on S3 moves its staged store on the server: no staged object comes back.

``write_points(..., mode="w")`` over a store of about 2,000 objects writes the
new store under ``.zv-staged-*/`` and moves it into place with ``move_many``:
an S3 CopyObject per object and a DeleteObjects per 1,000 sources, through
obstore and through fsspec (s3fs). Requests are counted by the reverse proxy
of :mod:`tests.helpers.servers.counting_proxy` (a CopyObject counts as ``PUT+copy``).
Before ``move_many`` each staged object was read back (a GET) and written again
(a PUT): about 2,000 GETs and 4,000 PUTs for the replace.
"""

from __future__ import annotations

import pytest

from tests.helpers.servers import procs
from tests.helpers.servers.counting_proxy import CountingProxy
from tests.storage.test_delete_requests import default_lease, replace_and_count

pytestmark = pytest.mark.servers

__all__ = ["default_lease"]  # the fixture, used here too


def _check(backend: str, server: procs.S3Server, bucket: str, proxy: CountingProxy) -> None:
    before, _, counts = replace_and_count(backend, server, bucket, proxy)
    requests = proxy.requests()
    staged_gets = [path for kind, path in requests if kind == "GET" and "/.zv-staged-" in path]
    staged_puts = sum(1 for kind, path in requests if kind == "PUT" and "/.zv-staged-" in path)
    copies = counts.get("PUT+copy", 0)
    print(f"\n{backend}: replacing {before} objects: {dict(sorted(counts.items()))}")
    assert before >= 1000
    assert staged_gets == [], f"{len(staged_gets)} staged objects were read back: {counts}"
    # Each staged object is written once (to the staging prefix) and copied once on the server.
    assert copies >= staged_puts - 5 and copies > 900, counts
    assert counts.get("PUT", 0) <= staged_puts + 10, counts  # no second PUT of the bytes


def test_obstore_replace_copies_on_the_server(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    _check("obstore", s3_server, s3_bucket, s3_counting_proxy)


@pytest.mark.slow
def test_fsspec_replace_copies_on_the_server(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    pytest.importorskip("zarr_vectors_fsspec")
    _check("fsspec", s3_server, s3_bucket, s3_counting_proxy)

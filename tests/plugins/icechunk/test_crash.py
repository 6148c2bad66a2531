"""A writer killed (SIGKILL) inside its commit leaves the previous snapshot the head.

An Icechunk commit writes the new snapshot's files first and moves the branch
last, with one conditional write of its reference. The writer here reaches
SeaweedFS through a proxy that holds that one request: once it is held, the
commit is provably under way (everything else of it written), and the writer is
killed there. The held request is then dropped, never forwarded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from tests.helpers.servers.counting_proxy import CountingProxy
from zarr_vectors.types.points import read_points, write_points

pytestmark = [pytest.mark.servers, pytest.mark.slow]

BOUNDS = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))

_WRITER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from zarr_vectors.types.points import write_points

    url, options = sys.argv[1], json.loads(sys.argv[2])
    rows = np.random.default_rng(2).uniform(0, 100, (20000, 3)).astype(np.float32)
    write_points(url, rows, mode="a", backend="icechunk", message="killed", **options)
    print("COMMITTED")
    """
)


class RefHoldingProxy(CountingProxy):
    """Forwards everything but the write of a branch reference, which it holds, then drops."""

    def __init__(self, upstream: str) -> None:
        self.held = threading.Event()
        self.drop = threading.Event()
        super().__init__(upstream)

    def _count(self, kind: str, target: str = "") -> None:
        super()._count(kind, target)
        if kind.startswith("PUT") and "/refs/" in target:
            self.held.set()
            self.drop.wait()
            raise ConnectionAbortedError("held reference write dropped")


def _sorted(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return rows[np.lexsort(rows.T[::-1])]


def test_sigkill_during_the_commit_leaves_the_previous_head(s3_server: Any, s3_bucket: str) -> None:
    options = s3_server.backend_options("obstore")
    url = f"s3://{s3_bucket}/crash-{uuid.uuid4().hex[:8]}"
    first = np.random.default_rng(1).uniform(0, 100, (5000, 3)).astype(np.float32)
    write_points(url, first, chunk_shape=(10.0,) * 3, bounds=BOUNDS, backend="icechunk",
                 **options)  # fmt: skip
    head = zi.history(url, **options)[0].id
    with RefHoldingProxy(s3_server.endpoint) as proxy:
        through = {**options, "endpoint": proxy.url}
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, json.dumps(through)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.held.wait(timeout=600), "the writer never reached its commit"
            written = {p.split("/")[-2] for kind, p in proxy.requests() if kind[:3] == "PUT"}
            os.kill(writer.pid, signal.SIGKILL)
            out, err = writer.communicate(timeout=120)
        finally:
            proxy.drop.set()
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    assert writer.returncode == -signal.SIGKILL and "COMMITTED" not in out, err[-2000:]
    # Killed inside the commit: its manifests and snapshot were written, the branch not moved.
    assert {"manifests", "snapshots"} <= written, written
    assert zi.history(url, **options)[0].id == head
    got = read_points(url, backend="icechunk", **options).positions
    np.testing.assert_array_equal(_sorted(got), _sorted(first))
    # The next writer starts from the previous head as if nothing had happened.
    more = np.random.default_rng(3).uniform(0, 100, (10, 3)).astype(np.float32)
    write_points(url, more, mode="a", backend="icechunk", **options)
    got = read_points(url, backend="icechunk", **options).positions
    np.testing.assert_array_equal(_sorted(got), _sorted(np.concatenate([first, more])))
    assert zi.history(url, **options)[1].id == head

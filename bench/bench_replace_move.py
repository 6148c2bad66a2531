"""Replacing a point-cloud store on S3 (``mode="w"``): requests and time of the move into place.

A replace writes the new store under a staged prefix, commits, then moves every
staged object to its own key. This starts its own SeaweedFS on 127.0.0.1
(``tests/helpers/servers/procs.py``, stopped at the end) with a counting proxy in front
(``tests/helpers/servers/counting_proxy.py``), writes a store of about ``--objects``
objects through each backend, then replaces it ``--runs`` times through the
proxy and prints, per run: objects, seconds, and the requests by kind, with the
GETs of staged objects counted apart (each one is a staged object's bytes coming
back through the client). ``PUT+copy`` is an S3 CopyObject (server-side).

    uv run python bench/bench_replace_move.py [--objects 2000] [--runs 3] [--backend obstore]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.servers import procs  # noqa: E402
from tests.helpers.servers.counting_proxy import CountingProxy  # noqa: E402
from zarr_vectors.storage import make_backend  # noqa: E402
from zarr_vectors.types.points import write_points  # noqa: E402

#: Cells of 100^3 in a 1000^3 box; 20 points a cell fill about 1,000 of them.
CHUNK = (100.0, 100.0, 100.0)


def _objects(url: str, options: dict[str, Any]) -> int:
    with make_backend(url, backend="obstore", **options) as backend:
        return len(list(backend.list_prefix("", recursive=True)))


def _summary(proxy: CountingProxy) -> tuple[int, str]:
    requests = proxy.requests()
    staged_gets = sum(1 for kind, path in requests if kind == "GET" and "/.zv-staged-" in path)
    counts = proxy.counts()
    shown = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
    return staged_gets, shown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--objects", type=int, default=2000, help="about this many objects")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", action="append", choices=("obstore", "fsspec"))
    args = ap.parse_args()
    backends = args.backend or ["obstore", "fsspec"]
    # A cell holds a vertices and a fragments object: objects / 2 cells of ~1,000 possible.
    cells = max(1, min(args.objects // 2, 1000))
    points = int(-1000 * np.log(1 - cells / 1000) * 20) if cells < 1000 else 200_000
    os.environ.pop("ZARR_VECTORS_LEASE_SECONDS", None)
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, {points:,} points per store")
    print(f"{'backend':8} {'run':>3} {'objects':>7} {'seconds':>7} {'staged GETs':>11}  requests")
    with tempfile.TemporaryDirectory() as work:
        server = procs.start_seaweedfs(Path(work))
        try:
            bucket = server.create_bucket()
            direct_obstore = server.backend_options("obstore")
            with CountingProxy(server.endpoint) as proxy:
                for backend in backends:
                    url = f"s3://{bucket}/{backend}/replace.zv"
                    direct = server.backend_options(backend)
                    proxied = server.backend_options(backend, proxy.url)
                    rng = np.random.default_rng(1)
                    first = rng.uniform(0, 1000, (points, 3)).astype(np.float32)
                    write_points(url, first, chunk_shape=CHUNK, backend=backend, **direct)
                    for run in range(1, args.runs + 1):
                        new = rng.uniform(0, 1000, (points, 3)).astype(np.float32)
                        before = _objects(url, direct_obstore)
                        proxy.reset()
                        t0 = time.perf_counter()
                        write_points(
                            url, new, chunk_shape=CHUNK, mode="w", backend=backend, **proxied
                        )
                        seconds = time.perf_counter() - t0
                        staged, shown = _summary(proxy)
                        print(
                            f"{backend:8} {run:3} {before:7,} {seconds:7.2f} {staged:11,}  {shown}",
                            flush=True,
                        )
        finally:
            server.stop()


if __name__ == "__main__":
    main()

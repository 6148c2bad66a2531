"""Reading a few cells of a sharded store on a store with a round trip, against an unsharded one.

Starts its own SeaweedFS on 127.0.0.1 (``tests/helpers/servers/procs.py``, stopped by pid
at the end) behind the counting proxy (``tests/helpers/servers/counting_proxy.py``): a
thread per connection in Python, whose own cost per request (tens of ms on a loaded
2-core machine) stands in for an object store's first-byte latency, requests in flight
together paying it side by side; ``--latency`` holds each request that many ms more
(on the 2-core machine, 20 ms made obstore's requests time out: left at 0). Writes
``--points`` random float32 3-D points (0..1000, ``--chunk`` cells, one float32
attribute) twice, one object per cell and in shards of ``--shard``^3 cells, then, in
alternating order, reads with ``read_points(url, bbox=..., storage_options=...)``
through obstore (a client per read: one kept across reads hung on this proxy):

1. one cell (the box of a cell, shrunk by 1e-3): medians over ``--cells`` cells;
2. a box of about 5 % of the volume: medians of ``--repeats``.

and prints per layout the median time and the requests of one read (by kind), and the
sharded / unsharded ratio. A sharded read fetches each shard's size, index and cell
byte ranges: three round trips for all arrays and shards together, against one batch
of cell objects unsharded (plus the root, read once to open and once to confirm).

    uv run python bench/bench_shard_reads.py [--points 500000] [--chunk 100] [--shard 4]
                                             [--latency 20] [--cells 15] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
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
from zarr_vectors.types.points import read_points, write_points  # noqa: E402

EPS = 1e-3


def _timed(url: str, options: dict[str, Any], box: tuple[tuple[float, ...], ...]) -> float:
    t0 = time.perf_counter()
    read_points(url, bbox=box, storage_options=options)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=500_000)
    ap.add_argument("--chunk", type=float, default=100.0)
    ap.add_argument("--shard", type=int, default=4, help="cells per shard a side")
    ap.add_argument("--latency", type=float, default=0.0, help="ms added to each request")
    ap.add_argument("--cells", type=int, default=15, help="single cells timed")
    ap.add_argument("--repeats", type=int, default=5, help="5 % boxes timed")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1000, (args.points, 3)).astype(np.float32)
    attrs = {"intensity": rng.random(args.points).astype(np.float32)}
    side = 1000 * 0.05 ** (1 / 3)
    big = ((100.0,) * 3, (100.0 + side,) * 3)
    c = args.chunk
    cells = [rng.integers(0, int(1000 // c), 3) for _ in range(args.cells)]
    small = [(tuple(g * c + EPS), tuple((g + 1) * c - EPS)) for g in cells]
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{args.points:,} points + 1 attribute, chunk {c:g}, shards of {args.shard}^3 cells, "
        f"{args.latency:g} ms per request (SeaweedFS on 127.0.0.1 behind a delaying proxy), "
        "obstore"
    )
    with tempfile.TemporaryDirectory() as work:
        server = procs.start_seaweedfs(Path(work))
        try:
            bucket = server.create_bucket()
            direct = server.backend_options("obstore")
            with CountingProxy(server.endpoint, delay=args.latency / 1e3) as proxy:
                slow = server.backend_options("obstore", proxy.url)
                layouts = {"cells": None, "shards": args.shard}
                urls = {}
                for name, shard in layouts.items():
                    url = f"s3://{bucket}/{name}.zv"
                    write_points(
                        url,
                        points,
                        vertex_attributes=attrs,
                        chunk_shape=(c,) * 3,
                        bounds=((0,) * 3, (1000,) * 3),
                        shard_shape=shard,
                        storage_options=direct,
                    )
                    urls[name] = url
                times: dict[tuple[str, str], list[float]] = {}
                requests: dict[tuple[str, str], str] = {}
                for kind, boxes in (("one cell", small), ("5 % box", [big] * args.repeats)):
                    for i, box in enumerate(boxes):
                        order = list(layouts) if i % 2 == 0 else list(layouts)[::-1]
                        for name in order:
                            proxy.reset()
                            times.setdefault((kind, name), []).append(_timed(urls[name], slow, box))
                            counts = proxy.counts()
                            requests[(kind, name)] = ", ".join(
                                f"{k} {n}" for k, n in sorted(counts.items())
                            )
        finally:
            server.stop()
    for kind in ("one cell", "5 % box"):
        med = {name: statistics.median(times[(kind, name)]) * 1e3 for name in layouts}
        print(
            f"{kind}: unsharded {med['cells']:.1f} ms ({requests[(kind, 'cells')]}), "
            f"sharded {med['shards']:.1f} ms ({requests[(kind, 'shards')]}), "
            f"sharded / unsharded {med['shards'] / med['cells']:.2f}"
        )


if __name__ == "__main__":
    main()

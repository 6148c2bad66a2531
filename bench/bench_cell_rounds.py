"""What a sharded read's rounds cost on a local disk: the I/O loop's threads or map_bounded.

``format/cellio.py`` sends a sharded read's requests in three rounds (sizes, indexes,
byte ranges). A backend whose coroutines are not its own (``native_async`` false: the
local backend, thread-based plugins) has its blocking calls run for a round of two or
more requests on the I/O loop's long-lived worker threads (``asyncio.to_thread``
under one ``run_sync``). The other way would be
:func:`~zarr_vectors.storage.concurrency.map_bounded`, the home of bounded blocking
calls, which starts a pool of threads per call. This writes ``--points`` random
float32 3-D points (one float32 attribute, chunk 100, shards of 4^3 cells) to a local
store and times, alternating, both ways of running a round:

1. ``fetch_cell_bytes`` of one cell of the positions and the attribute (two shards:
   three rounds of two requests), ``--calls`` calls a sample;
2. ``read_points(path, bbox=one cell)``, ``--calls // 4`` calls a sample.

and prints per way the median and least wall and CPU (all threads of the process)
time of one call over ``--samples`` samples. No latency here: a round's hand-offs
are all there is to see.

    uv run python bench/bench_cell_rounds.py [--points 50000] [--samples 15] [--calls 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from zarr_vectors.format import cellio
from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.storage.concurrency import map_bounded
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points

LOOP_THREADS = cellio._round


def _map_bounded_round(snap: Any, requests: list[Any], *, missing_ok: bool = False) -> list[Any]:
    """A round as map_bounded runs it: each request a round of one (the blocking call) on a
    pool made for the call."""
    limit = int(getattr(snap.backend, "max_concurrency", 8))
    return map_bounded(lambda r: LOOP_THREADS(snap, [r], missing_ok=missing_ok)[0], requests, limit)


WAYS: dict[str, Callable[..., list[Any]]] = {
    "I/O loop threads (to_thread)": LOOP_THREADS,
    "map_bounded": _map_bounded_round,
}


def _sample(call: Callable[[], object], n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    return (time.perf_counter() - wall) / n * 1e3, (time.process_time() - cpu) / n * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=50_000)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--calls", type=int, default=100)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1000, (args.points, 3)).astype(np.float32)
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{args.points:,} points + 1 attribute, chunk 100, shards of 4^3 cells, local disk"
    )
    box = ((100.001,) * 3, (199.999,) * 3)
    with tempfile.TemporaryDirectory() as work:
        path = f"{work}/s.zv"
        attrs = {"a": rng.random(args.points).astype(np.float32)}
        write_points(path, points, chunk_shape=(100.0,) * 3, shard_shape=4, vertex_attributes=attrs)
        with LocalBackend(path) as backend:
            snap = load_snapshot(backend)
            arrays = ["0/vertices", "0/vertex_attributes/a"]
            wanted = {p: (cellio.ArrayLayout(p, snap.node(p)), [(1, 1, 1)]) for p in arrays}
            tasks = {
                "fetch_cell_bytes": (lambda: cellio.fetch_cell_bytes(snap, wanted), args.calls),
                "read_points": (lambda: read_points(path, bbox=box), max(1, args.calls // 4)),
            }
            times: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for i in range(args.samples):
                order = list(WAYS.items()) if i % 2 == 0 else list(WAYS.items())[::-1]
                for way, round_ in order:
                    cellio._round = round_  # type: ignore[assignment]
                    try:
                        for task, (call, n) in tasks.items():
                            times.setdefault((task, way), []).append(_sample(call, n))
                    finally:
                        cellio._round = LOOP_THREADS
    for task in tasks:
        for way in WAYS:
            wall = [w for w, _ in times[(task, way)]]
            cpu = [c for _, c in times[(task, way)]]
            print(
                f"{task} ({way}): wall median {statistics.median(wall):.2f} ms "
                f"(least {min(wall):.2f}), CPU median {statistics.median(cpu):.2f} ms "
                f"(least {min(cpu):.2f})"
            )


if __name__ == "__main__":
    main()

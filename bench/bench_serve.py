"""Serving a store from S3 to Neuroglancer against reading the same cells with read_points.

Starts its own SeaweedFS on 127.0.0.1 (``tests/helpers/servers/procs.py``, stopped by pid
at the end), writes ``--points`` random float32 3-D points (0..1000, ``--chunk``
cells, 3 levels) through the obstore backend, and starts ``zarr-vectors serve``
on that S3 URL as its own process (``--refresh 1``, the default). Then, in
alternating order so that neither side is always the warmer one:

1. one spatial chunk of the finest index level (one cell), fetched over HTTP and
   never asked for before (the cache cannot answer it), against
   ``read_points(backend, bbox=<that cell, shrunk by 1e-3>)`` with a backend made
   once (the fastest use of the reading path: no connection set-up per read);
   medians over ``--cells`` different cells, and their ratio;
2. 200 different chunks requested at once (all 200 in flight), by 1 client and
   by 16 clients (HTTP sessions of their own), against 200
   ``read_points(bbox=...)`` of the same cells from 1 and from 16 threads; wall
   times and ratios, and the server's peak resident memory (``VmHWM``) before
   and after the bursts.

    uv run python bench/bench_serve.py [--points 2000000] [--chunk 100] [--cells 30] [--shard N]
                                       [--backend obstore|fsspec]

``--shard N`` writes the store sharded, N cells a side per shard (a chunk is then
read as each array's shard index and byte ranges, as ``zarr-vectors write-points``
writes LAS surveys). ``--backend fsspec`` serves and reads through s3fs instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.servers import procs  # noqa: E402
from zarr_vectors.storage import make_backend  # noqa: E402
from zarr_vectors.types.points import read_points, write_points  # noqa: E402

EPS = 1e-3


def start_server(
    url: str, backend: str, options: dict[str, Any]
) -> tuple[subprocess.Popen[str], str]:
    script = Path(sys.executable).parent / "zarr-vectors"
    args = [str(script), "serve", url, "--port", "0", "--backend", backend]
    for key, value in options.items():
        shown = json.dumps(value) if isinstance(value, dict) else value
        args += ["--option", f"{key}={shown}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"precomputed://(http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit(f"zarr-vectors serve exited ({proc.wait()}) without serving")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cell_box(world: tuple[int, ...], chunk: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    lo = tuple(w * chunk + EPS for w in world)
    hi = tuple((w + 1) * chunk - EPS for w in world)
    return lo, hi


async def fetch_all(base: str, names: list[str], clients: int) -> float:
    """Wall time for every chunk of ``names``, all requested at once by ``clients`` sessions."""
    groups = [names[i::clients] for i in range(clients)]

    async def client(group: list[str]) -> None:
        connector = aiohttp.TCPConnector(limit=0)  # every request of the client in flight
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(name: str) -> None:
                async with session.get(f"{base}/{name}") as response:
                    assert response.status == 200, await response.text()
                    await response.read()

            await asyncio.gather(*(one(n) for n in group))

    t0 = time.perf_counter()
    await asyncio.gather(*(client(g) for g in groups))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=2_000_000)
    ap.add_argument("--chunk", type=float, default=100.0)
    ap.add_argument("--cells", type=int, default=30, help="cells timed one by one")
    ap.add_argument("--shard", type=int, default=None, help="cells per shard a side")
    ap.add_argument(
        "--backend",
        default="obstore",
        choices=["obstore", "fsspec"],
        help="what the server and the reference read through (the store is written by obstore)",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1000, (args.points, 3)).astype(np.float32)
    attrs = {"intensity": rng.uniform(0, 1, args.points).astype(np.float32)}
    per_axis = round(1000 / args.chunk)
    layout = f"shards of {args.shard}**3 cells" if args.shard else "unsharded"
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, {args.points:,} points, "
        f"chunk {args.chunk:g} ({per_axis**3:,} cells, ~{args.points // per_axis**3:,} "
        f"points each), 3 levels, {layout}, "
        f"SeaweedFS S3 on 127.0.0.1 read through {args.backend}"
    )
    with tempfile.TemporaryDirectory() as work:
        server = procs.start_seaweedfs(Path(work))
        proc = None
        try:
            bucket = server.create_bucket()
            opts = server.backend_options("obstore")
            url = f"s3://{bucket}/cloud.zv"
            write_points(
                url,
                points,
                chunk_shape=(args.chunk,) * 3,
                bounds=((0,) * 3, (1000,) * 3),
                levels=3,
                vertex_attributes=attrs,
                shard_shape=args.shard,
                storage_options=opts,
            )
            read_opts = server.backend_options(args.backend)
            proc, base = start_server(url, args.backend, read_opts)
            finest = f"{base}/spatial2"
            cells = [
                tuple(int(c) for c in rng.integers(0, per_axis - 1, 3))
                for _ in range(args.cells + 400)
            ]
            cells = list(dict.fromkeys(cells))
            timed, burst = cells[: args.cells], cells[args.cells : args.cells + 400]
            with make_backend(url, backend=args.backend, **read_opts) as backend:
                read_points(backend, bbox=cell_box(timed[0], args.chunk))  # connect once
                asyncio.run(fetch_all(finest, ["0_0_0"], 1))
                served, direct = [], []
                for i, world in enumerate(timed):
                    name = "_".join(str(c) for c in world)

                    def read(w: tuple[int, ...] = world) -> None:
                        read_points(backend, bbox=cell_box(w, args.chunk))

                    order = [0, 1] if i % 2 == 0 else [1, 0]
                    for side in order:
                        t0 = time.perf_counter()
                        if side == 0:
                            asyncio.run(fetch_all(finest, [name], 1))
                            served.append(time.perf_counter() - t0)
                        else:
                            read()
                            direct.append(time.perf_counter() - t0)
                s_med, d_med = statistics.median(served), statistics.median(direct)
                print(
                    f"one chunk (1 cell, cold): served {s_med * 1e3:.1f} ms, "
                    f"read_points(bbox) {d_med * 1e3:.1f} ms, ratio {s_med / d_med:.2f} "
                    f"(medians of {len(timed)})"
                )
                rss0 = peak_rss_mb(proc.pid)
                for clients, group in ((1, burst[:200]), (16, burst[200:400])):
                    names = ["_".join(str(c) for c in w) for w in group]

                    def read_one(w: tuple[int, ...]) -> None:
                        read_points(backend, bbox=cell_box(w, args.chunk))

                    t0 = time.perf_counter()
                    with ThreadPoolExecutor(clients) as pool:
                        list(pool.map(read_one, group))
                    t_direct = time.perf_counter() - t0
                    t_served = asyncio.run(fetch_all(finest, names, clients))
                    print(
                        f"200 chunks, {clients:2} client(s): served {t_served:.2f} s, "
                        f"read_points(bbox) from {clients} thread(s) {t_direct:.2f} s, "
                        f"ratio {t_served / t_direct:.2f}"
                    )
                print(
                    f"server peak RSS: {rss0:.0f} MB before the bursts, "
                    f"{peak_rss_mb(proc.pid):.0f} MB after"
                )
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
            server.stop()


if __name__ == "__main__":
    main()

"""A point cloud on an S3 server with and without sharding: objects, requests, times.

Starts its own SeaweedFS on 127.0.0.1 (``tests/helpers/servers/procs.py``, stopped by pid
at the end) and a counting proxy in front of it (``tests/helpers/servers/counting_proxy.py``),
then, for each layout, writes ``--points`` random float32 3-D points (0..1000,
``--chunk`` cells) through the obstore backend and reads a box covering about 5 %
of the volume, and prints side by side: objects stored, requests of the write and
of the box read (by kind), and their times. One run, same data, same server.

    uv run python bench/bench_s3_scale.py [--points 10000000] [--chunk 50] [--shard 4]
"""

from __future__ import annotations

import argparse
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
from zarr_vectors.types.points import read_points, write_points  # noqa: E402


def _objects(url: str, options: dict[str, Any]) -> tuple[int, int]:
    """(objects, bytes) under ``url``."""
    with make_backend(url, backend="obstore", **options) as backend:
        keys = list(backend.list_prefix("", recursive=True))
        return len(keys), sum(backend.head(k).size for k in keys)


def _requests(proxy: CountingProxy) -> str:
    counts = proxy.counts()
    total = sum(counts.values())
    top = ", ".join(f"{k} {n}" for k, n in counts.most_common(4))
    return f"{total} ({top})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=float, default=50.0)
    ap.add_argument("--shard", type=int, default=4, help="cells per shard per axis")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1000, (args.points, 3)).astype(np.float32)
    side = 1000 * 0.05 ** (1 / 3)  # a cube of 5 % of the volume
    box = ((100.0,) * 3, (100.0 + side,) * 3)
    inside = int(np.all((points >= box[0]) & (points <= box[1]), axis=1).sum())
    print(
        f"# {platform.platform()}, {args.points:,} points, chunk {args.chunk:g}, "
        f"shards of {args.shard}^3 cells, box {side:.0f}^3 ({inside:,} points)"
    )
    with tempfile.TemporaryDirectory() as work:
        server = procs.start_seaweedfs(Path(work))
        try:
            bucket = server.create_bucket()
            with CountingProxy(server.endpoint) as proxy:
                opts = server.backend_options("obstore", proxy.url)
                direct = server.backend_options("obstore")
                head = f"{'layout':10} {'objects':>8} {'MB':>7} {'write s':>8} {'box s':>6}"
                print(f"{head}  requests")
                for name, shard in (("cells", None), ("shards", args.shard)):
                    url = f"s3://{bucket}/{name}.zv"
                    proxy.reset()
                    t0 = time.perf_counter()
                    write_points(
                        url,
                        points,
                        chunk_shape=(args.chunk,) * 3,
                        bounds=((0,) * 3, (1000,) * 3),
                        shard_shape=shard,
                        storage_options=opts,
                    )
                    t_write = time.perf_counter() - t0
                    w_req = _requests(proxy)
                    proxy.reset()
                    t0 = time.perf_counter()
                    got = read_points(url, bbox=box, storage_options=opts)
                    t_box = time.perf_counter() - t0
                    assert got.vertex_count == inside, (got.vertex_count, inside)
                    r_req = _requests(proxy)
                    n_obj, n_bytes = _objects(url, direct)
                    print(
                        f"{name:10} {n_obj:8,} {n_bytes / 1e6:7.1f} {t_write:8.2f} {t_box:6.2f}"
                        f"  write: {w_req}; box read: {r_req}"
                    )
        finally:
            server.stop()


if __name__ == "__main__":
    main()

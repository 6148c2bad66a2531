"""The icechunk plugin against the obstore plugin on one SeaweedFS: write and full read.

Starts its own SeaweedFS on 127.0.0.1 (``tests/helpers/servers/procs.py``, stopped at
the end), makes ``--points`` random float32 3-D points (0..1000, ``--chunk`` cells),
and in each of ``--rounds`` rounds writes them as a new store through each backend
and reads each store back whole, alternating which backend goes first. Prints the
clock time of every step and the icechunk/obstore ratios (median over the rounds).
The icechunk write includes its commit; both reads include opening the store.

    uv run python bench/bench_icechunk.py [--points 10000000] [--chunk 50] [--rounds 3]
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
os.environ.setdefault("ICECHUNK_LOG", "error")

from tests.helpers.servers import procs  # noqa: E402
from zarr_vectors.types.points import read_points, write_points  # noqa: E402


def _timed(step: Any) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=float, default=50.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    points = np.random.default_rng(0).uniform(0, 1000, (args.points, 3)).astype(np.float32)
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, {args.points:,} points, "
        f"chunk {args.chunk:g}, {args.rounds} rounds"
    )
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as work:
        server = procs.start_seaweedfs(Path(work))
        try:
            bucket = server.create_bucket()
            options = server.backend_options("obstore")
            for round_ in range(args.rounds):
                order = ["obstore", "icechunk"] if round_ % 2 == 0 else ["icechunk", "obstore"]
                for step in ("write", "read"):
                    for backend in order:
                        url = f"s3://{bucket}/{backend}-{round_}.zv"
                        if step == "write":

                            def run(url: str = url, backend: str = backend) -> None:
                                write_points(
                                    url,
                                    points,
                                    chunk_shape=(args.chunk,) * 3,
                                    bounds=((0.0,) * 3, (1000.0,) * 3),
                                    backend=backend,
                                    **options,
                                )

                        else:

                            def run(url: str = url, backend: str = backend) -> None:
                                got = read_points(url, backend=backend, **options)
                                assert len(got) == len(points)

                        seconds = _timed(run)
                        times.setdefault((step, backend), []).append(seconds)
                        print(f"round {round_} {step:5} {backend:8} {seconds:7.2f} s", flush=True)
        finally:
            server.stop()
    for step, limit in (("write", 1.3), ("read", 1.2)):
        ice = statistics.median(times[(step, "icechunk")])
        obs = statistics.median(times[(step, "obstore")])
        verdict = "met" if ice <= limit * obs else "NOT met"
        print(
            f"{step:5}: icechunk {ice:.2f} s, obstore {obs:.2f} s (medians), ratio "
            f"{ice / obs:.2f} (target <= {limit}: {verdict})"
        )


if __name__ == "__main__":
    main()

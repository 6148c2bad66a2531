"""The icechunk plugin against the obstore plugin on one SeaweedFS: write and full read.

Starts its own SeaweedFS on 127.0.0.1 (``tests/helpers/servers/procs.py``, stopped at
the end), makes ``--points`` random float32 3-D points (0..1000, ``--chunk`` cells),
and in each of ``--rounds`` rounds writes them as a new store through each backend
and reads each store back whole ``--reads`` times, alternating which backend goes
first. Prints the clock time of every step, with the CPU time this process and the
server spent in it, and the icechunk/obstore ratios: of the medians, and the median
of the ratios of each pair run back to back (the steadier one on a shared machine,
as both runs of a pair see about the same load). The icechunk write includes its
commit; both reads include opening the store.

    uv run python bench/bench_icechunk.py [--points 10000000] [--chunk 50] [--rounds 3]
                                          [--reads 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ICECHUNK_LOG", "error")

from tests.helpers.servers import procs  # noqa: E402
from zarr_vectors.types.points import read_points, write_points  # noqa: E402

BACKENDS = ("obstore", "icechunk")
TARGETS = {"write": 1.3, "read": 1.2}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(step: Callable[[], None], server_pid: int) -> tuple[float, float, float]:
    """Clock seconds, this process's CPU seconds and the server's CPU seconds of ``step``."""
    cpu0, srv0, t0 = _own_cpu(), _server_cpu(server_pid), time.perf_counter()
    step()
    return time.perf_counter() - t0, _own_cpu() - cpu0, _server_cpu(server_pid) - srv0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=float, default=50.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reads", type=int, default=3, help="full reads per store and round")
    args = ap.parse_args()
    points = np.random.default_rng(0).uniform(0, 1000, (args.points, 3)).astype(np.float32)
    print(
        f"# {platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{args.points:,} points, chunk {args.chunk:g}, {args.rounds} rounds, "
        f"{args.reads} reads each"
    )
    times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    pairs: dict[str, list[float]] = {"write": [], "read": []}
    with tempfile.TemporaryDirectory() as work:
        server = procs.start_seaweedfs(Path(work))
        try:
            bucket = server.create_bucket()
            options = server.backend_options("obstore")

            def write(backend: str, url: str) -> None:
                write_points(
                    url,
                    points,
                    chunk_shape=(args.chunk,) * 3,
                    bounds=((0.0,) * 3, (1000.0,) * 3),
                    backend=backend,
                    **options,
                )

            def read(backend: str, url: str) -> None:
                assert len(read_points(url, backend=backend, **options)) == len(points)

            for round_ in range(args.rounds):
                steps = [("write", write)] + [("read", read)] * args.reads
                for i, (step, run) in enumerate(steps):
                    order = BACKENDS if (round_ + i) % 2 == 0 else BACKENDS[::-1]
                    took: dict[str, float] = {}
                    for backend in order:
                        url = f"s3://{bucket}/{backend}-{round_}.zv"
                        spent = _timed(partial(run, backend, url), server.pid)
                        times.setdefault((step, backend), []).append(spent)
                        took[backend] = spent[0]
                        print(
                            f"round {round_} {step:5} {backend:8} {spent[0]:7.2f} s "
                            f"(cpu: own {spent[1]:6.2f} s, server {spent[2]:6.2f} s)",
                            flush=True,
                        )
                    pairs[step].append(took["icechunk"] / took["obstore"])
        finally:
            server.stop()
    for step, limit in TARGETS.items():
        ice, obs = (
            [statistics.median(t[k] for t in times[(step, b)]) for k in range(3)]
            for b in ("icechunk", "obstore")
        )
        paired = statistics.median(pairs[step])
        verdict = "met" if paired <= limit and ice[0] <= limit * obs[0] else "NOT met"
        print(
            f"{step:5}: icechunk {ice[0]:.2f} s, obstore {obs[0]:.2f} s (medians of "
            f"{len(pairs[step])}), ratio {ice[0] / obs[0]:.2f}, median paired ratio "
            f"{paired:.2f} (target <= {limit}: {verdict}); cpu own {ice[1]:.2f} / "
            f"{obs[1]:.2f} s, server {ice[2]:.2f} / {obs[2]:.2f} s"
        )


if __name__ == "__main__":
    main()

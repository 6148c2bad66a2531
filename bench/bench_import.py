"""Start-up cost: ``import zarr_vectors`` + resolving an S3 URL vs ``import zarr``.

Both are measured as whole, cold Python processes (interpreter start included),
interleaved in one run so that machine noise hits both alike. Prints the
medians and their ratio. Target (issue 2): at most 1.15x.

    uv run python bench/bench_import.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

OURS = (
    "import zarr_vectors\n"
    "from zarr_vectors.storage import resolve_backend_name\n"
    "resolve_backend_name('s3://bucket/key')\n"
)
REFERENCE = "import zarr\n"


def wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    wall(OURS), wall(REFERENCE)  # warm the OS file cache; .pyc files exist after this
    ours, reference = [], []
    for _ in range(args.runs):
        ours.append(wall(OURS))
        reference.append(wall(REFERENCE))
    base = wall("pass")
    m_ours, m_ref = statistics.median(ours), statistics.median(reference)
    print(f"{'case':<48}{'median ms':>10}")
    print(f"{'python -c pass (interpreter only)':<48}{base * 1e3:>10.1f}")
    print(f"{'import zarr_vectors + resolve s3://bucket/key':<48}{m_ours * 1e3:>10.1f}")
    print(f"{'import zarr (reference)':<48}{m_ref * 1e3:>10.1f}")
    print(f"ratio zarr_vectors / zarr: {m_ours / m_ref:.2f}x  (target <= 1.15x, {args.runs} runs)")


if __name__ == "__main__":
    main()

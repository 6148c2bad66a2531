"""What binding a cell's bytes to its key costs a read: the check on and off, same run.

Reads a local store of ``--points`` points (cells of 100 over 0..1000, 1,000
cells) ``--rounds`` times with :func:`~zarr_vectors.format.validate.check_in_cell`
and as many times with it replaced by a no-op, alternating, and prints the
medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import zarr_vectors.format.cellread as cellread
from zarr_vectors.types.points import read_points, write_points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zv-cell-check-") as tmp:
        store = Path(tmp) / "s.zv"
        rng = np.random.default_rng(0)
        positions = rng.uniform(0, 1000, (args.points, 3)).astype(np.float32)
        write_points(store, positions, chunk_shape=(100.0,) * 3)
        read_points(store)  # warm the page cache
        real = cellread.check_in_cell
        times: dict[str, list[float]] = {"on": [], "off": []}
        for r in range(args.rounds):
            for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
                cellread.check_in_cell = real if side == "on" else (lambda *a: None)  # type: ignore[assignment]
                start = time.perf_counter()
                read_points(store)
                times[side].append(time.perf_counter() - start)
        cellread.check_in_cell = real
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"full read of {args.points:,} points, {args.rounds} rounds each (medians)")
    print(f"| check | ms |\n| --- | --- |\n| on | {on * 1e3:.1f} |\n| off | {off * 1e3:.1f} |")
    print(f"on / off = {on / off:.3f}")


if __name__ == "__main__":
    main()

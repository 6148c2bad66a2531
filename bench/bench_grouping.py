"""Grouping points into cells: the counting sort of ``format/grid.py`` vs the sort it replaced.

``group_by_cell`` is where a local write spent most of its CPU (issue 11). This
times, in one run and on the same data, the grouping as of commit 00c6077
(a stable ``argsort`` over every point's flat cell index: a radix sort for
16-bit keys, a comparison sort beyond; copied below as ``old_group_by_cell``)
and the current one (cell counts with ``np.bincount``, then a stable radix
placement; see the module docstring of ``zarr_vectors.format.grid``).

Data: float32 3-D points uniform in 0..1000 (seeded), chunk 200 (125 cells)
and chunk 20 (125,000 cells), 10,000,000 and 30,000,000 points by default.
For each case the two run alternately ``--repeats`` times; the table shows
the best wall time and the best CPU time of each (the machine is shared; the
best of a few is the least disturbed), the ratio new / old, and the peak of
memory each allocates beyond its input (``tracemalloc``, which numpy reports
its array buffers to; one extra traced call each, not timed). The results are
checked to be identical.

    uv run python bench/bench_grouping.py [--points 10000000 30000000] \
        [--chunks 200 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.format.grid import CellGroups, group_by_cell


def old_group_by_cell(positions: npt.NDArray[Any], chunk_shape: Sequence[float]) -> CellGroups:
    """``group_by_cell`` as of commit 00c6077, for comparison (same contract)."""
    cs = np.asarray(chunk_shape, dtype=np.float64)
    scaled = positions.astype(np.float64)
    scaled /= cs
    np.floor(scaled, out=scaled)
    cells = scaled.astype(np.int64)
    del scaled
    n, d = cells.shape
    if n == 0:
        return CellGroups(np.empty(0, np.intp), np.empty((0, d), np.int64), np.zeros(1, np.int64))
    lo = np.array([cells[:, i].min() for i in range(d)])
    hi = np.array([cells[:, i].max() for i in range(d)])
    span = hi - lo + 1
    n_cells = float(np.prod(span.astype(np.float64)))
    if n_cells < 2**62:
        flat = np.ravel_multi_index(tuple((cells - lo).T), tuple(int(s) for s in span))
        if n_cells <= 2**16:
            flat = flat.astype(np.uint16)
        elif n_cells <= 2**32:
            flat = flat.astype(np.uint32)
        order = np.argsort(flat, kind="stable")
        sflat = np.take(flat, order)
        cut = np.flatnonzero(sflat[1:] != sflat[:-1]) + 1
    else:
        order = np.lexsort(cells.T[::-1])
        scells = cells[order]
        cut = np.flatnonzero(np.any(scells[1:] != scells[:-1], axis=1)) + 1
    starts = np.concatenate(([0], cut, [n])).astype(np.int64)
    world = cells[order[starts[:-1]]]
    return CellGroups(order=order, world=world, starts=starts)


Grouper = Callable[[npt.NDArray[Any], Sequence[float]], CellGroups]


def timed(fn: Grouper, pos: npt.NDArray[Any], cell: Sequence[float]) -> tuple[float, float]:
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    fn(pos, cell)
    return time.perf_counter() - w0, time.process_time() - c0


def peak_bytes(fn: Grouper, pos: npt.NDArray[Any], cell: Sequence[float]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn(pos, cell)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, nargs="+", default=[10_000_000, 30_000_000])
    ap.add_argument("--chunks", type=float, nargs="+", default=[200.0, 20.0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    print(
        f"# {platform.platform()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    head = (
        f"{'points':>11} {'chunk':>6} {'cells':>8} | {'old wall':>8} {'new wall':>8} "
        f"{'ratio':>6} | {'old cpu':>7} {'new cpu':>7} {'ratio':>6} | "
        f"{'old peak MB':>11} {'new peak MB':>11} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    for n in args.points:
        pos = np.random.default_rng(0).uniform(0, 1000, (n, 3)).astype(np.float32)
        for chunk in args.chunks:
            cell = [chunk] * 3
            new = group_by_cell(pos, cell)  # also warms up
            old = old_group_by_cell(pos, cell)
            for a, b in ((old.order, new.order), (old.world, new.world), (old.starts, new.starts)):
                if not np.array_equal(a, b):
                    raise SystemExit(f"old and new groupings differ at {n} points, chunk {chunk}")
            n_cells = len(new)
            del old, new
            times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
            for r in range(args.repeats):
                sides: list[tuple[str, Grouper]] = [
                    ("old", old_group_by_cell),
                    ("new", group_by_cell),
                ]
                for name, fn in sides if r % 2 == 0 else sides[::-1]:
                    times[name].append(timed(fn, pos, cell))
            ow, oc = (min(t[i] for t in times["old"]) for i in (0, 1))
            nw, nc = (min(t[i] for t in times["new"]) for i in (0, 1))
            om = peak_bytes(old_group_by_cell, pos, cell) / 1e6
            nm = peak_bytes(group_by_cell, pos, cell) / 1e6
            print(
                f"{n:>11,} {chunk:>6g} {n_cells:>8,} | {ow:>8.3f} {nw:>8.3f} {nw / ow:>6.2f} | "
                f"{oc:>7.3f} {nc:>7.3f} {nc / oc:>6.2f} | {om:>11.0f} {nm:>11.0f} {nm / om:>6.2f}",
                flush=True,
            )
        del pos
    print(f"# input: {12} bytes per point (float32 x 3); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

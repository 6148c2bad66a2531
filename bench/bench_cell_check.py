"""What binding a cell's bytes to its key costs a read: the check on and off, same run.

Reads a local store of ``--points`` points (cells of 100 over 0..1000, 1,000
cells) ``--rounds`` times with the check and as many times with it replaced by
a no-op, alternating, and prints the medians and their ratio. ``--check
points`` (default) toggles :func:`~zarr_vectors.format.validate.check_in_cell`
(a vertices cell's points lie in its cell); ``--check table`` toggles the
attribute cells' checksum tables (:mod:`zarr_vectors.format.cellsums`) on a
store with ``--attributes`` float32 attributes, for a full read and a box read
of 27 cells. On a loaded machine the on/off times swing more than the check
costs; ``--profile`` also prints the share of each read's time that cProfile
attributes to the table check (:mod:`~zarr_vectors.format.cellsums` and
``check_sum``), which load does not move as much.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import zarr_vectors.format.cellread as cellread
from zarr_vectors.types.points import read_points, write_points

BOX = ((250.0,) * 3, (550.0,) * 3)


class _NoTables(cellread.CellTables):
    """Tables that list nothing: the read checks no attribute cell."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(None, {}, [], np.empty(0, np.intp))


def _toggle(check: str) -> Callable[[bool], None]:
    if check == "points":
        real = cellread.check_in_cell

        def points(on: bool) -> None:
            cellread.check_in_cell = real if on else (lambda *a: None)  # type: ignore[assignment]

        return points
    real_tables = cellread.CellTables

    def tables(on: bool) -> None:
        cellread.CellTables = real_tables if on else _NoTables  # type: ignore[misc]

    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", choices=("points", "table"), default="points")
    parser.add_argument("--attributes", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="the table check's share")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zv-cell-check-") as tmp:
        store = Path(tmp) / "s.zv"
        rng = np.random.default_rng(0)
        positions = rng.uniform(0, 1000, (args.points, 3)).astype(np.float32)
        attrs = {}
        if args.check == "table":
            attrs = {f"a{i}": rng.random(args.points, np.float32) for i in range(args.attributes)}
        write_points(store, positions, vertex_attributes=attrs, chunk_shape=(100.0,) * 3)
        read_points(store)  # warm the page cache
        toggle = _toggle(args.check)
        reads = {"full": None, "box": BOX} if args.check == "table" else {"full": None}
        times: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
                toggle(side == "on")
                for name, box in reads.items():
                    start = time.perf_counter()
                    read_points(store, bbox=box)
                    times.setdefault((name, side), []).append(time.perf_counter() - start)
        toggle(True)
        shares = {name: _share(store, box) for name, box in reads.items()} if args.profile else {}
    print(
        f"{args.check} check, {args.points:,} points"
        + (f", {args.attributes} attributes" if args.check == "table" else "")
        + f", {args.rounds} rounds each (medians)"
    )
    print("| read | on ms | off ms | on / off |\n| --- | --- | --- | --- |")
    for name in reads:
        on = statistics.median(times[(name, "on")])
        off = statistics.median(times[(name, "off")])
        print(f"| {name} | {on * 1e3:.1f} | {off * 1e3:.1f} | {on / off:.3f} |")
    for name, share in shares.items():
        print(f"{name} read: {share:.1%} of its time in the table check (cProfile, 10 reads)")


def _share(store: Path, box: Any) -> float:
    """The share of a read's time cProfile gives the table check (its own calls, inclusive)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(10):
        read_points(store, bbox=box)
    profile.disable()
    stats: Any = pstats.Stats(profile).stats
    total = check = 0.0
    for (path, _, func), (_, _, _, cumulative, _) in stats.items():
        if func == "read_points" and path.endswith("points.py"):
            total += cumulative
        if path.endswith("cellsums.py") and func in ("__init__", "expected"):
            check += cumulative
        if func == "check_sum":
            check += cumulative
    return check / total


if __name__ == "__main__":
    main()

"""Curve preview: reading a tractogram's segments and drawing them, against matplotlib's lines.

Writes ``--streamlines`` random-walk streamlines of ``--vertices`` vertices
each (fixed seed, float32, centres in 100..900, cells of 100) and times, best
of ``--repeats``, in this one process:

- ``read``: :func:`zarr_vectors.cli.preview_curves.read_curves`, every
  segment of the store (at most ``--max-points`` vertices, as ``preview``);
- ``render``: :func:`~zarr_vectors.cli.preview_curves.render_curves` (the
  segments painted with numpy into the plot area's pixels) to a PNG;
- ``reference``: the same frame drawn with a matplotlib ``LineCollection``
  of the same segments (what ``render`` replaced), to a PNG.

The ratio is ``render / reference``. matplotlib is imported before the clock
starts; the peak RSS is the process's.

    uv run python bench/bench_preview.py [--streamlines 20000] [--vertices 50]
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def best(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streamlines", type=int, default=20_000)
    ap.add_argument("--vertices", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-points", type=int, default=2_000_000)
    args = ap.parse_args()

    import matplotlib.collections
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401

    import zarr_vectors as zv
    from zarr_vectors.cli._picture import object_tints, projection_frame
    from zarr_vectors.cli.preview_curves import read_curves, render_curves
    from zarr_vectors.storage.local import LocalBackend

    rng = np.random.default_rng(0)
    tracts = [
        (np.cumsum(rng.normal(0, 2, (args.vertices, 3)), 0) + rng.uniform(100, 900, 3)).astype(
            np.float32
        )
        for _ in range(args.streamlines)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "tracts.zarrvectors"
        zv.write_polylines(
            store, tracts, chunk_shape=(100.0,) * 3, bounds=((0, 0, 0), (1000, 1000, 1000))
        )
        backend = LocalBackend(store)
        got: dict[str, Any] = {}

        def read() -> None:
            got["c"] = read_curves(backend, "streamline", max_points=args.max_points)

        t_read = best(read, args.repeats)
        curves = got["c"]
        t_render = best(
            lambda: render_curves(curves, (0, 1), ("x", "y"), "t", Path(tmp) / "r.png"),
            args.repeats,
        )

        def reference() -> None:
            flat = curves.segments[:, :, [0, 1]]
            fig, ax = projection_frame(flat.reshape(-1, 2), ("x", "y"), "t", 800)
            lines = matplotlib.collections.LineCollection(
                flat, colors=object_tints(curves.owner), linewidths=1.0
            )
            ax.add_collection(lines)
            fig.savefig(Path(tmp) / "l.png")

        t_ref = best(reference, args.repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    segs = len(curves.segments)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"{args.streamlines:,} streamlines x {args.vertices} vertices: {segs:,} segments")
    print(f"read {t_read:.2f} s, render {t_render:.2f} s, LineCollection {t_ref:.2f} s")
    print(f"render / LineCollection = {t_render / t_ref:.3f}; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()

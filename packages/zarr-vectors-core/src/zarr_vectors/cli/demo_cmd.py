"""``zarr-vectors demo``: the main job end to end, on the local disk.

Generates a reproducible point cloud, writes it to a store, reads a bounding
box back and checks the box holds exactly the points it should. It is the
first command in the README, so it needs nothing but this package: no
network, no server, no input file.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click

from zarr_vectors.cli._errors import CommandError, handle_errors
from zarr_vectors.cli._progress import phase_bars

__all__ = ["demo"]

BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
CHUNK = (200.0, 200.0, 200.0)
BOX = ((100.0, 100.0, 100.0), (400.0, 400.0, 400.0))


def _size_on_disk(root: Path) -> tuple[int, int]:
    """(bytes, files) under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the store here and keep it (default: a temporary directory, removed after).",
)
@click.option(
    "--points",
    "n_points",
    type=click.IntRange(min=1),
    default=200_000,
    show_default=True,
    help="How many points to generate.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--overwrite", is_flag=True, help="Replace a store already at --dir instead of failing."
)
@handle_errors
def demo(directory: Path | None, n_points: int, seed: int, overwrite: bool) -> None:
    """Write a generated point cloud to a local store, read a box of it back, and say so."""
    import numpy as np

    from zarr_vectors.lazy import open_zv
    from zarr_vectors.progress import READ_PHASES, WRITE_PHASES, PhasedProgress
    from zarr_vectors.types.points import read_points, write_points

    keep = directory is not None
    root = Path(tempfile.mkdtemp(prefix="zarr-vectors-demo-")) if directory is None else directory
    store = root / "demo.zarrvectors"
    try:
        if store.exists() and any(store.iterdir()) and not overwrite:
            raise CommandError(
                f"{store} already holds a store; pass --overwrite to replace it or choose "
                "another --dir"
            )
        rng = np.random.default_rng(seed)
        positions = rng.uniform(0.0, 1000.0, size=(n_points, 3)).astype(np.float32)
        intensity = rng.integers(0, 65535, size=n_points, dtype=np.uint16)
        click.echo(
            f"Generated {n_points:,} random float32 points in the cube 0..1000 "
            f"(seed {seed}) with a uint16 'intensity' attribute."
        )

        start = time.perf_counter()
        with phase_bars() as bars:
            summary = write_points(
                store,
                positions,
                chunk_shape=CHUNK,
                bounds=BOUNDS,
                vertex_attributes={"intensity": intensity},
                levels=2,
                mode="w" if overwrite else "w-",
                progress=PhasedProgress(bars, WRITE_PHASES) if bars is not None else None,
            )
        took = time.perf_counter() - start
        size, files = _size_on_disk(store)
        click.echo(
            f"Wrote {summary.points_written:,} points to {store} in {took:.2f} s: "
            f"{summary.cells_written} cells of 200x200x200, {summary.levels} levels, "
            f"{files} files, {size / 1e6:.1f} MB."
        )

        zv = open_zv(store)
        counts = ", ".join(f"level {n}: {zv.level(n).vertex_count:,}" for n in zv.levels)
        click.echo(f"Opened it lazily: format {zv.format_version}, points per level: {counts}.")

        start = time.perf_counter()
        with phase_bars() as bars:
            progress = PhasedProgress(bars, READ_PHASES) if bars is not None else None
            box = read_points(store, bbox=BOX, progress=progress)
        took = time.perf_counter() - start
        lo, hi = np.asarray(BOX[0]), np.asarray(BOX[1])
        expected = int(np.all((positions >= lo) & (positions <= hi), axis=1).sum())
        click.echo(
            f"Read the box {list(BOX[0])}..{list(BOX[1])} back in {took:.3f} s: "
            f"{len(box):,} points with attributes {sorted(box.vertex_attributes)}."
        )
        if len(box) != expected:
            raise CommandError(
                f"the box read back {len(box)} points but {expected} of the generated points "
                "lie in it; the store is not reading back what was written"
            )
        click.echo(f"Checked: exactly the {expected:,} generated points inside the box.")
        click.echo("")
        where = str(store) if keep else "points.zarrvectors"
        click.echo("The same from Python:")
        click.echo("    from zarr_vectors.types.points import write_points, read_points")
        click.echo(f"    write_points({where!r}, positions, chunk_shape=(200.0,) * 3)")
        click.echo(f"    read_points({where!r}, bbox=({list(BOX[0])}, {list(BOX[1])}))")
        if keep:
            click.echo(f"The store is kept at {store}; try: zarr-vectors info {store}")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if not keep:
        click.echo("(The temporary store was removed; pass --dir PATH to keep it.)")

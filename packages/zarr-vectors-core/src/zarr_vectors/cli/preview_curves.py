"""``zarr-vectors preview`` of a curve store: its segments projected on two axes.

Lines, polylines and streamlines, graphs and skeletons are all drawn as
their segments (a line's two endpoints, each pair of consecutive vertices of
a polyline, each edge of a graph), one pixel wide and one tint per object,
painted with numpy into an image on the frame the mesh preview uses
(:mod:`._picture`). At most about ``max_points`` vertices are
read: beyond that an evenly drawn random sample of objects is read by id
(fetching only the cells those touch), and the title says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CURVE_TYPES", "Curves", "draw_segments", "read_curves", "render_curves"]

#: Store geometry types drawn as curves.
CURVE_TYPES = ("line", "polyline", "streamline", "graph", "skeleton")


@dataclass
class Curves:
    """Segments ``(S, 2, D)`` with the object id of each, and how many objects were read."""

    segments: npt.NDArray[np.float64]
    owner: npt.NDArray[np.int64]
    objects_read: int
    objects_total: int


def _sample(source: Any, max_points: int) -> tuple[list[int] | None, int]:
    """Object ids to read (``None``: all) and the store's object count."""
    from zarr_vectors.format.objarrays import read_plain
    from zarr_vectors.format.snapshot import load_snapshot

    snap = load_snapshot(source)
    path = "0/object_index/object_ids"
    ids = np.asarray(read_plain(snap, path, snap.node(path) or {}), dtype=np.int64)
    vertices = snap.level_meta(0).vertex_count
    if vertices <= max_points or len(ids) <= 1:
        return None, len(ids)
    want = max(1, min(len(ids), len(ids) * max_points // max(vertices, 1)))
    picked = np.random.default_rng(0).choice(len(ids), size=want, replace=False)
    return np.sort(ids[picked]).tolist(), len(ids)


def read_curves(source: Any, kind: str, *, max_points: int) -> Curves:
    """The segments of a curve store (``kind`` its geometry type), bounded by ``max_points``."""
    ids, total = _sample(source, max_points)
    if kind == "line":
        from zarr_vectors.types.lines import read_lines

        lines = read_lines(source, object_ids=ids, attribute_names=[])
        segs, owner = np.asarray(lines.endpoints, np.float64), np.asarray(lines.object_ids)
        read = len(lines.object_ids)
    elif kind in ("polyline", "streamline"):
        from zarr_vectors.types.polylines import read_polylines

        got = read_polylines(source, object_ids=ids, attribute_names=[])
        parts = [np.stack([p[:-1], p[1:]], axis=1) for p in got.polylines]
        ndim = got.ndim
        segs = np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, 2, ndim))
        owner = np.repeat(got.object_ids, [len(p) for p in parts]).astype(np.int64)
        read = len(got.object_ids)
    else:
        from zarr_vectors.types.graphs import read_graph

        g = read_graph(source, object_ids=ids, attribute_names=[])
        segs = np.asarray(g.positions, np.float64)[g.edges]
        owner = np.asarray(g.object_ids)[g.edges[:, 0]]
        read = len(g.objects)
    return Curves(segs.reshape(len(segs), 2, -1), owner.astype(np.int64), read, total)


#: Points sampled along segments per block when rasterizing (bounds the memory used).
BLOCK_SAMPLES = 4_000_000


def draw_segments(
    image: npt.NDArray[np.uint8],
    segments: npt.NDArray[np.float64],
    colours: npt.NDArray[np.uint8],
    limits: tuple[float, float, float, float],
) -> None:
    """Paint each 2-D segment ``(S, 2, 2)`` one pixel wide into ``image`` ``(ny, nx, 3)``.

    ``limits`` ``(x0, x1, y0, y1)`` are the data coordinates of the image's
    edges (row 0 at ``y0``). Each segment is sampled at least once per pixel
    along its longer pixel extent; later segments paint over earlier ones.
    Done with numpy, a block of samples at a time: matplotlib's own line
    drawing takes minutes for the million segments of a tractogram.
    """
    ny, nx, _ = image.shape
    x0, x1, y0, y1 = limits
    px = (segments[:, :, 0] - x0) * (nx / (x1 - x0))
    py = (segments[:, :, 1] - y0) * (ny / (y1 - y0))
    dx, dy = px[:, 1] - px[:, 0], py[:, 1] - py[:, 0]
    steps = np.ceil(np.maximum(np.abs(dx), np.abs(dy))).astype(np.int64) + 1
    ends = np.cumsum(steps)
    start = 0
    while start < len(steps):
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + BLOCK_SAMPLES, side="right")))
        k = steps[start:stop]
        seg = np.repeat(np.arange(start, stop), k)
        first = np.repeat(np.cumsum(k) - k, k)
        t = (np.arange(len(seg)) - first) / np.maximum(k - 1, 1)[seg - start]
        xs = np.clip((px[seg, 0] + t * dx[seg]).astype(np.int64), 0, nx - 1)
        ys = np.clip((py[seg, 0] + t * dy[seg]).astype(np.int64), 0, ny - 1)
        image[ys, xs] = colours[seg]
        start = stop


def render_curves(
    curves: Curves,
    axes: tuple[int, int],
    axis_names: tuple[str, str],
    title: str,
    output: Path,
    *,
    size: int = 800,
) -> None:
    """Save the projection of ``curves`` on ``axes``: one line per segment, tinted by object.

    The segments are painted into an image of exactly the plot area's pixels
    (:func:`draw_segments`), so every segment shows one pixel wide.
    """
    from zarr_vectors.cli._picture import object_tints, projection_frame

    a, b = axes
    flat = curves.segments[:, :, [a, b]]
    fig, ax = projection_frame(flat.reshape(-1, 2), axis_names, title, size)  # needs matplotlib
    ax.apply_aspect()  # the plot area's final place, to match its pixels one to one
    box = ax.get_position()
    width, height = fig.get_size_inches() * fig.dpi
    nx, ny = max(1, round(box.width * width)), max(1, round(box.height * height))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    image = np.zeros((ny, nx, 3), np.uint8)
    colours = (object_tints(curves.owner) * 255).round().astype(np.uint8)
    draw_segments(image, flat, colours, (x0, x1, y0, y1))
    ax.imshow(image, origin="lower", extent=(x0, x1, y0, y1), interpolation="nearest")
    fig.savefig(output)

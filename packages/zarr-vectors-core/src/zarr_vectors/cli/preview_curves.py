"""``zarr-vectors preview`` of a curve store: its segments projected on two axes.

Lines, polylines and streamlines, graphs and skeletons are all drawn as
their segments (a line's two endpoints, each pair of consecutive vertices of
a polyline, each edge of a graph), one tint per object, on the frame the mesh
preview uses (:mod:`._picture`). At most about ``max_points`` vertices are
read: beyond that an evenly drawn random sample of objects is read by id
(fetching only the cells those touch), and the title says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CURVE_TYPES", "Curves", "read_curves", "render_curves"]

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


def render_curves(
    curves: Curves,
    axes: tuple[int, int],
    axis_names: tuple[str, str],
    title: str,
    output: Path,
    *,
    size: int = 800,
) -> None:
    """Save the projection of ``curves`` on ``axes``: one line per segment, tinted by object."""
    from zarr_vectors.cli._picture import object_tints, projection_frame

    a, b = axes
    flat = curves.segments[:, :, [a, b]]
    fig, ax = projection_frame(flat.reshape(-1, 2), axis_names, title, size)  # needs matplotlib
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection(list(flat), colors=object_tints(curves.owner), linewidths=1.0))
    fig.savefig(output)

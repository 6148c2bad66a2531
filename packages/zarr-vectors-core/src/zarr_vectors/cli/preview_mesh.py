"""``zarr-vectors preview`` of a mesh store: its faces projected on two axes, shaded.

Each face is drawn as a filled polygon, farthest first along the third axis
(the painter's order), and shaded by how squarely it faces the viewer (the
absolute cosine between its normal and the viewing axis), tinted by object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["render_mesh"]


def render_mesh(
    vertices: npt.NDArray[Any],
    faces: npt.NDArray[np.int64],
    owner: npt.NDArray[np.int64],
    axes: tuple[int, int],
    axis_names: tuple[str, str],
    title: str,
    output: Path,
    *,
    size: int = 800,
) -> None:
    """Save a shaded projection of the mesh on ``axes`` (seen along the remaining one)."""
    from zarr_vectors._extras import require

    require("matplotlib", feature="zarr-vectors preview", extra="viz")
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    a, b = axes
    view = (
        next(i for i in range(vertices.shape[1]) if i not in axes) if vertices.shape[1] > 2 else -1
    )
    pts = vertices.astype(np.float64)
    corners = pts[faces]  # (F, L, D)
    if view >= 0:
        e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        normal = np.cross(e1[:, :3], e2[:, :3]) if pts.shape[1] == 3 else np.zeros((len(faces), 3))
        length = np.linalg.norm(normal, axis=1)
        shade = np.abs(normal[:, view]) / np.where(length > 0, length, 1.0)
        depth = corners[:, :, view].mean(axis=1)
        order = np.argsort(depth, kind="stable")  # farthest (smallest) first
    else:
        shade = np.ones(len(faces))
        order = np.arange(len(faces))
    ids, tint_of = np.unique(owner[faces[:, 0]], return_inverse=True)
    tints = colormaps["tab20"](np.arange(len(ids)) % 20)[:, :3]
    colour = tints[tint_of.reshape(-1)] * (0.25 + 0.75 * shade[:, None])
    polys = corners[order][:, :, [a, b]]
    lo, hi = pts[:, [a, b]].min(axis=0), pts[:, [a, b]].max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    nx, ny = (span / span.max() * size).clip(50)
    fig = Figure(figsize=(max(4.0, nx / 100 + 1.2), max(3.0, ny / 100 + 1.0)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("black")
    ax.add_collection(PolyCollection(list(polys), facecolors=colour[order], edgecolors="none"))
    ax.set_xlim(lo[0] - 0.02 * span[0], hi[0] + 0.02 * span[0])
    ax.set_ylim(lo[1] - 0.02 * span[1], hi[1] + 0.02 * span[1])
    ax.set_aspect("equal")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=9)
    fig.savefig(output)

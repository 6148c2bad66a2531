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
    from zarr_vectors.cli._picture import object_tints, projection_frame

    a, b = axes
    view = (
        next(i for i in range(vertices.shape[1]) if i not in axes) if vertices.shape[1] > 2 else -1
    )
    pts = vertices.astype(np.float64)
    fig, ax = projection_frame(pts[:, [a, b]], axis_names, title, size)  # needs matplotlib
    from matplotlib.collections import PolyCollection

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
    colour = object_tints(owner[faces[:, 0]]) * (0.25 + 0.75 * shade[:, None])
    polys = corners[order][:, :, [a, b]]
    ax.add_collection(PolyCollection(list(polys), facecolors=colour[order], edgecolors="none"))
    fig.savefig(output)

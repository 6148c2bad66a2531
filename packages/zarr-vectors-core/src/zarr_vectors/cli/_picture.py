"""What every projected ``zarr-vectors preview`` picture shares: its frame and object tints.

The mesh and curve previews draw a projection of geometry on two axes over a
black background, the axes scaled equally with a 2 % margin, one tint per
object; the point preview (:mod:`.preview_cmd`) bins its own image instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["object_tints", "projection_frame"]


def projection_frame(
    corners: npt.NDArray[Any], axis_names: tuple[str, str], title: str, size: int
) -> tuple[Any, Any]:
    """A matplotlib ``(figure, axes)`` framing ``corners`` ``(n, 2)`` (projected points).

    The longer side of the data spans about ``size`` pixels; the picture is at
    least 4 x 3 inches so the labels fit.
    """
    from zarr_vectors._extras import require

    require("matplotlib", feature="zarr-vectors preview", extra="viz")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lo, hi = corners.min(axis=0), corners.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    nx, ny = (span / span.max() * size).clip(50)
    fig = Figure(figsize=(max(4.0, nx / 100 + 1.2), max(3.0, ny / 100 + 1.0)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("black")
    ax.set_xlim(lo[0] - 0.02 * span[0], hi[0] + 0.02 * span[0])
    ax.set_ylim(lo[1] - 0.02 * span[1], hi[1] + 0.02 * span[1])
    ax.set_aspect("equal")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=9)
    return fig, ax


def object_tints(owner: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """An RGB colour ``(n, 3)`` per item from its object id (20 tints, in id order)."""
    from matplotlib import colormaps

    ids, tint_of = np.unique(owner, return_inverse=True)
    tints = colormaps["tab20"](np.arange(len(ids)) % 20)[:, :3]
    return np.asarray(tints[tint_of.reshape(-1)], dtype=np.float64)

"""Mesh faces as triangles: quads split into two triangles, and put back together.

A quad ``(a, b, c, d)`` splits along its diagonal ``a``-``c`` into the
triangles ``(a, b, c)`` and ``(a, c, d)``, one after the other, winding
kept. That is how a quad mesh is handed to what only holds triangles
(trimesh, Neuroglancer, Draco cells); a Draco cell that keeps its face order
gives the pairs back in order, so :func:`quads_from_pairs` restores the quads
exactly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import CorruptStoreError

__all__ = ["quads_from_pairs", "triangulate"]


def triangulate(faces: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Triangles as they are; each quad ``(a, b, c, d)`` as ``(a, b, c)`` and ``(a, c, d)``."""
    if faces.shape[1] == 3:
        return faces
    return np.stack([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]], axis=1).reshape(-1, 3)


def quads_from_pairs(triangles: npt.NDArray[np.int64], where: str) -> npt.NDArray[np.int64]:
    """The quads :func:`triangulate` split into ``triangles`` (consecutive pairs), in order.

    A pair that is not ``(a, b, c), (a, c, d)`` (an odd count, or other corners)
    is a :class:`CorruptStoreError` naming ``where``.
    """
    if len(triangles) % 2:
        raise CorruptStoreError(f"{where}: {len(triangles)} triangles cannot be pairs of quads")
    pairs = triangles.reshape(-1, 2, 3)
    first, second = pairs[:, 0], pairs[:, 1]
    bad = np.flatnonzero((second[:, 0] != first[:, 0]) | (second[:, 1] != first[:, 2]))
    if len(bad):
        k = int(bad[0])
        raise CorruptStoreError(
            f"{where}: triangles {2 * k} and {2 * k + 1} ({pairs[k].tolist()}) are not the two "
            "halves of one quad"
        )
    return np.column_stack([first, second[:, 2]]).astype(np.int64)

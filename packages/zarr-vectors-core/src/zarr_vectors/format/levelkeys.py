"""Names and keys of a resolution level's cell arrays.

A level ``L`` holds ``L/vertices``, ``L/vertex_fragments`` and optionally
``L/vertex_attributes/NAME`` cell arrays that share one chunk grid; the
writers (:mod:`~zarr_vectors.format.levelwrite`) and readers
(:mod:`~zarr_vectors.format.cellread`) of a level name them from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zarr_vectors.format.snapshot import Snapshot

__all__ = ["ATTRIBUTES", "FRAGMENTS", "VERTICES", "attribute_names", "cell_key", "le_dtype"]

VERTICES = "vertices"
FRAGMENTS = "vertex_fragments"
ATTRIBUTES = "vertex_attributes"


def le_dtype(name: str) -> np.dtype[Any]:
    """Little-endian numpy dtype for a stored dtype name."""
    dt = np.dtype(name)
    return dt.newbyteorder("<") if dt.byteorder == ">" else dt


def cell_key(array_path: str, world: Sequence[int], origin: Sequence[int]) -> str:
    """Storage key of the chunk of ``array_path`` holding world cell ``world``."""
    return f"{array_path}/c/" + "/".join(
        str(int(w) - int(o)) for w, o in zip(world, origin, strict=True)
    )


def attribute_names(snap: Snapshot, level: int) -> list[str]:
    """Names of the per-vertex attributes stored at ``level``."""
    lm = snap.level_meta(level)
    group = f"{level}/{ATTRIBUTES}"
    if ATTRIBUTES not in lm.arrays_present and snap.node(group) is None:
        return []
    return snap.children(group)

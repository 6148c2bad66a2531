"""MRtrix ``.tck`` tractograms through nibabel.

A TCK file holds streamlines in RAS+ mm and nothing per point or per
streamline (MRtrix keeps those in separate ``.tsf`` files), so a store written
from TCK has geometry only, and writing a store with attributes to TCK names
each attribute left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.io.common import unreadable
from zarr_vectors.io.landing import landing
from zarr_vectors.io.tractogram import TractFile

__all__ = ["read_tck", "write_tck"]


def read_tck(path: str | Path) -> TractFile:
    """The streamlines of a ``.tck`` file, in RAS+ mm."""
    nib = require("nibabel", feature="TCK files", extra="io")
    with unreadable(path, "MRtrix .tck"):
        tck = nib.streamlines.load(str(path))
        streamlines = [np.asarray(s, dtype=np.float32) for s in tck.tractogram.streamlines]
    return TractFile(streamlines=streamlines)


def write_tck(
    path: str | Path,
    streamlines: Sequence[npt.NDArray[Any]],
    *,
    vertex_attributes: Mapping[str, Any] | None = None,
    object_attributes: Mapping[str, Any] | None = None,
    header: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write a ``.tck`` file; returns notes naming what TCK cannot hold."""
    nib = require("nibabel", feature="TCK files", extra="io")

    notes = [f"TCK holds no per-point values: {n!r} left out" for n in (vertex_attributes or {})]
    notes += [
        f"TCK holds no per-streamline values: {n!r} left out" for n in (object_attributes or {})
    ]
    if header:
        notes.append("TCK has no voxel header: the TRK header in the store is not written")
    tg = nib.streamlines.Tractogram(
        [np.asarray(s, np.float32) for s in streamlines], affine_to_rasmm=np.eye(4)
    )
    with landing(path) as part:
        nib.streamlines.TckFile(tg).save(str(part))
    return notes

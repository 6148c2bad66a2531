"""TrackVis ``.trk`` tractograms through nibabel.

A TRK file holds streamlines in voxel-mm space with a header (voxel-to-RAS+
affine, voxel sizes, grid dimensions, voxel order), per-point *scalars* and
per-streamline *properties* (float32). nibabel gives the streamlines in RAS+
mm, which is what is stored; the header goes into the store's root attributes
under ``"trk"`` so a store written from a TRK file is written back with the
same space, and scalars and properties become vertex and object attributes.
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
from zarr_vectors.io.tractogram import TractFile, per_point, per_streamline

__all__ = ["read_trk", "write_trk"]


def read_trk(path: str | Path) -> TractFile:
    """The streamlines (RAS+ mm), scalars, properties and header of a ``.trk`` file."""
    nib = require("nibabel", feature="TRK files", extra="io")
    field_ = nib.streamlines.Field
    with unreadable(path, "TrackVis .trk"):
        trk = nib.streamlines.load(str(path))
        streamlines = [np.asarray(s, dtype=np.float32) for s in trk.tractogram.streamlines]
    tg = trk.tractogram
    hdr = trk.header
    header = {
        "voxel_to_rasmm": np.asarray(hdr[field_.VOXEL_TO_RASMM], dtype=float).tolist(),
        "voxel_sizes": np.asarray(hdr[field_.VOXEL_SIZES], dtype=float).tolist(),
        "dimensions": np.asarray(hdr[field_.DIMENSIONS], dtype=int).tolist(),
        "voxel_order": _text(hdr[field_.VOXEL_ORDER]),
    }
    return TractFile(
        streamlines=streamlines,
        vertex_attributes=per_point(tg.data_per_point),
        object_attributes=per_streamline(tg.data_per_streamline),
        header={"trk": header},
    )


def write_trk(
    path: str | Path,
    streamlines: Sequence[npt.NDArray[Any]],
    *,
    vertex_attributes: Mapping[str, Sequence[npt.NDArray[Any]]] | None = None,
    object_attributes: Mapping[str, npt.NDArray[Any]] | None = None,
    header: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write a ``.trk`` file; returns notes on what the format could not hold.

    ``header`` is the ``"trk"`` entry a TRK file left in the store (affine,
    voxel sizes, dimensions, voxel order); without one the space is 1 mm voxels
    on an identity affine, and a note says so. TRK stores values as float32.
    """
    nib = require("nibabel", feature="TRK files", extra="io")
    field_ = nib.streamlines.Field

    notes: list[str] = []
    dpp = {
        n: [np.asarray(a, np.float32).reshape(len(a), -1) for a in v]
        for n, v in (vertex_attributes or {}).items()
    }
    dps = {
        n: np.asarray(v, np.float32).reshape(len(v), -1)
        for n, v in (object_attributes or {}).items()
    }
    for n, v in {
        **{k: v[0] for k, v in (vertex_attributes or {}).items() if v},
        **(object_attributes or {}),
    }.items():
        if np.asarray(v).dtype != np.float32:
            notes.append(f"TRK holds float32 values: {n!r} ({np.asarray(v).dtype}) was converted")
    tg = nib.streamlines.Tractogram(
        [np.asarray(s, np.float32) for s in streamlines],
        data_per_point=dpp,
        data_per_streamline=dps,
        affine_to_rasmm=np.eye(4),
    )
    hdr: dict[Any, Any] = {}
    if header:
        hdr[field_.VOXEL_TO_RASMM] = np.asarray(header["voxel_to_rasmm"], dtype=np.float32)
        hdr[field_.VOXEL_SIZES] = np.asarray(header["voxel_sizes"], dtype=np.float32)
        hdr[field_.DIMENSIONS] = np.asarray(header["dimensions"], dtype=np.int16)
        hdr[field_.VOXEL_ORDER] = str(header.get("voxel_order", "RAS"))
    else:
        notes.append("the store has no TRK header: written with 1 mm voxels on an identity affine")
    with landing(path) as part:
        nib.streamlines.TrkFile(tg, header=hdr or None).save(str(part))
    return notes


def _text(value: Any) -> str:
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)

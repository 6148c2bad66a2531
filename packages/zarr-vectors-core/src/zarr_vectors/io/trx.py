"""TRX tractograms through trx-python (``import trx``), the format's own library.

A TRX file (a zip of plain little-endian arrays beside a ``header.json``, or
such a folder) holds streamlines in RAS+ mm, per-vertex data (``dpv``),
per-streamline data (``dps``), named groups of streamlines with per-group
data, and a header naming the voxel grid (the voxel-to-RAS+ affine and the
grid's dimensions). Streamlines become a streamline store; dpv and dps become
vertex and object attributes with their dtypes (TRX keeps integer and float
types, as the store does); the header goes into the store's root attributes
under ``"trx"`` so the file is written back in the same space. Groups (named
sets of streamlines) become the store's groups, numbered in name order, their
names kept with the header (``"trx"["groups"]``); per-group data is not
carried (a note names it). Positions are stored as float32 (a note says so
when the file held float64).
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

__all__ = ["read_trx", "write_trx"]

#: The dtypes a TRX array may have (its file name's extension says which).
_KINDS = "iuf"


def _trx() -> Any:
    return require("trx.trx_file_memmap", feature="TRX files", extra="trx")


def _columns(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A copy with a single column flattened (TRX arrays are always (n, k))."""
    arr = np.array(values)
    return arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr


def read_trx(path: str | Path) -> TractFile:
    """The streamlines (RAS+ mm), dpv, dps and space of a ``.trx`` file (or folder)."""
    tm = _trx()
    with unreadable(path, "TRX"):
        trx = tm.load(str(path))
    try:
        lengths = np.asarray(trx.streamlines._lengths, dtype=np.int64)
        cuts = np.cumsum(lengths)[:-1]
        data = np.asarray(trx.streamlines.get_data())
        notes = []
        if data.dtype == np.float64:
            notes.append("TRX positions were float64: stored as float32")
        streamlines = np.split(np.asarray(data, dtype=np.float32), cuts) if len(lengths) else []
        dpv = {
            name: np.split(_columns(seq.get_data()), cuts) if len(lengths) else []
            for name, seq in trx.data_per_vertex.items()
        }
        dps = {name: _columns(v) for name, v in trx.data_per_streamline.items()}
        groups = {g: np.array(trx.groups[g], dtype=np.int64) for g in sorted(trx.groups)}
        notes += [
            f"TRX data of group {g!r} left out ({', '.join(sorted(d))}): a store's groups "
            "hold no per-group values from TRX"
            for g, d in sorted(trx.data_per_group.items())
            if d
        ]
        header: dict[str, Any] = {
            "voxel_to_rasmm": np.asarray(trx.header["VOXEL_TO_RASMM"], float).tolist(),
            "dimensions": np.asarray(trx.header["DIMENSIONS"], int).tolist(),
        }
        if groups:
            header["groups"] = list(groups)
    finally:
        trx.close()
    return TractFile(streamlines, dpv, dps, {"trx": header}, notes, groups)


def write_trx(
    path: str | Path,
    streamlines: Sequence[npt.NDArray[Any]],
    *,
    vertex_attributes: Mapping[str, Sequence[npt.NDArray[Any]]] | None = None,
    object_attributes: Mapping[str, npt.NDArray[Any]] | None = None,
    header: Mapping[str, Any] | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
) -> list[str]:
    """Write a ``.trx`` file; returns notes on what the format could not hold.

    ``header`` is a ``"trx"`` (or ``"trk"``) entry a file left in the store:
    its ``voxel_to_rasmm`` and ``dimensions`` (TRK's come along as they are);
    without one the space is 1 mm voxels on an identity affine, and a note
    says so. Attribute dtypes are kept; others than integers and floats
    (booleans) are written as uint8. ``groups`` maps a name to indices into
    ``streamlines``.
    """
    tm = _trx()
    nib = require("nibabel", feature="TRX files", extra="trx")
    notes: list[str] = []
    dpv: dict[str, list[npt.NDArray[Any]]] = {}
    dps: dict[str, npt.NDArray[Any]] = {}
    types: dict[str, Any] = {"dpv": {}, "dps": {}}
    for name, seq in (vertex_attributes or {}).items():
        parts = [np.asarray(a) for a in seq]
        kind = _kind(name, parts[0].dtype if parts else np.dtype(np.float32), notes)
        dpv[name] = [a.astype(kind).reshape(len(a), -1) for a in parts]
        types["dpv"][name] = kind
    for name, values in (object_attributes or {}).items():
        arr = np.asarray(values)
        kind = _kind(name, arr.dtype, notes)
        dps[name] = arr.astype(kind).reshape(len(arr), -1)
        types["dps"][name] = kind
    if header:
        affine = np.asarray(header["voxel_to_rasmm"], dtype=np.float32).reshape(4, 4)
        dims = np.asarray(header["dimensions"], dtype=np.uint16).reshape(3)
    else:
        affine, dims = np.eye(4, dtype=np.float32), np.ones(3, np.uint16)
        notes.append("the store has no TRX or TRK header: written with an identity affine")
    total = sum(len(s) for s in streamlines)
    types["positions"] = np.float32
    types["offsets"] = np.uint32 if total < 2**32 else np.uint64
    tg = nib.streamlines.Tractogram(
        [np.asarray(s, np.float32) for s in streamlines],
        data_per_point=dpv,
        data_per_streamline=dps,
        affine_to_rasmm=np.eye(4),
    )
    reference = {"VOXEL_TO_RASMM": affine, "DIMENSIONS": dims, "NB_VERTICES": total}
    trx = tm.TrxFile.from_tractogram(tg, reference, dtype_dict=types)
    try:
        for name, members in (groups or {}).items():
            trx.groups[str(name)] = np.asarray(members, dtype=np.uint32)
        with landing(path) as part:
            tm.save(trx, str(part))
    finally:
        trx.close()
    return notes


def _kind(name: str, dtype: np.dtype[Any], notes: list[str]) -> np.dtype[Any]:
    """The TRX dtype of an attribute: its own if TRX has it, else uint8 (bool) or float32."""
    if dtype.kind in _KINDS:
        return dtype.newbyteorder("<")
    target = np.dtype(np.uint8) if dtype.kind == "b" else np.dtype(np.float32)
    notes.append(f"TRX holds numbers: {name!r} ({dtype}) was written as {target}")
    return target

"""Point files in and out, the format chosen by the file's suffix.

Readers give positions plus a dict of per-point attributes, which is what
:func:`zarr_vectors.types.points.write_points` takes. Every problem with a file
is a :class:`~zarr_vectors.exceptions.ValidationError` naming the file and what
is wrong with it, raised before any store is touched; a file whose header
promises more data than the file can hold is refused before anything is
allocated for it.

Each format lives in its own module, which says what it reads and writes:
:mod:`zarr_vectors.io.npy` (``.npy``, ``.npz``), :mod:`zarr_vectors.io.csv`,
:mod:`zarr_vectors.io.ply` and :mod:`zarr_vectors.io.las` (``.las``, ``.laz``,
``.copc.laz``). The libraries come with ``pip install "zarr-vectors-core[io]"``,
except numpy's ``.npy``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.crs import describe_crs
from zarr_vectors.io.common import BATCH_POINTS, Attributes, Batch, PointFile, PointReader
from zarr_vectors.io.las_header import LAS_KEY

__all__ = [
    "OUT_SUFFIXES",
    "SUFFIXES",
    "PointFile",
    "PointReader",
    "iter_point_batches",
    "open_point_file",
    "read_point_file",
    "write_point_file",
]

SUFFIXES = (".npy", ".csv", ".ply", ".las", ".laz")
OUT_SUFFIXES = (".npy", ".npz", ".csv", ".ply", ".las", ".laz")


def open_point_file(path: Path, *, sep: str | None = None) -> PointReader:
    """Check ``path`` (suffix, regular file, header against size) and return its reader.

    ``sep`` is the CSV field separator (default: sniffed); it applies to ``.csv`` only.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValidationError(
            f"{path}: unknown point file type {path.suffix!r}; use a "
            f"{', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]} file"
        )
    if not path.exists():
        raise ValidationError(f"{path}: no such file")
    if not path.is_file():  # a directory, a FIFO, a device: reading could block or never end
        raise ValidationError(f"{path}: not a regular file")
    if sep is not None and suffix != ".csv":
        raise ValidationError(f"{path}: a field separator applies to .csv files only")
    if suffix == ".npy":
        from zarr_vectors.io.npy import NpyReader

        return NpyReader(path)
    if suffix == ".csv":
        from zarr_vectors.io.csv import CsvReader

        return CsvReader(path, sep)
    if suffix == ".ply":
        from zarr_vectors.io.ply import PlyReader

        return PlyReader(path)
    from zarr_vectors.io.las import LasReader

    return LasReader(path)


def iter_point_batches(
    path: Path, *, batch_points: int = BATCH_POINTS, sep: str | None = None
) -> Iterator[Batch]:
    """``(positions, attributes)`` batches of ``path``, for files larger than memory.

    The file is checked when this is called (not at the first batch); formats
    whose library streams (``.npy``, ``.csv``, ``.las``/``.laz``, binary
    ``.ply``) hold one batch in memory at a time.
    """
    if batch_points < 1:
        raise ValidationError(f"batch_points must be >= 1, got {batch_points}")
    return open_point_file(path, sep=sep).batches(batch_points)


def read_point_file(path: Path, *, sep: str | None = None) -> PointFile:
    """Read ``path`` by its suffix; raise :class:`ValidationError` on anything unusable."""
    return open_point_file(path, sep=sep).read()


def write_point_file(
    path: Path,
    positions: npt.NDArray[Any],
    attributes: Attributes,
    *,
    crs: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write points by ``path``'s suffix; return notes on anything changed on the way.

    ``crs`` and ``metadata`` are what the store kept of its source
    (:attr:`~zarr_vectors.types.points.PointCloud.crs` and ``.metadata``): a LAS
    file gets them back; other formats have no place for a CRS, which a note says.
    """
    suffix = path.suffix.lower()
    if crs and suffix not in (".las", ".laz"):
        return [
            *write_point_file(path, positions, attributes),
            f"{path.suffix} files have no place for a coordinate reference system: the "
            f"store's ({describe_crs(crs)}) is not in {path.name}",
        ]
    if suffix == ".npy":
        from zarr_vectors.io.npy import write_npy

        write_npy(path, positions)
    elif suffix == ".npz":
        from zarr_vectors.io.npy import write_npz

        write_npz(path, positions, attributes)
    elif suffix == ".csv":
        from zarr_vectors.io.csv import write_csv

        write_csv(path, positions, attributes)
    elif suffix == ".ply":
        from zarr_vectors.io.ply import write_ply

        write_ply(path, positions, attributes)
    elif suffix in (".las", ".laz"):
        from zarr_vectors.io.las import write_las

        las = (metadata or {}).get(LAS_KEY)
        return write_las(
            path, positions, attributes, crs=crs, las=las if isinstance(las, Mapping) else None
        )
    else:
        raise ValidationError(
            f"{path}: unknown output type {path.suffix!r}; use .npy (positions), .npz "
            "(positions and attributes), .csv, .ply, .las or .laz"
        )
    return []

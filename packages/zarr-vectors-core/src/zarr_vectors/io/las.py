"""``.las``, ``.laz`` and ``.copc.laz`` files (laspy; lazrs decompresses LAZ).

Read: positions are the scaled coordinates (``X * scale + offset``, float64);
every other point field (intensity, classification, return_number, gps_time,
red, ..., extra bytes) becomes an attribute with its LAS type. Read in chunks,
so it streams. The header is checked against the file's size before a
decompressor runs. Written as LAS 1.2 or 1.4 with the smallest point format
holding the standard fields present, other attributes as extra bytes, and per
axis the coarsest power-of-ten scale at which every coordinate is exact (a note
says when coordinates had to be rounded to fit LAS's 32-bit integers).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.crs import describe_crs
from zarr_vectors.io.common import (
    AXES,
    BATCH_POINTS,
    Attributes,
    Batch,
    PointReader,
    need,
    unreadable,
)
from zarr_vectors.io.las_header import LAS_KEY, crs_of_header, las_block, restore_records

__all__ = ["LasReader", "write_las"]


#: Most points a LAZ file can hold per byte of compressed data. A million identical
#: points compress to 85-150 points per byte (formats 0, 3, 6 through lazrs), so
#: this bound passes every real file and refuses a header whose count is absurd
#: for the file's size, before a decompressor is run over it.
_LAZ_POINTS_PER_BYTE = 1000


class LasReader(PointReader):
    def __init__(self, path: Path) -> None:
        laspy = need("laspy", f"reading {path.suffix} files")
        self._laspy = laspy
        _check_record_counts(path)
        # The header and its VLRs alone: opening a reader would already start the
        # LAZ decompressor, which trusts the LASzip VLR checked below.
        with unreadable(path, "LAS/LAZ"), path.open("rb") as fh:
            header = laspy.LasHeader.read_from(fh, read_evlrs=True)
        count = int(header.point_count)
        compressed = bool(header.are_points_compressed)
        self._backend = laspy.LazBackend.Lazrs
        if compressed and _check_laszip(path, header):
            parallel = laspy.LazBackend.LazrsParallel
            self._backend = parallel if parallel.is_available() else self._backend
        size = path.stat().st_size
        data_bytes = size - int(header.offset_to_point_data)
        if not compressed:
            required = int(header.offset_to_point_data) + count * header.point_format.size
            if required > size:
                raise ValidationError(
                    f"{path}: the LAS header promises {count:,} points ({required:,} bytes "
                    f"with the header) but the file holds {size:,} bytes; it is truncated or "
                    "its header is wrong"
                )
        elif count > max(data_bytes, 0) * _LAZ_POINTS_PER_BYTE:
            raise ValidationError(
                f"{path}: the LAZ header promises {count:,} points but the file holds "
                f"{max(data_bytes, 0):,} bytes of compressed points, more than "
                f"{_LAZ_POINTS_PER_BYTE} points per byte (identical points compress to about "
                "150); it is truncated or its header is wrong"
            )
        scales = ", ".join(f"{s:g}" for s in header.scales)
        offsets = ", ".join(f"{o:g}" for o in header.offsets)
        copc = any(type(v).__name__ == "CopcInfoVlr" for v in header.vlrs)
        super().__init__(
            path,
            count,
            f"{'COPC' if copc else 'LAS'} {header.version}, point format "
            f"{header.point_format.id}, scale ({scales}), offset ({offsets}), "
            f"CRS {describe_crs(crs_of_header(header))}",
        )
        self.crs = crs_of_header(header)
        self.metadata = {LAS_KEY: las_block(header, self.notes)}
        self.scale_offset = ([float(v) for v in header.scales], [float(v) for v in header.offsets])

    def batches(self, batch_points: int = BATCH_POINTS) -> Iterator[Batch]:
        laspy = self._laspy
        yielded = False
        # lazrs decompresses a LAZ file's chunks in parallel from its chunk table,
        # which _check_laszip has bounded by the file's size and point count (a damaged
        # one still makes it panic, which unreadable() takes as a bad file too); a file
        # written without a table (streamed) goes through the sequential decompressor,
        # which scans for chunks.
        with (
            unreadable(self.path, "LAS/LAZ"),
            laspy.open(self.path, laz_backend=self._backend) as reader,
        ):
            names = [
                n for n in reader.header.point_format.dimension_names if n not in ("X", "Y", "Z")
            ]
            scales, offsets = reader.header.scales, reader.header.offsets
            for points in reader.chunk_iterator(batch_points):
                # x = X * scale + offset, laspy's own arithmetic (so bit-exact), made in
                # place in the (n, 3) result instead of three arrays stacked after
                positions = np.empty((len(points), 3), np.float64)
                for i, axis in enumerate(("X", "Y", "Z")):
                    column = positions[:, i]
                    column[...] = points[axis]
                    column *= scales[i]
                    column += offsets[i]
                attrs = {n: np.array(points[n]) for n in names}
                yielded = True
                yield positions, attrs
            if not yielded:
                empty = reader.header.point_format.dtype()
                yield (
                    np.empty((0, 3), np.float64),
                    {n: np.empty(0, _las_field_dtype(empty, n)) for n in names},
                )


def _check_record_counts(path: Path) -> None:
    """The VLR and EVLR counts of the LAS header against the file's size.

    laspy reads as many records as the header says, so a damaged count would
    make it loop over the end of the file; a VLR takes at least 54 bytes and an
    EVLR 60 (their headers), which bounds both counts by the bytes available.
    Field offsets are those of the LAS 1.0-1.4 public header block.
    """
    import struct

    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(375)
    if head[:4] != b"LASF" or len(head) < 104:
        raise ValidationError(f"{path}: not a LAS/LAZ file (it does not start with 'LASF')")
    header_size, offset, n_vlrs = struct.unpack_from("<HII", head, 94)
    if n_vlrs * 54 > max(offset - header_size, 0) or offset > size:
        raise ValidationError(
            f"{path}: the LAS header gives {n_vlrs:,} VLRs and points from byte {offset:,}, "
            f"which the file's {size:,} bytes cannot hold; it is truncated or its header is wrong"
        )
    if head[24:26] >= bytes([1, 4]) and len(head) >= 247:
        start, n_evlrs = struct.unpack_from("<QI", head, 235)
        if n_evlrs and (start > size or n_evlrs * 60 > size - start):
            raise ValidationError(
                f"{path}: the LAS header gives {n_evlrs:,} extended VLRs from byte {start:,}, "
                f"which the file's {size:,} bytes cannot hold; it is damaged"
            )


#: Most points per LAZ chunk accepted. LASzip writers use 50,000; the decompressor
#: allocates a chunk's worth of points up front, so a damaged VLR claiming billions
#: would end the process with an allocation failure instead of an error.
_LAZ_MAX_CHUNK = 10_000_000
_LAZ_VARIABLE_CHUNKS = 0xFFFFFFFF


def _check_laszip(path: Path, header: Any) -> bool:
    """Refuse a LASzip VLR whose chunk size or item sizes cannot be right, or a chunk
    table that cannot be; return whether the file has a chunk table."""
    import struct

    found = header.vlrs.get("LasZipVlr")
    if not found:
        raise ValidationError(f"{path}: compressed points but no LASzip VLR; the file is damaged")
    data = bytes(found[0].record_data)
    try:
        chunk_size = struct.unpack_from("<I", data, 12)[0]
        (n_items,) = struct.unpack_from("<H", data, 32)
        items = [struct.unpack_from("<HHH", data, 34 + 6 * i) for i in range(n_items)]
    except struct.error:
        raise ValidationError(f"{path}: the LASzip VLR is too short; the file is damaged") from None
    if chunk_size != _LAZ_VARIABLE_CHUNKS and not 0 < chunk_size <= _LAZ_MAX_CHUNK:
        raise ValidationError(
            f"{path}: the LASzip VLR gives a chunk of {chunk_size:,} points (at most "
            f"{_LAZ_MAX_CHUNK:,} accepted); the file is damaged"
        )
    record = sum(size for _, size, _ in items)
    if record != header.point_format.size:
        raise ValidationError(
            f"{path}: the LASzip VLR describes {record}-byte points but the header's point "
            f"format {header.point_format.id} has {header.point_format.size}-byte points; "
            "the file is damaged"
        )
    # The chunk table: its offset is the first 8 bytes of the point data, and it
    # starts with (version, number of chunks); the decompressor sizes a table by
    # that number before reading it.
    size = path.stat().st_size
    start = int(header.offset_to_point_data)
    with path.open("rb") as fh:
        fh.seek(start)
        raw = fh.read(8)
        if len(raw) < 8:
            raise ValidationError(f"{path}: the compressed points are missing; the file is damaged")
        (table_at,) = struct.unpack("<q", raw)
        if table_at == -1:  # not written (a streaming writer): the decompressor scans
            return False
        if not start + 8 <= table_at <= size - 8:
            raise ValidationError(
                f"{path}: the LAZ chunk table is said to start at byte {table_at:,}, outside "
                f"the file's {size:,} bytes; the file is truncated or damaged"
            )
        fh.seek(table_at)
        _, n_chunks = struct.unpack("<II", fh.read(8))
    count = int(header.point_count)
    most = count if chunk_size == _LAZ_VARIABLE_CHUNKS else count // chunk_size + 1
    if n_chunks > most + 1:
        raise ValidationError(
            f"{path}: the LAZ chunk table lists {n_chunks:,} chunks for {count:,} points; "
            "the file is damaged"
        )
    return True


def _las_field_dtype(dtype: np.dtype[Any], name: str) -> np.dtype[Any]:
    """The numpy type laspy gives a field; sub-byte fields (classification, ...) are uint8."""
    if dtype.names and name in dtype.names:
        return np.dtype(dtype[name].base)
    return np.dtype(np.uint8)


_LAS_INT32 = 2**31 - 1


def _las_scale_offset(column: npt.NDArray[Any]) -> tuple[float, float, bool]:
    """(scale, offset, exact) for one axis.

    The scale is the coarsest power of ten (1 down to 1e-9) at which every value
    is exact and the range fits LAS's 32-bit integers, so coordinates read from a
    LAS file go back with their own scale; otherwise the finest power of ten that
    fits, and ``exact`` says whether that rounding is below the data's own
    resolution (float32 data at a 1e-9 step loses nothing).
    """
    col = column.astype(np.float64, copy=False)
    if len(col) == 0:
        return 0.001, 0.0, True
    lo, hi = float(col.min()), float(col.max())
    offset = float(np.floor(lo))
    resolution = float(np.spacing(column.dtype.type(max(abs(lo), abs(hi), 1.0))))
    tolerance = 16 * float(np.spacing(max(abs(lo), abs(hi), 1.0)))
    shifted = col - offset
    span = hi - offset
    for k in range(10):
        scale = 10.0**-k
        if span / scale > _LAS_INT32:
            break
        if np.all(np.abs(np.round(shifted / scale) * scale - shifted) <= tolerance):
            return scale, offset, True
    k = 0
    while k < 12 and span / 10.0 ** -(k + 1) <= _LAS_INT32:
        k += 1
    return 10.0**-k, offset, 10.0**-k / 2 <= resolution


def _las_format(laspy: ModuleType, names: Sequence[str]) -> int:
    """The smallest point format holding the most of ``names`` as standard fields.

    LAS 1.4's formats (6 and up) go first: their classification has 8 bits, not 5;
    fields only the older formats have (``scan_angle_rank``) still select those.
    """
    formats: list[int] = sorted(laspy.supported_point_formats(), key=lambda pf: (pf < 6, pf))
    best, best_hits = formats[0], -1
    for pf in formats:
        standard = set(laspy.PointFormat(pf).standard_dimension_names)
        hits = sum(n in standard for n in names)
        if hits > best_hits:
            best, best_hits = pf, hits
    return best


def _fit(name: str, values: npt.NDArray[Any], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """``values`` as ``dtype`` when every value survives; else refuse naming the attribute."""
    if values.dtype == dtype:
        return values
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise ValidationError(
                f"attribute {name!r} holds NaN or infinite values; LAS {name} is {dtype}"
            )
        if len(values) and (values.min() < info.min or values.max() > info.max):
            raise ValidationError(
                f"attribute {name!r} holds values outside {info.min}..{info.max} (e.g. "
                f"{values.max() if values.max() > info.max else values.min()}), which LAS "
                f"stores as {dtype}; write .npz or .csv to keep them"
            )
        out = values.astype(dtype)
        if values.dtype.kind == "f" and not np.array_equal(out, values):
            raise ValidationError(
                f"attribute {name!r} holds fractions, which LAS stores as {dtype}; "
                "write .npz or .csv to keep them"
            )
        return out
    return values.astype(dtype)


def _version_for(point_format: int, kept: str | None) -> str:
    """The LAS version to write: the source's when it allows the point format, else the
    first that does (formats 4 and 5 came with 1.3, 6 to 10 with 1.4)."""
    least = "1.4" if point_format > 5 else "1.3" if point_format > 3 else "1.2"
    if kept in ("1.2", "1.3", "1.4") and kept >= least:
        return kept
    return least


def _kept_format(laspy: ModuleType, names: Sequence[str], kept: Any) -> int | None:
    """The source's point format when every attribute is one of its fields or no
    format's field (an extra-bytes attribute); else ``None``."""
    if not isinstance(kept, int) or kept not in laspy.supported_point_formats():
        return None
    anywhere: set[str] = set()
    for pf in laspy.supported_point_formats():
        anywhere.update(laspy.PointFormat(pf).standard_dimension_names)
    own = set(laspy.PointFormat(kept).standard_dimension_names)
    return kept if all(n in own or n not in anywhere for n in names) else None


def _kept_scale(column: npt.NDArray[Any], scale: Any, offset: Any) -> bool:
    """Whether every coordinate is ``integer * scale + offset`` (as LAS input left it)
    with the integer inside LAS's 32 bits, so the source's scale keeps it exact."""
    if not isinstance(scale, float | int) or not isinstance(offset, float | int) or scale <= 0:
        return False
    if len(column) == 0:
        return True
    ints = np.round((column.astype(np.float64) - offset) / scale)
    if np.abs(ints).max() > _LAS_INT32:
        return False
    return bool(np.array_equal(ints * scale + offset, column))


def write_las(
    path: Path,
    positions: npt.NDArray[Any],
    attributes: Attributes,
    *,
    crs: Mapping[str, Any] | None = None,
    las: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write a LAS/LAZ file; ``crs`` and ``las`` are what the store kept of its source
    (:mod:`zarr_vectors.io.las_header`): with them the file gets the source's scale and
    offset (when the coordinates are still exact at them), version, point format and
    records (CRS included) back."""
    laspy = need("laspy", f"writing {path.suffix} files")
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValidationError(
            f"{path}: LAS holds 3-D points; these have {positions.shape[-1]} axes: write "
            ".npz, .csv or .ply instead"
        )
    notes: list[str] = []
    kept = las or {}
    point_format = _kept_format(laspy, list(attributes), kept.get("point_format"))
    if point_format is None:
        point_format = _las_format(laspy, list(attributes))
    header = laspy.LasHeader(
        point_format=point_format, version=_version_for(point_format, kept.get("version"))
    )
    notes.extend(restore_records(laspy, header, las, crs))
    if point_format in (4, 5, 9, 10):
        notes.append(
            f"point format {point_format} has waveform packet fields; they are written as "
            "stored, but the waveform samples they point to are not kept in the store"
        )
    standard = set(header.point_format.standard_dimension_names)
    extra = [n for n in attributes if n not in standard]
    for name in extra:
        if len(name.encode()) > 32:
            raise ValidationError(
                f"attribute {name!r}: LAS extra-bytes names hold at most 32 bytes; write .npz "
                "or .csv to keep it"
            )
    header.add_extra_dims(
        [
            laspy.ExtraBytesParams(
                name=n,
                type=attributes[n].dtype.str.lstrip("<>=|")
                if attributes[n].ndim == 1
                else f"{attributes[n].shape[1]}{attributes[n].dtype.str.lstrip('<>=|')}",
            )
            for n in extra
            if attributes[n].dtype.kind != "b"
        ]
        + [
            laspy.ExtraBytesParams(name=n, type="u1")
            for n in extra
            if attributes[n].dtype.kind == "b"
        ]
    )
    scales, offsets, rounded = [], [], []
    kept_scales = list(kept.get("scales") or [None] * 3)
    kept_offsets = list(kept.get("offsets") or [None] * 3)
    for axis in range(3):
        if _kept_scale(positions[:, axis], kept_scales[axis], kept_offsets[axis]):
            scales.append(float(kept_scales[axis]))
            offsets.append(float(kept_offsets[axis]))
            continue
        scale, offset, exact = _las_scale_offset(positions[:, axis])
        scales.append(scale)
        offsets.append(offset)
        if not exact:
            rounded.append(f"{AXES[axis]} to multiples of {scale:g}")
    if rounded:
        notes.append(
            "LAS stores coordinates as 32-bit integers times a scale: rounded "
            f"{', '.join(rounded)}; write .npz to keep every digit"
        )
    header.scales = np.array(scales)
    header.offsets = np.array(offsets)
    out = laspy.LasData(header)
    out.x = positions[:, 0].astype(np.float64)
    out.y = positions[:, 1].astype(np.float64)
    out.z = positions[:, 2].astype(np.float64)
    record = out.point_format.dtype()
    for name, values in attributes.items():
        target = _las_field_dtype(record, name) if name in standard else None
        if name in standard and target is not None:
            try:
                out[name] = _fit(name, values, target)
            except OverflowError as exc:  # a sub-byte field (e.g. classification: 5 bits)
                raise ValidationError(
                    f"attribute {name!r} does not fit LAS point format {point_format}'s "
                    f"{name} field ({exc}); write .npz or .csv to keep it"
                ) from None
        else:
            out[name] = values.astype(np.uint8) if values.dtype.kind == "b" else values
    try:
        out.write(str(path))
    except (laspy.errors.LaspyException, ValueError, OverflowError) as exc:
        raise ValidationError(f"{path}: could not be written as LAS ({exc})") from None
    return notes

"""Point files in and out, each format through its own library.

Readers give positions plus a dict of per-point attributes, which is what
:func:`zarr_vectors.types.points.write_points` takes. Every problem with a file
is a :class:`~zarr_vectors.exceptions.ValidationError` naming the file and what
is wrong with it, raised before any store is touched; a file whose header
promises more data than the file can hold is refused before anything is
allocated for it.

Formats (the libraries come with ``pip install "zarr-vectors-core[io]"``,
except ``.npy``, which is numpy's):

* ``.npy`` (numpy): a numeric ``(n, D)`` array (the positions), or a structured
  array with fields ``x``, ``y`` (and ``z``) whose other fields become
  attributes. Memory-mapped, so it streams.
* ``.csv`` (pandas): the field separator is sniffed (``,`` ``;`` tab ``|`` or
  spaces) or given; with ``;`` a decimal comma is recognised. With a header row
  the columns ``x``, ``y`` (and ``z``), in any case and order, are the positions
  (float64) and the other numeric columns are attributes (whole numbers stay
  integers); columns holding text are left out with a note. Without a header
  every column is a coordinate (at most three). Read in chunks, so it streams.
* ``.ply`` (plyfile): ASCII or binary. The ``vertex`` element's ``x``/``y``/``z``
  are the positions (in their stored type); other scalar properties become
  attributes, a list property of one length on every vertex becomes an
  ``(n, k)`` attribute, one of varying length is left out with a note. Other
  elements (faces) are ignored. Binary vertices are memory-mapped and stream.
* ``.las``/``.laz`` (laspy; lazrs decompresses LAZ): positions are the scaled
  coordinates (``X * scale + offset``, float64), every other point field
  (intensity, classification, return_number, gps_time, red, ..., extra bytes)
  becomes an attribute with its LAS type. Read in chunks, so it streams.

Writers (``read-points -o``): ``.npy`` positions only; ``.npz`` positions and
attributes by name; ``.csv`` a table (an ``(n, k)`` attribute becomes columns
``name_0 .. name_k-1``); ``.ply`` binary little-endian vertices (the same
column rule; 64-bit integers are written as 32-bit when every value fits, and
refused by name otherwise, PLY having no 64-bit integer type); ``.las``/``.laz``
LAS 1.2 or 1.4 with the smallest point format holding the standard fields
present, other attributes as extra bytes, and per axis the coarsest power-of-ten
scale at which every coordinate is exact (a note says when coordinates had to be
rounded to fit LAS's 32-bit integers).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError

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

AXES = ("x", "y", "z")
SUFFIXES = (".npy", ".csv", ".ply", ".las", ".laz")
OUT_SUFFIXES = (".npy", ".npz", ".csv", ".ply", ".las", ".laz")
#: Points per batch when a file is streamed: about 24 MB of float64 x/y/z.
BATCH_POINTS = 1_000_000

Attributes = dict[str, npt.NDArray[Any]]
Batch = tuple[npt.NDArray[Any], Attributes]


def _need(module: str, what: str) -> ModuleType:
    """Import a library of the ``io`` extra, or say which extra brings it."""
    return require(module, feature=what, extra="io")


@dataclass
class PointFile:
    """Points read from a file, with notes on what was left out and how it was read."""

    positions: npt.NDArray[Any]
    attributes: Attributes = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    description: str = ""


class PointReader:
    """An input file whose header has been checked; its points come in batches.

    ``count`` is the number of points the header promises (``None`` when the
    format has no header count, as CSV); it has already been checked against
    the file's size. ``notes`` fills as batches are read (columns left out, ...).
    """

    def __init__(self, path: Path, count: int | None, description: str) -> None:
        self.path = path
        self.count = count
        self.description = description
        self.notes: list[str] = []

    def batches(self, batch_points: int = BATCH_POINTS) -> Iterator[Batch]:
        """``(positions, attributes)`` of at most ``batch_points`` points each; at least one."""
        raise NotImplementedError

    def read(self, batch_points: int = BATCH_POINTS) -> PointFile:
        """Every point of the file, the batches concatenated."""
        parts = list(self.batches(batch_points))
        if len(parts) == 1:
            positions, attributes = parts[0]
        else:
            positions = np.concatenate([p for p, _ in parts])
            attributes = {n: np.concatenate([a[n] for _, a in parts]) for n in parts[0][1]}
        return PointFile(positions, attributes, list(self.notes), self.description)


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
        return _NpyReader(path)
    if suffix == ".csv":
        return _CsvReader(path, sep)
    if suffix == ".ply":
        return _PlyReader(path)
    return _LasReader(path)


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


def _split_columns(path: Path, columns: dict[str, npt.NDArray[Any]]) -> Batch:
    """Positions from the x/y(/z) columns (any case), attributes from the rest."""
    lower = {name.lower(): name for name in columns}
    axes = [lower[a] for a in AXES if a in lower]
    if len(axes) < 2 or axes[:2] != [lower.get("x"), lower.get("y")]:
        raise ValidationError(
            f"{path}: needs columns named x and y (and z for 3-D points); found {list(columns)}"
        )
    cols = [columns[a] for a in axes]
    dtype = np.result_type(*[c.dtype for c in cols])
    if dtype.kind not in "fiu":
        raise ValidationError(f"{path}: coordinates must be numeric, got {dtype}")
    positions = np.column_stack([c.astype(dtype, copy=False) for c in cols])
    attrs = {n: np.ascontiguousarray(c) for n, c in columns.items() if n not in axes}
    return positions, attrs


def _native(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A copy in native byte order (batches never keep a memory map alive)."""
    return np.array(values, dtype=values.dtype.newbyteorder("="))


# -- .npy ----------------------------------------------------------------------
class _NpyReader(PointReader):
    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY":
            raise ValidationError(f"{path}: not a readable .npy file (no .npy header)")
        try:
            # mmap_mode: nothing is read; numpy checks the header's shape against the size.
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # numpy parses the header as Python literals: any error
            # (ValueError, SyntaxError, tokenize's TokenError, ...) means a damaged file
            raise ValidationError(f"{path}: not a readable .npy file ({exc})") from None
        if arr.dtype.names is None and (arr.ndim != 2 or arr.dtype.kind not in "fiu"):
            raise ValidationError(
                f"{path}: expected a numeric array of shape (n_points, n_axes) or a structured "
                f"array with x/y/z fields, got dtype {arr.dtype} and shape {arr.shape}"
            )
        if arr.dtype.names is not None and arr.ndim != 1:
            raise ValidationError(f"{path}: a structured array must be 1-D, got {arr.shape}")
        super().__init__(path, len(arr), f"npy {arr.dtype} {arr.shape}")
        self._array = arr

    def batches(self, batch_points: int = BATCH_POINTS) -> Iterator[Batch]:
        arr = self._array
        for start in range(0, max(len(arr), 1), batch_points):
            part = arr[start : start + batch_points]
            if arr.dtype.names is None:
                yield _native(part), {}
            else:
                yield _split_columns(self.path, {n: _native(part[n]) for n in arr.dtype.names})


# -- .csv ----------------------------------------------------------------------
_SEPARATORS = {"tab": "\t", "\\t": "\t", "space": " ", "spaces": " ", "whitespace": " "}
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sample_lines(path: Path) -> list[str]:
    """The first non-blank, non-comment lines (up to 20), for sniffing."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        text = fh.read(1 << 16)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(text) == 1 << 16 and len(lines) > 1:
        lines.pop()  # probably cut in the middle
    return lines[:20]


def _sniff_separator(lines: list[str]) -> str:
    """``;``, tab or ``|`` when every sample line has the same nonzero count; else ``,``; else
    spaces. Those three go first because a ``;`` file may hold decimal commas."""
    for candidate in (";", "\t", "|", ","):
        counts = {line.count(candidate) for line in lines}
        if len(counts) == 1 and counts != {0}:
            return candidate
    return " "


def _fields(line: str, sep: str) -> list[str]:
    if sep == " ":
        return line.split()
    return [f.strip() for f in next(csv.reader([line], delimiter=sep))]


class _CsvReader(PointReader):
    def __init__(self, path: Path, sep: str | None) -> None:
        self._pd = _need("pandas", "reading .csv files")
        lines = _sample_lines(path)
        if not lines:
            raise ValidationError(f"{path}: the file is empty")
        if sep is not None:
            sep = _SEPARATORS.get(sep.lower(), sep)
            if len(sep) != 1:
                raise ValidationError(
                    f"{path}: the separator must be one character (or tab, space), got {sep!r}"
                )
        self._sep = sep if sep is not None else _sniff_separator(lines)
        first = _fields(lines[0], self._sep)
        self._header = not all(_is_number(c) for c in first)
        data = lines[1:] if self._header else lines
        self._decimal = (
            ","
            if self._sep == ";"
            and data
            and any(_DECIMAL_COMMA.match(f) for f in data[0].split(";"))
            else "."
        )
        if self._header:
            names = [n.strip('"').strip("'") for n in first]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValidationError(f"{path}: column names repeat: {repeated}")
            if "" in names:
                raise ValidationError(
                    f"{path}: column {names.index('') + 1} of the header row has no name"
                )
        else:
            if len(first) > 3:
                raise ValidationError(
                    f"{path}: {len(first)} columns and no header row; add a header naming the "
                    "x, y, z columns (the other columns become attributes)"
                )
            names = list(AXES[: len(first)])
        self._names = names
        shown = {"\t": "tab", " ": "spaces"}.get(self._sep, repr(self._sep))
        decimal = ", decimal comma" if self._decimal == "," else ""
        super().__init__(path, None, f"csv separated by {shown}{decimal}")

    def batches(self, batch_points: int = BATCH_POINTS) -> Iterator[Batch]:
        pd = self._pd
        kwargs: dict[str, Any] = {
            "header": 0 if self._header else None,
            "names": self._names,
            "comment": "#",
            "encoding": "utf-8-sig",
            "skipinitialspace": True,
            "decimal": self._decimal,
            "chunksize": batch_points,
            "skip_blank_lines": True,
        }
        if self._sep == " ":
            kwargs["sep"] = r"\s+"
        else:
            kwargs["sep"] = self._sep
        kept: dict[str, np.dtype[Any]] | None = None
        row = 0
        yielded = False
        try:
            with pd.read_csv(self.path, **kwargs) as chunks:
                for frame in chunks:
                    if kept is None:
                        kept = self._choose_columns(frame)
                    yield self._batch(frame, kept, row)
                    yielded = True
                    row += len(frame)
        except ValidationError:
            raise
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{self.path}: not a table of numbers ({exc})") from None
        if not yielded:  # a header and no rows
            yield _split_columns(self.path, {n: np.empty(0, np.float64) for n in self._names})

    def _choose_columns(self, frame: Any) -> dict[str, np.dtype[Any]]:
        """Which columns to keep and their types, from the first chunk; notes what is left out."""
        pd = self._pd
        lower_axes = {n for n in self._names if n.lower() in AXES}
        kept: dict[str, np.dtype[Any]] = {}
        for name in self._names:
            column = frame[name]
            if name in lower_axes:
                self._check_numeric(column, name, 0)
                kept[name] = np.dtype(np.float64)
            elif pd.api.types.is_numeric_dtype(column.dtype) or len(column) == 0:
                dtype = np.dtype(column.dtype) if len(column) else np.dtype(np.float64)
                kept[name] = np.dtype(np.float64) if dtype.kind not in "biuf" else dtype
            else:
                text = column.dropna()
                example = f" (e.g. {str(text.iloc[0])!r})" if len(text) else ""
                self.notes.append(
                    f"column {name!r} holds text{example}; it was left out (only numeric "
                    "columns become attributes)"
                )
        return kept

    def _check_numeric(self, column: Any, name: str, row: int) -> None:
        pd = self._pd
        if pd.api.types.is_numeric_dtype(column.dtype):
            return
        as_numbers = pd.to_numeric(column, errors="coerce")
        bad = as_numbers.isna() & column.notna()
        if not bad.any():  # no rows, or only empty fields (NaN, refused later as such)
            return
        at = int(np.flatnonzero(bad.to_numpy())[0])
        value = column.iloc[at]
        raise ValidationError(
            f"{self.path}: not a table of numbers: coordinate column {name!r} holds "
            f"{value!r} in data row {row + at + 1}; coordinates must be numbers"
        )

    def _batch(self, frame: Any, kept: dict[str, np.dtype[Any]], row: int) -> Batch:
        columns: dict[str, npt.NDArray[Any]] = {}
        for name, dtype in kept.items():
            column = frame[name]
            if name.lower() in AXES:
                self._check_numeric(column, name, row)
            values = column.to_numpy()
            if len(values) == 0 or (name.lower() in AXES and values.dtype.kind == "O"):
                values = np.asarray(self._pd.to_numeric(column, errors="coerce"), dtype=dtype)
            if values.dtype != dtype:
                converted = np.asarray(values, dtype=dtype) if values.dtype.kind in "biuf" else None
                if converted is None or not np.array_equal(
                    converted.astype(values.dtype, copy=False), values, equal_nan=True
                ):
                    raise ValidationError(
                        f"{self.path}: column {name!r} held {dtype} values in its first "
                        f"rows but {values.dtype} ones after row {row}; make the column "
                        "one type (e.g. write 1.0 rather than 1 in its first row)"
                    )
                values = converted
            columns[name] = np.ascontiguousarray(values)
        return _split_columns(self.path, columns)


# -- .ply ----------------------------------------------------------------------
_PLY_TYPES = "char/int8, uchar/uint8, short/int16, ushort/uint16, int/int32, uint/uint32, "
_PLY_TYPES += "float/float32, double/float64"


class _PlyReader(PointReader):
    def __init__(self, path: Path) -> None:
        plyfile = _need("plyfile", "reading .ply files")
        self._plyfile = plyfile
        size = path.stat().st_size
        with path.open("rb") as fh:
            if fh.read(3) != b"ply":
                raise ValidationError(f"{path}: not a PLY file (it does not start with 'ply')")
            fh.seek(0)
            try:
                # plyfile reads the header alone only through this static method; reading
                # the whole file first would allocate whatever the header claims.
                header = plyfile.PlyData._parse_header(fh)
            except plyfile.PlyParseError as exc:
                raise ValidationError(
                    f"{path}: bad PLY header ({self._explain(path, exc)})"
                ) from None
            self._data_start = fh.tell()
        elements = list(header.elements)
        for element in elements:
            if element.count < 0:
                raise ValidationError(
                    f"{path}: the PLY header gives element {element.name!r} a negative count "
                    f"({element.count})"
                )
        vertex_at = next((i for i, e in enumerate(elements) if e.name == "vertex"), None)
        if vertex_at is None:
            raise ValidationError(f"{path}: the PLY file has no 'vertex' element")
        self._text = bool(header.text)
        self._order = header.byte_order
        have = size - self._data_start
        need = sum(e.count * self._row_bytes(e) for e in elements)
        if need > have:
            detail = ", ".join(f"{e.name!r}: {e.count:,} rows" for e in elements)
            raise ValidationError(
                f"{path}: the PLY header promises {detail}, which need at least {need:,} bytes, "
                f"but only {have:,} bytes follow the header; the file is truncated or its "
                "header is wrong"
            )
        self._elements = elements
        self._vertex_at = vertex_at
        vertex = elements[vertex_at]
        fmt = "ascii" if self._text else {"<": "binary little-endian", ">": "binary big-endian"}
        kind = fmt if isinstance(fmt, str) else fmt.get(self._order, "binary")
        super().__init__(path, vertex.count, f"ply {kind}")

    @staticmethod
    def _explain(path: Path, exc: Exception) -> str:
        """plyfile's message, with the header line it is about (which names the property)."""
        text = str(exc)
        unknown = re.search(r"field type ('[^']*') not in", text)
        if unknown:  # plyfile lists every alias it knows; say it once, readably
            text = re.sub(r"field type .*", f"{unknown[1]} is not a PLY type", text)
        line_no = getattr(exc, "line", None)
        if isinstance(line_no, int):
            with path.open("rb") as fh:
                head = fh.read(1 << 16).decode("ascii", "replace").splitlines()
            if 0 < line_no <= len(head):
                text += f" in {head[line_no - 1].strip()!r}"
        if unknown:
            text += f"; PLY's types are {_PLY_TYPES} (no 64-bit integers)"
        return text

    def _row_bytes(self, element: Any) -> int:
        """The fewest bytes one row of ``element`` can take in this file."""
        plyfile = self._plyfile
        if self._text:  # a digit and a separator per value (a list: its length, "0 ")
            return 2 * max(len(element.properties), 1)
        total = 0
        for prop in element.properties:
            if isinstance(prop, plyfile.PlyListProperty):
                total += np.dtype(
                    prop.list_dtype()[0]
                ).itemsize  # the length; the list may be empty
            else:
                total += np.dtype(prop.dtype()).itemsize
        return total

    def batches(self, batch_points: int = BATCH_POINTS) -> Iterator[Batch]:
        plyfile = self._plyfile
        vertex = self._elements[self._vertex_at]
        before = self._elements[: self._vertex_at]
        has_lists = any(
            isinstance(p, plyfile.PlyListProperty) for e in (*before, vertex) for p in e.properties
        )
        if self._text or has_lists:
            yield from self._whole()
            return
        # Binary, fixed-size rows up to the vertices: map the vertex rows and slice them.
        offset = self._data_start + sum(e.count * self._row_bytes(e) for e in before)
        dtype = vertex.dtype(self._order)
        if vertex.count == 0:
            table = np.empty(0, dtype)
        else:
            table = np.memmap(self.path, dtype=dtype, mode="r", offset=offset, shape=vertex.count)
        for start in range(0, max(vertex.count, 1), batch_points):
            part = table[start : start + batch_points]
            yield _split_columns(self.path, {n: _native(part[n]) for n in dtype.names or ()})
        del table

    def _whole(self) -> Iterator[Batch]:
        """ASCII files and list properties: plyfile reads the file (its size was checked)."""
        plyfile = self._plyfile
        try:
            data = plyfile.PlyData.read(str(self.path), mmap=False)
        except (plyfile.PlyParseError, ValueError) as exc:
            raise ValidationError(f"{self.path}: bad PLY data ({exc})") from None
        vertex = data["vertex"]
        columns: dict[str, npt.NDArray[Any]] = {}
        for prop in vertex.properties:
            values = vertex.data[prop.name]
            if isinstance(prop, plyfile.PlyListProperty):
                lengths = {len(v) for v in values}
                if len(lengths) == 1 and len(values):
                    columns[prop.name] = np.stack([np.asarray(v) for v in values]).astype(
                        np.dtype(prop.val_dtype).newbyteorder("=")
                    )
                elif len(values):
                    self.notes.append(
                        f"vertex list property {prop.name!r} has lists of {len(lengths)} "
                        "different lengths; it was left out (only one length per point is stored)"
                    )
            else:
                columns[prop.name] = _native(np.asarray(values))
        yield _split_columns(self.path, columns)


# -- .las / .laz ---------------------------------------------------------------
#: Most points a LAZ file can hold per byte of compressed data. A million identical
#: points compress to 85-150 points per byte (formats 0, 3, 6 through lazrs), so
#: this bound passes every real file and refuses a header whose count is absurd
#: for the file's size, before a decompressor is run over it.
_LAZ_POINTS_PER_BYTE = 1000


class _LasReader(PointReader):
    def __init__(self, path: Path) -> None:
        laspy = _need("laspy", f"reading {path.suffix} files")
        self._laspy = laspy
        _check_record_counts(path)
        try:
            # The header and its VLRs alone: opening a reader would already start the
            # LAZ decompressor, which trusts the LASzip VLR checked below.
            with path.open("rb") as fh:
                header = laspy.LasHeader.read_from(fh)
        except _las_errors(laspy) as exc:
            raise ValidationError(f"{path}: not a readable LAS/LAZ file ({exc})") from None
        count = int(header.point_count)
        compressed = bool(header.are_points_compressed)
        if compressed:
            _check_laszip(path, header)
        size = path.stat().st_size
        data_bytes = size - int(header.offset_to_point_data)
        if not compressed:
            need = int(header.offset_to_point_data) + count * header.point_format.size
            if need > size:
                raise ValidationError(
                    f"{path}: the LAS header promises {count:,} points ({need:,} bytes with the "
                    f"header) but the file holds {size:,} bytes; it is truncated or its header "
                    "is wrong"
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
        super().__init__(
            path,
            count,
            f"LAS {header.version}, point format {header.point_format.id}, "
            f"scale ({scales}), offset ({offsets})",
        )

    def batches(self, batch_points: int = BATCH_POINTS) -> Iterator[Batch]:
        laspy = self._laspy
        yielded = False
        try:
            # The sequential lazrs decompressor: the parallel one trusts the chunk table
            # at the end of the file and panics on a damaged one; this one does not need it.
            with laspy.open(self.path, laz_backend=laspy.LazBackend.Lazrs) as reader:
                names = [
                    n
                    for n in reader.header.point_format.dimension_names
                    if n not in ("X", "Y", "Z")
                ]
                for points in reader.chunk_iterator(batch_points):
                    positions = np.column_stack(
                        [np.asarray(points.x), np.asarray(points.y), np.asarray(points.z)]
                    ).astype(np.float64, copy=False)
                    attrs = {n: np.array(points[n]) for n in names}
                    yielded = True
                    yield positions, attrs
                if not yielded:
                    empty = reader.header.point_format.dtype()
                    yield (
                        np.empty((0, 3), np.float64),
                        {n: np.empty(0, _las_field_dtype(empty, n)) for n in names},
                    )
        except _las_errors(laspy) as exc:
            raise ValidationError(f"{self.path}: bad LAS/LAZ point data ({exc})") from None
        except BaseException as exc:
            # lazrs (Rust) panics on some damaged compressed data; pyo3 raises that as a
            # PanicException, which derives from BaseException, not Exception.
            if type(exc).__name__ != "PanicException":
                raise
            raise ValidationError(
                f"{self.path}: bad LAZ point data (the decompressor failed: {exc})"
            ) from None


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


def _check_laszip(path: Path, header: Any) -> None:
    """Refuse a LASzip VLR whose chunk size or item sizes cannot be right."""
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
            return
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


def _las_errors(laspy: ModuleType) -> tuple[type[Exception], ...]:
    """What reading a damaged LAS/LAZ file raises: laspy's errors, lazrs's (a
    RuntimeError) for damaged compressed data, struct's for a short header, and
    numpy's and the OS's."""
    import struct

    return (laspy.errors.LaspyException, RuntimeError, ValueError, OSError, EOFError, struct.error)


def _las_field_dtype(dtype: np.dtype[Any], name: str) -> np.dtype[Any]:
    """The numpy type laspy gives a field; sub-byte fields (classification, ...) are uint8."""
    if dtype.names and name in dtype.names:
        return np.dtype(dtype[name].base)
    return np.dtype(np.uint8)


# -- writing what read-points returns ------------------------------------------
def write_point_file(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> list[str]:
    """Write points by ``path``'s suffix; return notes on anything changed on the way."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, positions)
    elif suffix == ".npz":
        arrays: dict[str, Any] = {"positions": positions, **attributes}
        np.savez(path, **arrays)
    elif suffix == ".csv":
        _write_csv(path, positions, attributes)
    elif suffix == ".ply":
        _write_ply(path, positions, attributes)
    elif suffix in (".las", ".laz"):
        return _write_las(path, positions, attributes)
    else:
        raise ValidationError(
            f"{path}: unknown output type {path.suffix!r}; use .npy (positions), .npz "
            "(positions and attributes), .csv, .ply, .las or .laz"
        )
    return []


def _flat_columns(
    positions: npt.NDArray[Any], attributes: Attributes
) -> dict[str, npt.NDArray[Any]]:
    """x, y, z, then one column per attribute (``name_j`` for each column of an (n, k) one)."""
    ndim = positions.shape[1] if positions.ndim == 2 else 0
    columns = {(AXES[i] if i < 3 else f"axis{i}"): positions[:, i] for i in range(ndim)}
    for name, values in attributes.items():
        flat = values.reshape(len(values), -1)
        for j in range(flat.shape[1]):
            columns[name if flat.shape[1] == 1 else f"{name}_{j}"] = flat[:, j]
    return columns


def _write_csv(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> None:
    pd = _need("pandas", "writing .csv files")
    frame = pd.DataFrame(_flat_columns(positions, attributes))
    frame.to_csv(path, index=False)


def _ply_type(name: str, values: npt.NDArray[Any]) -> np.dtype[Any]:
    """The PLY type a column is written as; 64-bit integers only when their values fit 32 bits."""
    dt = values.dtype
    if dt.kind == "b":
        return np.dtype("u1")
    if dt.kind == "f":
        return np.dtype("f8") if dt.itemsize > 4 else np.dtype("f4")
    if dt.kind in "iu" and dt.itemsize <= 4:
        return dt.newbyteorder("<")
    if dt.kind in "iu":
        for target in ("i4", "u4"):
            info = np.iinfo(target)
            if len(values) == 0 or (values.min() >= info.min and values.max() <= info.max):
                return np.dtype(target).newbyteorder("<")
        example = values.max() if values.max() > np.iinfo("u4").max else values.min()
        raise ValidationError(
            f"attribute {name!r} holds 64-bit integers beyond PLY's 32-bit types (e.g. "
            f"{int(example)}); PLY has no 64-bit integer type: write .npz, .csv or .las instead"
        )
    raise ValidationError(f"attribute {name!r} has type {dt}, which PLY cannot hold")


def _write_ply(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> None:
    plyfile = _need("plyfile", "writing .ply files")
    columns = _flat_columns(positions, attributes)
    dtype = np.dtype([(n, _ply_type(n, v)) for n, v in columns.items()])
    table = np.empty(len(positions), dtype)
    for name, values in columns.items():
        table[name] = values
    element = plyfile.PlyElement.describe(table, "vertex")
    plyfile.PlyData([element], comments=["written by zarr-vectors"]).write(str(path))


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


def _write_las(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> list[str]:
    laspy = _need("laspy", f"writing {path.suffix} files")
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValidationError(
            f"{path}: LAS holds 3-D points; these have {positions.shape[-1]} axes: write "
            ".npz, .csv or .ply instead"
        )
    notes: list[str] = []
    point_format = _las_format(laspy, list(attributes))
    header = laspy.LasHeader(
        point_format=point_format, version="1.4" if point_format > 5 else "1.2"
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
    for axis in range(3):
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
    las = laspy.LasData(header)
    las.x = positions[:, 0].astype(np.float64)
    las.y = positions[:, 1].astype(np.float64)
    las.z = positions[:, 2].astype(np.float64)
    record = las.point_format.dtype()
    for name, values in attributes.items():
        target = _las_field_dtype(record, name) if name in standard else None
        if name in standard and target is not None:
            try:
                las[name] = _fit(name, values, target)
            except OverflowError as exc:  # a sub-byte field (e.g. classification: 5 bits)
                raise ValidationError(
                    f"attribute {name!r} does not fit LAS point format {point_format}'s "
                    f"{name} field ({exc}); write .npz or .csv to keep it"
                ) from None
        else:
            las[name] = values.astype(np.uint8) if values.dtype.kind == "b" else values
    try:
        las.write(str(path))
    except (laspy.errors.LaspyException, ValueError, OverflowError) as exc:
        raise ValidationError(f"{path}: could not be written as LAS ({exc})") from None
    return notes

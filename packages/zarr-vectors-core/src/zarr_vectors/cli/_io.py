"""Point files for the command line: ``.npy``/``.csv``/``.ply`` in, ``.npy``/``.npz``/``.csv`` out.

Readers return positions plus a dict of per-point attributes, which is what
:func:`zarr_vectors.types.points.write_points` takes. Every problem with a
file is a :class:`~zarr_vectors.exceptions.ValidationError` naming the file
and what is wrong with it, raised before any store is touched.

Conventions:

* ``.npy``: a numeric ``(n, D)`` array (the positions), or a structured array
  with fields ``x``, ``y`` (and ``z``); its other fields become attributes.
* ``.csv``: comma- or whitespace-separated. With a header row, columns
  ``x``, ``y`` (and ``z``) are the positions and the other columns are
  attributes (a column holding only whole numbers becomes ``int64``); without
  one, every column is a coordinate. Values are read as float64.
* ``.ply``: ASCII, binary little-endian or binary big-endian. The ``vertex``
  element's ``x``/``y``/``z`` are the positions (in their stored type), every
  other scalar vertex property becomes an attribute. Other elements (faces)
  are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError

__all__ = ["PointFile", "read_point_file", "write_point_file"]

AXES = ("x", "y", "z")
SUFFIXES = (".npy", ".csv", ".ply")
OUT_SUFFIXES = (".npy", ".npz", ".csv")

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


@dataclass
class PointFile:
    """Points read from a file."""

    positions: npt.NDArray[Any]
    attributes: dict[str, npt.NDArray[Any]] = field(default_factory=dict)


def read_point_file(path: Path) -> PointFile:
    """Read ``path`` by its suffix; raise :class:`ValidationError` on anything unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValidationError(
            f"{path}: unknown point file type {path.suffix!r}; use a .npy, .csv or .ply file"
        )
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    if suffix == ".npy":
        return _read_npy(path)
    if suffix == ".csv":
        return _read_csv(path)
    return _read_ply(path)


# -- .npy ----------------------------------------------------------------------
def _read_npy(path: Path) -> PointFile:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValidationError(f"{path}: not a readable .npy file ({exc})") from None
    if arr.dtype.names:
        return _from_columns(path, {n: np.asarray(arr[n]) for n in arr.dtype.names})
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise ValidationError(
            f"{path}: expected a numeric array of shape (n_points, n_axes) or a structured "
            f"array with x/y/z fields, got dtype {arr.dtype} and shape {arr.shape}"
        )
    return PointFile(arr)


def _from_columns(path: Path, columns: dict[str, npt.NDArray[Any]]) -> PointFile:
    """Positions from the x/y(/z) columns (any case), attributes from the rest."""
    lower = {name.lower(): name for name in columns}
    axes = [lower[a] for a in AXES if a in lower]
    if axes[:2] != [lower.get("x"), lower.get("y")] or len(axes) < 2:
        raise ValidationError(
            f"{path}: needs columns named x and y (and z for 3-D points); found {list(columns)}"
        )
    cols = [columns[a] for a in axes]
    dtype = np.result_type(*[c.dtype for c in cols])
    if dtype.kind not in "fiu":
        raise ValidationError(f"{path}: coordinates must be numeric, got {dtype}")
    positions = np.column_stack([c.astype(dtype, copy=False) for c in cols])
    attrs = {n: np.ascontiguousarray(c) for n, c in columns.items() if n not in axes}
    return PointFile(positions, attrs)


# -- .csv ----------------------------------------------------------------------
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> PointFile:
    # utf-8-sig: spreadsheet programs start CSV files with a byte-order mark
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    if not first.strip():
        raise ValidationError(f"{path}: the file is empty")
    delimiter = "," if "," in first else None
    cells = [c.strip() for c in (first.split(delimiter) if delimiter else first.split())]
    header = not all(_is_number(c) for c in cells)
    try:
        data = np.loadtxt(
            path,
            delimiter=delimiter,
            skiprows=1 if header else 0,
            dtype=np.float64,
            ndmin=2,
            comments="#",
            encoding="utf-8-sig",
        )
    except ValueError as exc:
        raise ValidationError(f"{path}: not a table of numbers ({exc})") from None
    if data.shape[1] != len(cells) and data.size:
        raise ValidationError(
            f"{path}: the first row has {len(cells)} columns but the data has {data.shape[1]}"
        )
    if not header:
        if data.shape[1] > 3:
            raise ValidationError(
                f"{path}: {data.shape[1]} columns and no header row; add a header naming the "
                "x, y, z columns (the other columns become attributes)"
            )
        return PointFile(data.reshape(-1, len(cells)))
    names = [c.strip('"').strip("'") for c in cells]
    if len(set(names)) != len(names):
        raise ValidationError(f"{path}: column names repeat: {names}")
    columns = {n: _narrow(data[:, i]) for i, n in enumerate(names)}
    lower = {n.lower() for n in names}
    for axis in AXES:
        if axis in lower:
            original = next(n for n in names if n.lower() == axis)
            columns[original] = data[:, names.index(original)]
    return _from_columns(path, columns)


def _narrow(column: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
    """A column of whole numbers (e.g. a classification) becomes int64."""
    if (
        column.size
        and np.all(np.isfinite(column))
        and np.all(column == np.round(column))
        and np.abs(column).max() < 2**53
    ):
        return column.astype(np.int64)
    return column


# -- .ply ----------------------------------------------------------------------
@dataclass
class _Element:
    name: str
    count: int
    properties: list[tuple[str, str]]  # (name, numpy type); list properties -> ("", "list")


def _parse_ply_header(path: Path, fh: BinaryIO) -> tuple[str, list[_Element]]:
    magic = fh.readline().strip()
    if magic != b"ply":
        raise ValidationError(f"{path}: not a PLY file (it does not start with 'ply')")
    fmt = ""
    elements: list[_Element] = []
    while True:
        raw = fh.readline()
        if not raw:
            raise ValidationError(f"{path}: the PLY header has no end_header line")
        words = raw.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3:
            try:
                elements.append(_Element(words[1], int(words[2]), []))
            except ValueError:
                raise ValidationError(f"{path}: bad PLY element line {raw!r}") from None
        elif words[0] == "property" and elements:
            if len(words) >= 2 and words[1] == "list":
                elements[-1].properties.append((words[-1], "list"))
            elif len(words) == 3 and words[1] in _PLY_TYPES:
                elements[-1].properties.append((words[2], _PLY_TYPES[words[1]]))
            else:
                raise ValidationError(f"{path}: unknown PLY property {raw!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValidationError(
            f"{path}: PLY format {fmt or '(missing)'!r} is not supported; use ascii, "
            "binary_little_endian or binary_big_endian"
        )
    return fmt, elements


def _read_ply(path: Path) -> PointFile:
    with path.open("rb") as fh:
        fmt, elements = _parse_ply_header(path, fh)
        vertex_at = next((i for i, e in enumerate(elements) if e.name == "vertex"), None)
        if vertex_at is None:
            raise ValidationError(f"{path}: the PLY file has no 'vertex' element")
        vertex = elements[vertex_at]
        if any(t == "list" for _, t in vertex.properties):
            raise ValidationError(f"{path}: list properties on PLY vertices are not supported")
        before = elements[:vertex_at]
        if fmt == "ascii":
            skip = sum(e.count for e in before)
            for _ in range(skip):
                fh.readline()
            dtype = np.dtype([(n, t) for n, t in vertex.properties])
            rows = [fh.readline().decode("ascii", "replace") for _ in range(vertex.count)]
            try:
                table = np.loadtxt(rows, dtype=np.float64, ndmin=2)
            except ValueError as exc:
                raise ValidationError(f"{path}: bad ASCII PLY vertex data ({exc})") from None
            if table.shape != (vertex.count, len(vertex.properties)) and vertex.count:
                raise ValidationError(
                    f"{path}: expected {vertex.count} vertices of {len(vertex.properties)} "
                    f"values, got {table.shape}"
                )
            columns = {n: table[:, i].astype(dtype[n]) for i, n in enumerate(dtype.names or ())}
        else:
            order = "<" if fmt == "binary_little_endian" else ">"
            for e in before:
                if any(t == "list" for _, t in e.properties):
                    raise ValidationError(
                        f"{path}: element {e.name!r} with list properties comes before the "
                        "vertices; this reader needs the vertex element first"
                    )
                fh.seek(e.count * np.dtype([(n, order + t) for n, t in e.properties]).itemsize, 1)
            dtype = np.dtype([(n, order + t) for n, t in vertex.properties])
            buf = fh.read(dtype.itemsize * vertex.count)
            if len(buf) < dtype.itemsize * vertex.count:
                raise ValidationError(
                    f"{path}: the file ends before its {vertex.count} vertices "
                    f"({len(buf)} of {dtype.itemsize * vertex.count} bytes)"
                )
            table_s = np.frombuffer(buf, dtype=dtype)
            columns = {
                n: table_s[n].astype(table_s[n].dtype.newbyteorder("=")) for n in dtype.names or ()
            }
    return _from_columns(path, columns)


# -- writing what read-points returns ------------------------------------------
def write_point_file(
    path: Path, positions: npt.NDArray[Any], attributes: dict[str, npt.NDArray[Any]]
) -> None:
    """``.npy``: positions only; ``.npz``: positions + attributes; ``.csv``: a table."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, positions)
    elif suffix == ".npz":
        arrays: dict[str, Any] = {"positions": positions, **attributes}
        np.savez(path, **arrays)
    elif suffix == ".csv":
        ndim = positions.shape[1] if positions.ndim == 2 else 0
        names = [AXES[i] if i < 3 else f"axis{i}" for i in range(ndim)]
        cols: list[npt.NDArray[Any]] = [positions[:, i] for i in range(ndim)]
        for name, values in attributes.items():
            flat = values.reshape(len(values), -1)
            for j in range(flat.shape[1]):
                names.append(name if flat.shape[1] == 1 else f"{name}_{j}")
                cols.append(flat[:, j])
        table = np.column_stack(cols) if cols else np.empty((0, 0))
        fmt = ["%.9g" if c.dtype.kind == "f" else "%d" for c in cols]
        np.savetxt(path, table, delimiter=",", header=",".join(names), comments="", fmt=fmt)
    else:
        raise ValidationError(
            f"{path}: unknown output type {path.suffix!r}; use .npy (positions), "
            ".npz (positions and attributes) or .csv"
        )

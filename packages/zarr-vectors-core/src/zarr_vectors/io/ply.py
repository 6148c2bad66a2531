"""``.ply`` files (plyfile).

Read, ASCII or binary: the ``vertex`` element's ``x``/``y``/``z`` are the
positions (in their stored type); other scalar properties become attributes, a
list property of one length on every vertex becomes an ``(n, k)`` attribute,
one of varying length is left out with a note. Other elements (faces) are
ignored. Binary vertices are memory-mapped and stream. Written as binary
little-endian vertices (an ``(n, k)`` attribute as columns ``name_j``; 64-bit
integers as 32-bit when every value fits, refused by name otherwise, PLY having
no 64-bit integer type).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.common import (
    BATCH_POINTS,
    Attributes,
    Batch,
    PointReader,
    flat_columns,
    native,
    need,
    split_columns,
)

__all__ = ["PlyReader", "write_ply"]


_PLY_TYPES = "char/int8, uchar/uint8, short/int16, ushort/uint16, int/int32, uint/uint32, "
_PLY_TYPES += "float/float32, double/float64"


class PlyReader(PointReader):
    def __init__(self, path: Path) -> None:
        plyfile = need("plyfile", "reading .ply files")
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
            except UnicodeDecodeError as exc:  # PLY headers are ASCII (a comment in UTF-8...)
                raise ValidationError(
                    f"{path}: the PLY header holds a non-ASCII byte "
                    f"(0x{exc.object[exc.start]:02x}) "
                    "but PLY headers are ASCII; remove or transliterate that comment or name"
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
        required = sum(e.count * self._row_bytes(e) for e in elements)
        if required > have:
            detail = ", ".join(f"{e.name!r}: {e.count:,} rows" for e in elements)
            raise ValidationError(
                f"{path}: the PLY header promises {detail}, which need at least {required:,} "
                f"bytes, but only {have:,} bytes follow the header; the file is truncated or its "
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
            yield split_columns(self.path, {n: native(part[n]) for n in dtype.names or ()})
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
                columns[prop.name] = native(np.asarray(values))
        yield split_columns(self.path, columns)


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


def write_ply(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> None:
    plyfile = need("plyfile", "writing .ply files")
    columns = flat_columns(positions, attributes)
    dtype = np.dtype([(n, _ply_type(n, v)) for n, v in columns.items()])
    table = np.empty(len(positions), dtype)
    for name, values in columns.items():
        table[name] = values
    element = plyfile.PlyElement.describe(table, "vertex")
    plyfile.PlyData([element], comments=["written by zarr-vectors"]).write(str(path))


_LAS_INT32 = 2**31 - 1

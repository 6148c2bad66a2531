"""``.csv`` files (pandas).

The field separator is sniffed (``,`` ``;`` tab ``|`` or spaces) or given; with
``;`` a decimal comma is recognised. With a header row the columns ``x``, ``y``
(and ``z``), in any case and order, are the positions (float64) and the other
numeric columns are attributes (whole numbers stay integers); columns holding
text are left out with a note. Without a header every column is a coordinate
(at most three). Read in chunks, so it streams. Written as one table, an
``(n, k)`` attribute as columns ``name_0 .. name_k-1``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.common import (
    AXES,
    BATCH_POINTS,
    Attributes,
    Batch,
    PointReader,
    flat_columns,
    need,
    split_columns,
)

__all__ = ["CsvReader", "write_csv"]


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
    spaces. Those three go first because a ``;`` file may hold decimal commas. The last
    line of several may have fewer (a file cut short): its missing fields are then empty,
    which the coordinate checks refuse by row, rather than the whole header becoming one
    column name."""
    body, last = (lines[:-1], lines[-1]) if len(lines) > 2 else (lines, "")
    for candidate in (";", "\t", "|", ","):
        counts = {line.count(candidate) for line in body}
        if len(counts) == 1 and counts != {0} and last.count(candidate) <= min(counts):
            return candidate
    return " "


def _fields(line: str, sep: str) -> list[str]:
    if sep == " ":
        return line.split()
    return [f.strip() for f in next(csv.reader([line], delimiter=sep))]


class CsvReader(PointReader):
    def __init__(self, path: Path, sep: str | None) -> None:
        self._pd = need("pandas", "reading .csv files")
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
            yield split_columns(self.path, {n: np.empty(0, np.float64) for n in self._names})

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
        return split_columns(self.path, columns)


def write_csv(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> None:
    pd = need("pandas", "writing .csv files")
    frame = pd.DataFrame(flat_columns(positions, attributes))
    frame.to_csv(path, index=False)

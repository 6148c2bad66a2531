"""What every file-format module shares: the batch types, the reader base, column helpers,
and :func:`unreadable`, the one place a format library's own error becomes ours.

A reader checks its file's header against the file's size when it is made
(before anything is allocated for what the header claims) and gives its points
in batches, so formats whose library streams hold one batch in memory at a time.
Every problem with a file is a :class:`~zarr_vectors.exceptions.ValidationError`
naming the file; this package never imports the command line, which turns those
errors into its own messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError

__all__ = [
    "AXES",
    "BATCH_POINTS",
    "Attributes",
    "Batch",
    "PointFile",
    "PointReader",
    "flat_columns",
    "native",
    "need",
    "one_line",
    "split_columns",
    "unreadable",
]

AXES = ("x", "y", "z")
#: Points per batch when a file is streamed: about 24 MB of float64 x/y/z.
BATCH_POINTS = 1_000_000

Attributes = dict[str, npt.NDArray[Any]]
Batch = tuple[npt.NDArray[Any], Attributes]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@contextmanager
def unreadable(path: str | Path, what: str, hint: str = "") -> Iterator[None]:
    """Inside: a format library reads ``path``; any error it raises is a bad file.

    Each library has its own exceptions for a damaged file (nibabel's
    ``HeaderError``, MorphIO's ``RawDataError``, a ``ValueError`` from numpy
    deep inside, a ``MemoryError`` for a count no file could hold, a Rust
    panic from lazrs), and no common base: they become one
    :class:`ValidationError` naming the file, the library's reason on one line
    and what to do (``hint``, by default to check the file is a whole
    ``what`` file), chained from the library's error. A ValidationError raised
    inside passes as it is. Keep the block to the library's reading, so a
    fault of this package is not reported as the user's file.
    """
    try:
        yield
    except ValidationError:
        raise
    except BaseException as exc:
        # pyo3 raises a Rust panic as PanicException, a BaseException; nothing else
        # that is not an Exception (KeyboardInterrupt, SystemExit) is the file's fault.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        todo = hint or (
            f"check that it is a whole {what} file (not cut short, not another format "
            "under this suffix)"
        )
        raise ValidationError(
            f"{path}: not a readable {what} file ({_reason(exc, path)}); {todo}"
        ) from exc


def _reason(exc: BaseException, path: str | Path) -> str:
    """Why a library could not read ``path``: its message on one line, else its type."""
    if isinstance(exc, MemoryError):  # a count in the file asks for more than there is
        return "a count in it asks for more memory than there is: the file is damaged"
    return one_line(str(exc), path) or type(exc).__name__


def one_line(text: str, path: str | Path) -> str:
    """A library's message about ``path`` on one line: no colours, no repeated file name.

    ``<path>:<line>:error`` (MorphIO, compilers) becomes ``line <line>:``, the line
    number being what is new to the reader; line 0 (the whole file) is left out.
    """
    text = _ANSI.sub("", text)
    text = re.sub(re.escape(str(path)) + r":(\d+):(?:error|warning)", r"line \1:", text)
    text = " ".join(text.split())
    return text.removeprefix("line 0: ")


def need(module: str, what: str) -> ModuleType:
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
    ``crs`` is the file's coordinate reference system (the store's root ``crs``,
    :mod:`zarr_vectors.format.crs`) and ``metadata`` what else of its header the
    store keeps (keys of the root ``zarr_vectors`` block), for formats that have them.
    ``scale_offset`` is ``(scales, offsets)`` when the file holds its coordinates as
    integers times a scale plus an offset (LAS), so a store can keep them so
    (``write_points(scale_offset=...)``).
    """

    def __init__(self, path: Path, count: int | None, description: str) -> None:
        self.path = path
        self.count = count
        self.description = description
        self.notes: list[str] = []
        self.crs: dict[str, Any] | None = None
        self.metadata: dict[str, Any] = {}
        self.scale_offset: tuple[list[float], list[float]] | None = None

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


def split_columns(path: Path, columns: dict[str, npt.NDArray[Any]]) -> Batch:
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


def native(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A copy in native byte order (batches never keep a memory map alive)."""
    return np.array(values, dtype=values.dtype.newbyteorder("="))


def flat_columns(
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

"""``.npy`` and ``.npz`` files (numpy).

Read: a numeric ``(n, D)`` array (the positions), or a structured array with
fields ``x``, ``y`` (and ``z``) whose other fields become attributes. The file
is memory-mapped, so it streams. Write: ``.npy`` holds the positions only,
``.npz`` the positions and every attribute by name.
"""

from __future__ import annotations

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
    native,
    split_columns,
    unreadable,
)

__all__ = ["NpyReader", "write_npy", "write_npz"]


class NpyReader(PointReader):
    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            magic = fh.read(6)
        if magic != b"\x93NUMPY":
            raise ValidationError(f"{path}: not a readable .npy file (no .npy header)")
        # mmap_mode: nothing is read; numpy checks the header's shape against the size.
        # numpy parses the header as Python literals: any error (ValueError, SyntaxError,
        # tokenize's TokenError, ...) means a damaged file
        with unreadable(path, ".npy"):
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
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
                yield native(part), {}
            else:
                yield split_columns(self.path, {n: native(part[n]) for n in arr.dtype.names})


def write_npy(path: Path, positions: npt.NDArray[Any]) -> None:
    """The positions alone, as one ``(n, D)`` array."""
    np.save(path, positions)


def write_npz(path: Path, positions: npt.NDArray[Any], attributes: Attributes) -> None:
    """The positions under ``positions`` and each attribute under its name."""
    arrays: dict[str, Any] = {"positions": positions, **attributes}
    np.savez(path, **arrays)

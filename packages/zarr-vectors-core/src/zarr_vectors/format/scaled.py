"""Positions stored as scaled integers: the LAS model, kept in the store.

A LAS file holds each coordinate as a 32-bit integer ``X`` with a per-axis
``scale`` and ``offset`` (``x = X * scale + offset``). Storing those integers
instead of the float64 they stand for halves the raw bytes and, with a byte
shuffle (``compressor="blosc"``), compresses to well under half of float64's
bytes, because neighbouring points share their high bytes.

On disk the level-0 ``vertices`` array then has ``dtype`` ``"int32"`` and two
more attributes, ``scale`` and ``offset`` (one float per axis). This package
reads positions back as ``ints * scale + offset`` in float64, the same
arithmetic laspy uses, so coordinates read from a LAS file come back
bit-exact. A reader that does not know these two keys (the published
zarr-vectors 0.9.2) reads the integers themselves: the store's documents give
it what it needs to apply them. Coarser levels hold centroids stored the same
way, on a grid of their own (:meth:`Scaling.coarser`): each axis's scale times
the largest power of two that keeps it within a thirty-second of the level's
bin, so an overview's integers carry no digits finer than its points mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError

__all__ = ["OFFSET_KEY", "SCALE_KEY", "Scaling", "positions_dtype"]

SCALE_KEY = "scale"
OFFSET_KEY = "offset"
_INT32 = np.iinfo(np.int32)
#: A coarse level's grid step is at most its bin divided by this (:meth:`Scaling.coarser`).
COARSE_STEPS = 32
#: Rows encoded at a time (1.5 MB of float64 x, y, z).
_BLOCK = 1 << 16


@dataclass(frozen=True)
class Scaling:
    """Per-axis ``scale`` and ``offset``: position = int32 value * scale + offset."""

    scale: tuple[float, ...]
    offset: tuple[float, ...]

    @classmethod
    def of(cls, scale_offset: Any, ndim: int) -> Scaling:
        """``write_points(scale_offset=(scales, offsets))`` checked: one finite positive
        scale and one finite offset per axis."""
        try:
            scale, offset = scale_offset
            s = tuple(float(v) for v in scale)
            o = tuple(float(v) for v in offset)
        except (TypeError, ValueError):
            raise ValidationError(
                f"scale_offset must be ((scale per axis), (offset per axis)), got {scale_offset!r}"
            ) from None
        if len(s) != ndim or len(o) != ndim:
            raise ValidationError(
                f"scale_offset needs {ndim} scales and {ndim} offsets (one per axis), "
                f"got {len(s)} and {len(o)}"
            )
        if not all(math.isfinite(v) and v > 0 for v in s) or not all(math.isfinite(v) for v in o):
            raise ValidationError(
                f"scale_offset: scales must be finite and > 0 and offsets finite, got {s}, {o}"
            )
        return cls(s, o)

    @classmethod
    def of_attrs(cls, attrs: Mapping[str, Any]) -> Scaling | None:
        """The scaling a ``vertices`` array's attributes record, or ``None``."""
        scale, offset = attrs.get(SCALE_KEY), attrs.get(OFFSET_KEY)
        if scale is None or offset is None:
            return None
        return cls(tuple(float(v) for v in scale), tuple(float(v) for v in offset))

    def attrs(self) -> dict[str, Any]:
        """The ``vertices`` array attributes recording this scaling."""
        return {"dtype": "int32", SCALE_KEY: list(self.scale), OFFSET_KEY: list(self.offset)}

    def encode(self, positions: npt.NDArray[Any]) -> npt.NDArray[np.int32]:
        """The int32 values of ``positions``; refused unless every one is exactly
        ``value * scale + offset`` (as coordinates read from a LAS file are).

        Done in blocks of rows, so the temporaries stay small and in cache."""
        scale = np.asarray(self.scale, np.float64)
        offset = np.asarray(self.offset, np.float64)
        out = np.empty(positions.shape, np.int32)
        for start in range(0, len(positions), _BLOCK):
            pos = np.asarray(positions[start : start + _BLOCK], np.float64)
            ints = np.rint((pos - offset) / scale)
            if len(ints) and (ints.min() < _INT32.min or ints.max() > _INT32.max):
                raise ValidationError(
                    f"positions span more than 32-bit integers hold at scale "
                    f"{list(self.scale)} and offset {list(self.offset)}; pass a coarser "
                    "scale_offset, or none to store floats"
                )
            block = out[start : start + _BLOCK]
            block[...] = ints
            if not np.array_equal(block * scale + offset, pos):
                back = block * scale + offset
                bad = start + int(np.flatnonzero(np.any(back != pos, axis=1))[0])
                raise ValidationError(
                    f"position {bad} ({positions[bad].tolist()}) is not an integer times scale "
                    f"{list(self.scale)} plus offset {list(self.offset)}; pass the scale and "
                    "offset the coordinates were made with (a LAS file's), or none to store "
                    "floats"
                )
        return out

    def coarser(self, bin_size: Sequence[float]) -> Scaling:
        """The scaling of a level whose points stand for bins of ``bin_size``: each
        scale times the largest power of two (1 at least) that keeps it at most
        ``bin_size / 32``; the same offsets. On a survey's overview (0.01 scale, bins
        of 7.8) that is 0.16, and its positions take about a third fewer bytes."""
        scale = tuple(
            s * 2.0 ** max(0, math.floor(math.log2(b / COARSE_STEPS / s)))
            for s, b in zip(self.scale, bin_size, strict=True)
        )
        return Scaling(scale, self.offset)

    def snap(self, positions: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """``positions`` rounded to the nearest ``value * scale + offset`` (a coarse level's
        centroids, which then store as integers too)."""
        scale = np.asarray(self.scale, np.float64)
        offset = np.asarray(self.offset, np.float64)
        return self.decode(np.rint((np.asarray(positions, np.float64) - offset) / scale))

    def decode(self, ints: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Positions of stored ``ints``: ``ints * scale + offset`` in float64 (laspy's order
        of operations, so a LAS file's coordinates come back bit-exact)."""
        scale = np.asarray(self.scale, np.float64)
        offset = np.asarray(self.offset, np.float64)
        return np.asarray(ints, np.float64) * scale + offset


def positions_dtype(attrs: Mapping[str, Any]) -> str:
    """The dtype positions are read as from a ``vertices`` array with ``attrs``:
    float64 for scaled integers, else the stored ``dtype`` (float32 when unsaid)."""
    if Scaling.of_attrs(attrs) is not None:
        return "float64"
    return str(attrs.get("dtype", "float32"))

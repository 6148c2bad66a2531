"""Binning: which block of cells each point of a Dask partition goes to (write step 1)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.metadata import RootMetadata
from zarr_vectors.format.validate import check_attributes, check_inside, check_positions

if TYPE_CHECKING:
    pass

from zarr_vectors.dask._support import _ROW_BITS, BLOCK, ROW


# -- the write ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _BinSpec:
    """What a binning task needs: the stored layout, the grid and the blocks."""

    dtype: np.dtype[Any]
    attributes: dict[str, tuple[np.dtype[Any], tuple[int, ...]]]
    meta: RootMetadata
    #: Cells per block per axis, and the cell the blocks are counted from.
    block: tuple[int, ...]
    origin: tuple[int, ...]
    #: For DataFrame input: the position columns and attribute columns, in order.
    position_columns: tuple[str, ...] = ()


def _columns_of(spec: _BinSpec) -> tuple[list[str], dict[str, list[str]]]:
    """Names of the binned frame's position columns and of each attribute's columns."""
    positions = [f"_zv_p{i}" for i in range(spec.meta.ndim)]
    attributes = {
        name: [f"_zv_a{k}_{j}" for j in range(max(1, math.prod(shape)))]
        for k, (name, (_, shape)) in enumerate(spec.attributes.items())
    }
    return positions, attributes


def _block_keys(positions: npt.NDArray[Any], spec: _BinSpec) -> npt.NDArray[np.int64]:
    """A hash of the block of cells holding each point (equal blocks, equal keys).

    The cell is ``floor(x / chunk_shape)`` in float64, as every grouping of the
    package computes it; a hash collision only puts two blocks in one partition.
    """
    cs = np.asarray(spec.meta.chunk_shape, np.float64)
    mixed = np.zeros(len(positions), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for axis in range(positions.shape[1]):
            cells = np.floor(positions[:, axis].astype(np.float64) / cs[axis]).astype(np.int64)
            blocks = (cells - spec.origin[axis]) // spec.block[axis]
            mixed = (mixed ^ blocks.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            mixed ^= mixed >> np.uint64(29)
    return mixed.view(np.int64)


def _binned(positions: Any, attributes: Mapping[str, Any], number: int, spec: _BinSpec) -> Any:
    """One input partition checked, cast and keyed, as a pandas DataFrame (a Dask task)."""
    import pandas as pd  # type: ignore[import-untyped]

    pos = check_positions(positions, spec.dtype)
    attrs = check_attributes(attributes, len(pos))
    check_inside(pos, spec.meta, append=False)
    pos_cols, attr_cols = _columns_of(spec)
    columns: dict[str, Any] = {c: pos[:, i] for i, c in enumerate(pos_cols)}
    for name, (dtype, shape) in spec.attributes.items():
        values = attrs[name]
        if tuple(values.shape[1:]) != shape:
            raise ValidationError(
                f"attribute {name!r} has rows of shape {list(values.shape[1:])} in one partition "
                f"but {list(shape)} in the first"
            )
        flat = values.astype(dtype, copy=False).reshape(len(values), len(attr_cols[name]))
        columns.update({c: flat[:, j] for j, c in enumerate(attr_cols[name])})
    columns[ROW] = (np.int64(number) << np.int64(_ROW_BITS)) + np.arange(len(pos), dtype=np.int64)
    columns[BLOCK] = _block_keys(pos, spec)
    return pd.DataFrame(columns)


def _bin_array_block(
    positions: Any, attributes: Mapping[str, Any], number: int, spec: _BinSpec
) -> Any:
    return _binned(
        np.asarray(positions), {n: np.asarray(a) for n, a in attributes.items()}, number, spec
    )


def _bin_frame_part(frame: Any, number: int, spec: _BinSpec) -> Any:
    positions = np.stack([frame[c].to_numpy() for c in spec.position_columns], axis=1)
    attributes = {name: frame[name].to_numpy() for name in spec.attributes}
    return _binned(positions, attributes, number, spec)

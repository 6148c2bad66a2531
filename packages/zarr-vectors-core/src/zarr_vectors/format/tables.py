"""Vertex arrays as table columns: one per axis, one per attribute.

The one definition of how positions and attributes become flat, named columns,
shared by every result's ``to_pandas()`` and by the Dask reads (whose partitions
must have exactly the columns an in-memory read has).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zarr_vectors._extras import require
from zarr_vectors.exceptions import ValidationError

__all__ = ["axis_names", "vertex_columns", "vertex_frame"]


def axis_names(ndim: int, axes: Sequence[str] | None = None) -> list[str]:
    """``axes`` when given, else ``x, y, z, w`` then ``axis_4``...; checked against ``ndim``."""
    names = (
        list(axes)
        if axes is not None
        else list("xyzw"[:ndim]) + [f"axis_{i}" for i in range(4, ndim)]
    )
    if len(names) != ndim:
        raise ValidationError(f"axes names {names} do not match the {ndim} axes of the points")
    return names


def vertex_columns(
    positions: npt.NDArray[Any],
    attributes: Mapping[str, npt.NDArray[Any]],
    axes: Sequence[str] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Flat columns: one per axis, one per attribute (``name_0``... for wider ones)."""
    ndim = positions.shape[1] if positions.ndim == 2 else 0
    columns = {n: positions[:, i] for i, n in enumerate(axis_names(ndim, axes))}
    for name, values in attributes.items():
        if name in columns:
            raise ValidationError(
                f"attribute {name!r} has the name of an axis; pass other axes names"
            )
        if values.ndim == 1:
            columns[name] = values
        else:
            flat = values.reshape(len(values), int(np.prod(values.shape[1:])))
            columns.update({f"{name}_{i}": flat[:, i] for i in range(flat.shape[1])})
    return columns


def vertex_frame(
    positions: npt.NDArray[Any],
    attributes: Mapping[str, npt.NDArray[Any]],
    axes: Sequence[str] | None = None,
    *,
    feature: str = "to_pandas()",
) -> Any:
    """A ``pandas.DataFrame`` of :func:`vertex_columns` (pandas comes with the ``io`` extra)."""
    pd = require("pandas", feature=feature, extra="io")
    return pd.DataFrame(vertex_columns(positions, attributes, axes))

"""Vertex arrays as named table columns (``zarr_vectors.format.tables``).

``vertex_frame`` (these columns in a pandas DataFrame) is exercised by the ``to_pandas()``
tests in ``tests/types``; importing pandas here alone would cost seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.tables import axis_names, vertex_columns


def test_axes_are_named_xyzw_then_by_number() -> None:
    assert axis_names(2) == ["x", "y"]
    assert axis_names(6) == ["x", "y", "z", "w", "axis_4", "axis_5"]
    assert axis_names(2, ["lon", "lat"]) == ["lon", "lat"]
    with pytest.raises(ValidationError, match=r"axes names \['a'\] do not match the 3 axes"):
        axis_names(3, ["a"])


def test_wide_attributes_become_one_column_each() -> None:
    pos = np.arange(6, dtype=np.float32).reshape(2, 3)
    cols = vertex_columns(pos, {"id": np.array([7, 8]), "rgb": np.ones((2, 3), np.uint8)})
    assert list(cols) == ["x", "y", "z", "id", "rgb_0", "rgb_1", "rgb_2"]
    np.testing.assert_array_equal(cols["z"], [2, 5])
    matrix = vertex_columns(pos, {"m": np.zeros((2, 2, 2))})
    assert [c for c in matrix if c.startswith("m_")] == ["m_0", "m_1", "m_2", "m_3"]


def test_an_attribute_named_like_an_axis_is_refused() -> None:
    with pytest.raises(ValidationError, match="attribute 'x' has the name of an axis"):
        vertex_columns(np.zeros((1, 2)), {"x": np.zeros(1)})

"""What the Dask modules share (zarr_vectors.dask._support): telling Dask input apart.

Finding the active ``distributed`` client is exercised by the cluster tests in
test_write.py (a client costs seconds to start).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.dataframe")

import dask.array as da
import dask.dataframe as dd
import pandas as pd

from zarr_vectors.dask._support import is_dask_frame


def test_only_a_dask_dataframe_is_a_dask_frame() -> None:
    table = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    assert is_dask_frame(dd.from_pandas(table, npartitions=1))
    assert not is_dask_frame(table)  # pandas has columns, but is not Dask
    assert not is_dask_frame(da.zeros((4, 3), chunks=2))  # Dask, but no columns
    assert not is_dask_frame(np.zeros((4, 3)))

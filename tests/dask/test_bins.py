"""Binning a Dask partition (zarr_vectors.dask.bins): checks, casts, block keys, input order.

These run the binning task itself on small NumPy input (no scheduler): the
shuffle only works if points of one block get one key, points of different
blocks (almost always) different keys, and every row keeps its input position.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pandas")

from zarr_vectors.dask._support import _ROW_BITS, BLOCK, ROW
from zarr_vectors.dask.bins import _bin_array_block, _binned, _BinSpec, _block_keys, _columns_of
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.metadata import RootMetadata

META = RootMetadata.build(chunk_shape=(10.0, 10.0), bounds=((0.0, 0.0), (100.0, 100.0)))


def spec(block: tuple[int, int] = (2, 2), **attributes: tuple[str, tuple[int, ...]]) -> _BinSpec:
    return _BinSpec(
        dtype=np.dtype(np.float32),
        attributes={n: (np.dtype(d), s) for n, (d, s) in attributes.items()},
        meta=META,
        block=block,
        origin=(0, 0),
    )


def test_points_of_one_block_share_a_key_and_other_blocks_do_not() -> None:
    # Blocks of 2 x 2 cells of 10: x and y in [0, 20) is block (0, 0), [20, 40) block (1, ...).
    same_block = np.array([[0.0, 0.0], [19.9, 19.9], [5.0, 15.0]])
    keys = _block_keys(same_block, spec())
    assert len(set(keys.tolist())) == 1
    grid = np.array([[x * 20.0 + 1, y * 20.0 + 1] for x in range(5) for y in range(5)])
    assert len(set(_block_keys(grid, spec()).tolist())) == 25
    # The cell is floor(x / chunk) in float64: 20.0 starts the next block.
    edge = _block_keys(np.array([[19.999, 0.0], [20.0, 0.0]]), spec())
    assert edge[0] != edge[1]
    # One-cell blocks split what 2 x 2 blocks keep together: cells (0, 0), (1, 1), (0, 1).
    assert len(set(_block_keys(same_block, spec(block=(1, 1))).tolist())) == 3


def test_a_partition_is_cast_keyed_and_numbered_in_input_order() -> None:
    positions = np.array([[1.0, 2.0], [55.0, 60.0], [99.0, 0.5]], dtype=np.float64)
    rgb = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.int64)
    s = spec(rgb=("uint8", (3,)))
    frame = _bin_array_block(positions, {"rgb": rgb}, 3, s)
    pos_cols, attr_cols = _columns_of(s)
    assert pos_cols == ["_zv_p0", "_zv_p1"] and attr_cols == {
        "rgb": ["_zv_a0_0", "_zv_a0_1", "_zv_a0_2"]
    }
    assert frame[pos_cols].to_numpy().dtype == np.float32
    np.testing.assert_array_equal(frame[pos_cols].to_numpy(), positions.astype(np.float32))
    assert frame[attr_cols["rgb"]].to_numpy().dtype == np.uint8
    np.testing.assert_array_equal(frame[attr_cols["rgb"]].to_numpy(), rgb)
    # Each row's input position: partition number in the high bits, row in the low ones.
    rows = frame[ROW].to_numpy()
    np.testing.assert_array_equal(rows >> _ROW_BITS, [3, 3, 3])
    np.testing.assert_array_equal(rows & ((1 << _ROW_BITS) - 1), [0, 1, 2])
    np.testing.assert_array_equal(frame[BLOCK].to_numpy(), _block_keys(positions, s))


def test_a_partition_is_refused_for_what_a_write_refuses() -> None:
    s = spec(rgb=("uint8", (3,)))
    good = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValidationError, match="outside the bounds"):
        _binned(np.array([[1.0, 2.0], [150.0, 4.0]]), {"rgb": np.zeros((2, 3))}, 0, s)
    with pytest.raises(ValidationError, match="NaN"):
        _binned(np.array([[1.0, np.nan], [3.0, 4.0]]), {"rgb": np.zeros((2, 3))}, 0, s)
    with pytest.raises(ValidationError, match=r"shape \[2\] in one partition but \[3\]"):
        _binned(good, {"rgb": np.zeros((2, 2))}, 1, s)

"""format.scaled: positions as int32 times a scale plus an offset (the LAS model)."""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.scaled import Scaling, positions_dtype


def test_integers_round_trip_bit_exact_with_laspys_arithmetic() -> None:
    rng = np.random.default_rng(0)
    ints = rng.integers(-(2**31), 2**31 - 1, (70_000, 3)).astype(np.int32)
    scale, offset = np.array([0.01, 0.001, 1.16e-6]), np.array([637000.0, 0.5, -12.25])
    positions = ints * scale + offset  # what laspy gives for x, y, z
    scaling = Scaling.of((scale, offset), 3)
    assert np.array_equal(scaling.encode(positions), ints)  # more rows than one block
    assert np.array_equal(scaling.decode(ints), positions)


def test_what_cannot_be_stored_exactly_is_refused_naming_the_point() -> None:
    scaling = Scaling.of(([0.25] * 2, [0.0] * 2), 2)
    with pytest.raises(ValidationError, match=r"position 1 \(\[0.3, 1.0\]\)"):
        scaling.encode(np.array([[0.25, 0.5], [0.3, 1.0]]))
    with pytest.raises(ValidationError, match="32-bit"):
        scaling.encode(np.array([[0.0, 2.0**40]]))
    with pytest.raises(ValidationError, match="2 scales"):
        Scaling.of(([1.0], [0.0]), 2)
    with pytest.raises(ValidationError, match="> 0"):
        Scaling.of(([0.0, 1.0], [0.0, 0.0]), 2)


def test_snap_rounds_to_the_grid_and_the_documents_record_the_scaling() -> None:
    scaling = Scaling((0.01, 0.01), (100.0, 0.0))
    snapped = scaling.snap(np.array([[100.004, 0.016]]))
    assert np.array_equal(snapped, scaling.decode(np.array([[0, 2]])))
    attrs = {"nonempty_chunks": [], **scaling.attrs()}
    assert attrs["dtype"] == "int32" and Scaling.of_attrs(attrs) == scaling
    assert positions_dtype(attrs) == "float64"
    assert positions_dtype({"dtype": "float32"}) == "float32"
    assert Scaling.of_attrs({"dtype": "float32"}) is None


def test_a_coarse_level_gets_a_grid_within_a_thirty_second_of_its_bin() -> None:
    scaling = Scaling((0.01, 0.01, 0.25), (100.0, 0.0, 5.0))
    coarse = scaling.coarser((7.8125, 0.02, 1.0))
    # 0.01 * 16 = 0.16 <= 7.8125 / 32 < 0.32; never finer than the level-0 grid
    assert coarse == Scaling((0.16, 0.01, 0.25), (100.0, 0.0, 5.0))
    points = np.array([[123.456, 7.89, 10.1]])
    snapped = coarse.snap(points)
    assert np.all(np.abs(snapped - points) <= np.array(coarse.scale) / 2)
    assert np.array_equal(coarse.decode(coarse.encode(snapped)), snapped)

"""The cell size ``zarr-vectors write`` chooses when none is given, and how the summary says it."""

from __future__ import annotations

import numpy as np

from zarr_vectors.cli._chunks import CELLS_ALONG, chosen_chunk_shape, default_chunk_shape, in_cells


def test_the_default_is_cubes_of_a_quarter_of_the_largest_extent() -> None:
    assert CELLS_ALONG == 4
    assert default_chunk_shape([0, 0, 0], [100, 40, 8]) == (25.0, 25.0, 25.0)
    assert default_chunk_shape([5, 5], [5, 5]) == (1e-6, 1e-6)  # one point: still positive


def test_a_given_size_wins_one_number_serving_every_axis() -> None:
    pos = np.array([[0.0, 0.0, 0.0], [100.0, 100.0, 100.0]])
    assert chosen_chunk_shape({"chunk_shape": (10.0,), "mode": "w-"}, pos) == (10.0,) * 3
    given = (1.0, 2.0, 3.0)
    assert chosen_chunk_shape({"chunk_shape": given, "mode": "w-"}, pos) == given
    assert chosen_chunk_shape({"chunk_shape": None, "mode": "w"}, pos) == (25.0,) * 3


def test_an_append_without_a_size_takes_the_stores() -> None:
    pos = np.zeros((2, 3))
    assert chosen_chunk_shape({"chunk_shape": None, "mode": "a"}, pos) is None
    assert in_cells(None) == ""


def test_the_summary_rounds_the_cell_size() -> None:
    assert in_cells((1 / 3, 2.0)) == " in cells of [0.333333, 2.0]"

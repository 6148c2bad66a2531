"""Quads split into triangle pairs and put back together (``zarr_vectors.format.faces``)."""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.faces import quads_from_pairs, triangulate


def test_a_quad_splits_along_its_first_diagonal_keeping_the_winding() -> None:
    q = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(triangulate(q), [[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])


def test_triangles_stay_as_they_are() -> None:
    t = np.array([[0, 1, 2], [2, 1, 3]])
    assert triangulate(t) is t


def test_pairs_that_are_not_halves_of_a_quad_are_corrupt() -> None:
    q = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(quads_from_pairs(triangulate(q), "c"), q)
    with pytest.raises(CorruptStoreError, match="c: 3 triangles cannot be pairs"):
        quads_from_pairs(triangulate(q)[:3], "c")
    bad = triangulate(q)
    bad[3] = [4, 7, 6]
    with pytest.raises(CorruptStoreError, match=r"triangles 2 and 3 .* are not the two halves"):
        quads_from_pairs(bad, "c")

"""What every projected preview shares: equal axes, a 2 % margin, one tint per object."""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.cli._picture import object_tints, projection_frame

pytest.importorskip("matplotlib")


def test_the_frame_holds_the_points_with_a_margin_on_equal_axes() -> None:
    corners = np.array([[0.0, 0.0], [100.0, 50.0]])
    fig, ax = projection_frame(corners, ("x", "z"), "a title", 400)
    assert ax.get_xlim() == pytest.approx((-2.0, 102.0))
    assert ax.get_ylim() == pytest.approx((-1.0, 51.0))
    assert ax.get_aspect() == 1.0
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("x", "z", "a title")
    width, height = fig.get_size_inches()
    assert width > height >= 3.0  # the longer side of the data is the wider one


def test_a_single_point_still_gets_a_frame_of_the_least_size() -> None:
    fig, _ = projection_frame(np.zeros((1, 2)), ("x", "y"), "", 800)
    width, height = fig.get_size_inches()
    assert width >= 4.0 and height >= 3.0


def test_each_object_has_its_tint_and_twenty_tints_go_round() -> None:
    tints = object_tints(np.array([7, 3, 7, 3, 9]))
    assert tints.shape == (5, 3)
    np.testing.assert_array_equal(tints[0], tints[2])  # one object, one tint
    assert not np.array_equal(tints[0], tints[1])
    many = object_tints(np.arange(21))
    np.testing.assert_array_equal(many[20], many[0])  # the 21st id takes the first tint again
    assert len(np.unique(many[:20], axis=0)) == 20

"""The in-memory tractogram every format returns, and nibabel's per-point/streamline data."""

from __future__ import annotations

import numpy as np

from zarr_vectors.io.tractogram import TractFile, per_point, per_streamline


def test_per_point_flattens_single_columns_and_keeps_vectors() -> None:
    data = {
        "fa": [np.array([[1.0], [2.0]]), np.array([[3.0]])],
        "dir": [np.zeros((2, 3)), np.ones((1, 3))],
    }
    got = per_point(data)
    assert [a.shape for a in got["fa"]] == [(2,), (1,)]
    assert got["fa"][0].tolist() == [1.0, 2.0]
    assert [a.shape for a in got["dir"]] == [(2, 3), (1, 3)]


def test_per_streamline_flattens_single_columns_and_keeps_vectors() -> None:
    got = per_streamline({"n": [[1], [2]], "v": np.zeros((2, 2))})
    assert got["n"].tolist() == [1, 2]
    assert got["v"].shape == (2, 2)


def test_a_tract_file_starts_with_nothing_but_its_streamlines() -> None:
    one, two = TractFile([np.zeros((2, 3), np.float32)]), TractFile([])
    assert (one.vertex_attributes, one.object_attributes, one.header) == ({}, {}, {})
    assert (one.notes, one.groups) == ([], {})
    one.notes.append("x")
    assert two.notes == []  # each file has its own lists

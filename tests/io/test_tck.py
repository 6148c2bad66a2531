"""MRtrix ``.tck`` files through nibabel: geometry only, and notes naming what was left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.io.tck import read_tck, write_tck

pytest.importorskip("nibabel")

LINES = [
    np.array([[0, 0, 0], [1, 1, 1]], np.float64),
    np.array([[2, 2, 2], [3, 3, 3], [4, 4, 4]], np.float64),
]


def test_streamlines_round_trip_as_float32(tmp_path: Path) -> None:
    assert write_tck(tmp_path / "a.tck", LINES) == []
    got = read_tck(tmp_path / "a.tck")
    assert [s.dtype for s in got.streamlines] == [np.float32, np.float32]
    for a, b in zip(got.streamlines, LINES, strict=True):
        np.testing.assert_array_equal(a, b)
    assert got.vertex_attributes == {} and got.object_attributes == {} and got.header == {}


def test_each_value_and_header_tck_cannot_hold_is_named(tmp_path: Path) -> None:
    notes = write_tck(
        tmp_path / "b.tck",
        LINES,
        vertex_attributes={"fa": [np.zeros(2), np.zeros(3)]},
        object_attributes={"n": np.array([1, 2])},
        header={"voxel_order": "LAS"},
    )
    assert notes == [
        "TCK holds no per-point values: 'fa' left out",
        "TCK holds no per-streamline values: 'n' left out",
        "TCK has no voxel header: the TRK header in the store is not written",
    ]
    assert len(read_tck(tmp_path / "b.tck").streamlines) == 2


@pytest.mark.parametrize("cut", [None, 0, -5])  # garbage, empty, a good file cut short
def test_a_bad_tck_file_is_a_validation_error_naming_it(tmp_path: Path, cut: int | None) -> None:
    from zarr_vectors.exceptions import ValidationError

    write_tck(tmp_path / "good.tck", LINES)
    whole = (tmp_path / "good.tck").read_bytes()
    (tmp_path / "bad.tck").write_bytes(b"garbage" if cut is None else whole[:cut])
    with pytest.raises(ValidationError, match=r"bad\.tck: not a readable MRtrix \.tck file") as e:
        read_tck(tmp_path / "bad.tck")
    assert "\n" not in str(e.value) and e.value.__cause__ is not None

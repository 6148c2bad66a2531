"""TrackVis ``.trk`` files through nibabel: streamlines in RAS+ mm, the header, float32 values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.io.trk import read_trk, write_trk

pytest.importorskip("nibabel")

LINES = [
    np.array([[0, 0, 0], [1, 1, 1]], np.float32),
    np.array([[2, 2, 2], [3, 3, 3], [4, 4, 4]], np.float32),
]
HEADER = {
    "voxel_to_rasmm": np.diag([2.0, 2.0, 2.0, 1.0]).tolist(),
    "voxel_sizes": [2.0, 2.0, 2.0],
    "dimensions": [100, 100, 100],
    "voxel_order": "LAS",
}


def test_streamlines_values_and_header_round_trip(tmp_path: Path) -> None:
    fa = [np.array([0.1, 0.2], np.float32), np.array([0.3, 0.4, 0.5], np.float32)]
    vectors = np.arange(4, dtype=np.float32).reshape(2, 2)
    notes = write_trk(
        tmp_path / "a.trk",
        LINES,
        vertex_attributes={"fa": fa},
        object_attributes={"v": vectors},
        header=HEADER,
    )
    assert notes == []
    got = read_trk(tmp_path / "a.trk")
    for a, b in zip(got.streamlines, LINES, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert a.dtype == np.float32
    assert [x.shape for x in got.vertex_attributes["fa"]] == [(2,), (3,)]  # one column: flat
    np.testing.assert_allclose(got.vertex_attributes["fa"][1], fa[1])
    np.testing.assert_array_equal(got.object_attributes["v"], vectors)  # two columns kept
    assert got.header["trk"]["voxel_order"] == "LAS"
    assert got.header["trk"]["dimensions"] == [100, 100, 100]
    np.testing.assert_allclose(got.header["trk"]["voxel_to_rasmm"], HEADER["voxel_to_rasmm"])


def test_without_a_header_or_float32_values_the_notes_say_what_changed(tmp_path: Path) -> None:
    notes = write_trk(
        tmp_path / "b.trk",
        LINES,
        vertex_attributes={"fa": [np.zeros(2), np.zeros(3)]},
        object_attributes={"n": np.array([1, 2])},
    )
    assert notes == [
        "TRK holds float32 values: 'fa' (float64) was converted",
        "TRK holds float32 values: 'n' (int64) was converted",
        "the store has no TRK header: written with 1 mm voxels on an identity affine",
    ]
    got = read_trk(tmp_path / "b.trk")
    assert got.header["trk"]["voxel_sizes"] == [1.0, 1.0, 1.0]
    assert got.object_attributes["n"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"garbage", "Invalid hdr_size"),  # not a TRK header at all
        (b"", "Invalid hdr_size"),
        (None, ""),  # a good file cut short
    ],
)
def test_a_bad_trk_file_is_a_validation_error_naming_it(
    tmp_path: Path, data: bytes | None, reason: str
) -> None:
    from zarr_vectors.exceptions import ValidationError

    write_trk(tmp_path / "good.trk", LINES, header=HEADER)
    whole = (tmp_path / "good.trk").read_bytes()
    (tmp_path / "bad.trk").write_bytes(whole[: len(whole) - 7] if data is None else data)
    with pytest.raises(ValidationError, match=r"bad\.trk: not a readable TrackVis \.trk file") as e:
        read_trk(tmp_path / "bad.trk")
    assert reason in str(e.value) and "check that it is a whole" in str(e.value)
    assert e.value.__cause__ is not None  # chained from nibabel's own error


def test_a_damaged_point_count_is_a_validation_error_not_a_memory_error(tmp_path: Path) -> None:
    from zarr_vectors.exceptions import ValidationError

    write_trk(tmp_path / "a.trk", LINES, header=HEADER)
    data = bytearray((tmp_path / "a.trk").read_bytes())
    data[1000:1004] = np.int32(2**31 - 1).tobytes()  # the first streamline's point count
    (tmp_path / "a.trk").write_bytes(bytes(data))
    with pytest.raises(ValidationError, match=r"a\.trk: not a readable .*the file is damaged"):
        read_trk(tmp_path / "a.trk")

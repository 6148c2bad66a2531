"""``.npy`` and ``.npz`` point files: memory-mapped reads checked against the file's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.npy import NpyReader, write_npy, write_npz
from zarr_vectors.io.points_files import iter_point_batches, open_point_file


def test_npy_is_memory_mapped_in_batches_and_checked_against_its_size(tmp_path: Path) -> None:
    arr = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    np.save(tmp_path / "in.npy", arr)
    parts = list(iter_point_batches(tmp_path / "in.npy", batch_points=300))
    assert [len(p) for p, _ in parts] == [300, 300, 300, 100]
    assert not isinstance(parts[0][0], np.memmap)  # batches are copies, the map is let go
    data = (tmp_path / "in.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:2000])
    with pytest.raises(ValidationError, match=r"not a readable \.npy file"):
        open_point_file(tmp_path / "cut.npy")


def test_a_structured_array_gives_positions_and_attributes(tmp_path: Path) -> None:
    table = np.zeros(4, [("X", ">f8"), ("Y", ">f8"), ("label", "u1")])
    table["X"], table["Y"], table["label"] = [0, 1, 2, 3], [4, 5, 6, 7], [9, 8, 7, 6]
    np.save(tmp_path / "t.npy", table)
    reader = NpyReader(tmp_path / "t.npy")
    assert reader.count == 4
    got = reader.read()
    np.testing.assert_array_equal(got.positions, [[0, 4], [1, 5], [2, 6], [3, 7]])
    assert got.positions.dtype == np.dtype("=f8")  # native byte order
    np.testing.assert_array_equal(got.attributes["label"], [9, 8, 7, 6])


@pytest.mark.parametrize(
    ("array", "needle"),
    [
        (np.zeros(5), "expected a numeric array of shape (n_points, n_axes)"),
        (np.array([["a", "b"]]), "got dtype <U1"),
        (np.zeros((2, 2), [("x", "f4"), ("y", "f4")]), "a structured array must be 1-D"),
    ],
)
def test_arrays_that_are_not_points_are_refused(
    tmp_path: Path, array: np.ndarray, needle: str
) -> None:
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(ValidationError) as caught:
        NpyReader(tmp_path / "a.npy")
    assert needle in str(caught.value)


def test_a_file_without_the_npy_header_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.npy").write_bytes(b"x,y\n1,2\n")
    with pytest.raises(ValidationError, match=r"not a readable \.npy file \(no \.npy header\)"):
        NpyReader(tmp_path / "a.npy")


def test_an_empty_array_gives_one_empty_batch(tmp_path: Path) -> None:
    np.save(tmp_path / "e.npy", np.zeros((0, 3), np.float32))
    parts = list(NpyReader(tmp_path / "e.npy").batches(10))
    assert len(parts) == 1 and parts[0][0].shape == (0, 3)


def test_npy_holds_positions_and_npz_the_attributes_too(tmp_path: Path) -> None:
    pos = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_npy(tmp_path / "p.npy", pos)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), pos)
    write_npz(tmp_path / "p.npz", pos, {"k": np.array([1, 2])})
    with np.load(tmp_path / "p.npz") as got:
        assert sorted(got.files) == ["k", "positions"]
        np.testing.assert_array_equal(got["positions"], pos)

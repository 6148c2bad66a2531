"""Point files by suffix (``zarr_vectors.io.points_files``): the checks made before any reader.

Each format's own reading and writing is tested beside its module
(``test_las``, ``test_ply``, ``test_csv``, ``test_npy``); here is what every file
goes through first (its suffix, that it is a regular file, the library of its
extra) and the choice of writer by the output's suffix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import run
from tests.io.test_las import make_las
from zarr_vectors.exceptions import ValidationError, ZarrVectorsError
from zarr_vectors.io.points_files import (
    iter_point_batches,
    open_point_file,
    read_point_file,
    write_point_file,
)
from zarr_vectors.types.points import read_points


def test_write_points_can_keep_only_some_attributes(tmp_path: Path) -> None:
    make_las(tmp_path / "in.las", n=300)
    code, out = run(
        "write-points", tmp_path / "in.las", tmp_path / "s", "-c", "100",
        "--attribute", "intensity", "--attribute", "classification",
    )  # fmt: skip
    assert code == 0, out
    assert set(read_points(tmp_path / "s").vertex_attributes) == {"intensity", "classification"}
    code, out = run(
        "write-points", tmp_path / "in.las", tmp_path / "t", "-c", "100", "--no-attributes"
    )
    assert code == 0 and read_points(tmp_path / "t").vertex_attributes == {}
    code, out = run(
        "write-points", tmp_path / "in.las", tmp_path / "u", "-c", "100", "--attribute", "nope"
    )
    assert code == 2 and "no attribute(s) ['nope']" in out


@pytest.mark.skipif(os.name == "nt", reason="needs mkfifo")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "in.csv")
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "s", "-c", "5")
    assert code == 2, out
    assert "not a regular file" in out


@pytest.mark.parametrize(
    ("suffix", "module"), [(".las", "laspy"), (".ply", "plyfile"), (".csv", "pandas")]
)
def test_a_missing_library_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, module: str
) -> None:
    (tmp_path / f"in{suffix}").write_bytes(b"ply\n" if suffix == ".ply" else b"x,y\n1,2\n")
    monkeypatch.setitem(sys.modules, module, None)  # what an install without the extra sees
    with pytest.raises(ZarrVectorsError, match=r'pip install "zarr-vectors-core\[io\]"'):
        read_point_file(tmp_path / f"in{suffix}")
    code, out = run("write-points", tmp_path / f"in{suffix}", tmp_path / "s", "-c", "5")
    assert code == 1 and "zarr-vectors-core[io]" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("name", "kwargs", "needle"),
    [
        ("a.xyz", {}, "unknown point file type '.xyz'; use a .npy, .csv, .ply, .las or .laz"),
        ("gone.csv", {}, "gone.csv: no such file"),
        ("dir.npy", {}, "dir.npy: not a regular file"),
        ("a.npy", {"sep": ";"}, "a field separator applies to .csv files only"),
    ],
)
def test_a_file_is_checked_before_its_reader_is_made(
    tmp_path: Path, name: str, kwargs: dict[str, str], needle: str
) -> None:
    (tmp_path / "a.xyz").write_text("1 2 3\n")
    (tmp_path / "dir.npy").mkdir()
    np.save(tmp_path / "a.npy", np.zeros((2, 3)))
    with pytest.raises(ValidationError) as caught:
        open_point_file(tmp_path / name, **kwargs)
    assert needle in str(caught.value)


def test_batches_must_hold_a_point(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 3)))
    with pytest.raises(ValidationError, match="batch_points must be >= 1, got 0"):
        iter_point_batches(tmp_path / "a.npy", batch_points=0)


def test_the_suffix_is_read_in_any_case(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.ones((2, 3)))
    (tmp_path / "a.npy").rename(tmp_path / "A.NPY")
    np.testing.assert_array_equal(read_point_file(tmp_path / "A.NPY").positions, np.ones((2, 3)))


def test_output_by_suffix_and_a_note_for_a_crs_it_cannot_hold(tmp_path: Path) -> None:
    pos = np.arange(6, dtype=np.float64).reshape(2, 3)
    attrs = {"k": np.array([1, 2])}
    assert write_point_file(tmp_path / "o.npz", pos, attrs) == []
    with np.load(tmp_path / "o.npz") as got:
        np.testing.assert_array_equal(got["k"], [1, 2])
    notes = write_point_file(tmp_path / "o.npy", pos, attrs, crs={"epsg": 2994})
    assert len(notes) == 1
    assert ".npy files have no place for a coordinate reference system" in notes[0]
    assert "EPSG:2994" in notes[0] and "o.npy" in notes[0]
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), pos)
    with pytest.raises(ValidationError, match=r"unknown output type '\.xyz'"):
        write_point_file(tmp_path / "o.xyz", pos, attrs)
    assert not (tmp_path / "o.xyz").exists()

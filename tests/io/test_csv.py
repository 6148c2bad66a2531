"""``.csv`` point files through pandas: separators sniffed or given, columns chosen, streaming."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import run
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.csv import CsvReader, write_csv
from zarr_vectors.io.points_files import iter_point_batches, read_point_file
from zarr_vectors.types.points import read_points

pytest.importorskip("pandas")


def test_csv_semicolons_and_decimal_commas_are_sniffed(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x;y;z;w\n1,5;2,25;3;7\n4;5;6,5;8\n")
    pf = read_point_file(tmp_path / "in.csv")
    np.testing.assert_array_equal(pf.positions, [[1.5, 2.25, 3.0], [4.0, 5.0, 6.5]])
    np.testing.assert_array_equal(pf.attributes["w"], [7, 8])
    assert "decimal comma" in pf.description


def test_csv_separator_can_be_given(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x|y|z\n1|2|3\n")
    np.testing.assert_array_equal(read_point_file(tmp_path / "in.csv").positions, [[1, 2, 3]])
    (tmp_path / "tab.csv").write_text("x\ty\tz\n1\t2\t3\n")
    code, out = run("write-points", tmp_path / "tab.csv", tmp_path / "s", "-c", "5", "--sep", "tab")
    assert code == 0, out
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "t", "-c", "5", "--sep", ";")
    assert code == 2, out  # the wrong separator: one column named 'x|y|z'
    assert "needs columns named x and y" in out


def test_csv_text_columns_are_left_out_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x,y,z,species,height\n1,2,3,oak,12.5\n4,5,6,ash,8\n")
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "s", "-c", "5")
    assert code == 0, out
    assert "Note: column 'species' holds text (e.g. 'oak'); it was left out" in out
    assert set(read_points(tmp_path / "s").vertex_attributes) == {"height"}


def test_csv_text_in_a_coordinate_is_refused_with_column_and_row(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x,y,z\n1,2,3\n4,five,6\n")
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "s", "-c", "5")
    assert code == 2, out
    assert "coordinate column 'y' holds 'five' in data row 2" in out


def test_csv_header_only_is_refused_cleanly_or_makes_an_empty_store(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x,y,z,k\n")
    code, out = run("write-points", tmp_path / "in.csv", tmp_path / "s", "-c", "5")
    assert code == 2, out
    assert "holds no points; pass --bounds" in out and "Traceback" not in out
    code, out = run(
        "write-points", tmp_path / "in.csv", tmp_path / "s", "-c", "5", "--bounds", "0,0,0,10,10,10"
    )
    assert code == 0, out
    assert read_points(tmp_path / "s").vertex_count == 0


def test_csv_streams_in_batches_and_refuses_a_column_changing_type(tmp_path: Path) -> None:
    rows = [f"{i},{i},{i},{i}" for i in range(25)]
    (tmp_path / "in.csv").write_text("x,y,z,k\n" + "\n".join(rows) + "\n")
    sizes = [len(p) for p, _ in iter_point_batches(tmp_path / "in.csv", batch_points=10)]
    assert sizes == [10, 10, 5]
    (tmp_path / "mixed.csv").write_text("x,y,z,k\n" + "\n".join(rows) + "\n1,1,1,0.5\n")
    with pytest.raises(ValidationError, match="column 'k' held int64 values in its first rows"):
        list(iter_point_batches(tmp_path / "mixed.csv", batch_points=10))
    pf = read_point_file(tmp_path / "mixed.csv")  # one batch: the whole column is float
    assert pf.attributes["k"].dtype == np.float64


def test_without_a_header_every_column_is_a_coordinate_up_to_three(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1 2 3\n4   5 6\n")
    reader = CsvReader(tmp_path / "a.csv", None)
    assert reader.description == "csv separated by spaces"
    np.testing.assert_array_equal(reader.read().positions, [[1, 2, 3], [4, 5, 6]])
    (tmp_path / "b.csv").write_text("1,2,3,4\n")
    with pytest.raises(ValidationError, match="4 columns and no header row; add a header"):
        CsvReader(tmp_path / "b.csv", None)


@pytest.mark.parametrize(
    ("text", "sep", "needle"),
    [
        ("", None, "the file is empty"),
        ("# only a comment\n", None, "the file is empty"),
        ("x,y,x\n1,2,3\n", None, "column names repeat: ['x']"),
        ("x,,z\n1,2,3\n", None, "column 2 of the header row has no name"),
        ("x,y\n1,2\n", "::", "the separator must be one character"),
    ],
)
def test_bad_tables_are_refused_when_opened(
    tmp_path: Path, text: str, sep: str | None, needle: str
) -> None:
    (tmp_path / "in.csv").write_text(text)
    with pytest.raises(ValidationError, match=re.escape(needle)):
        CsvReader(tmp_path / "in.csv", sep)


def test_write_csv_spreads_a_vector_attribute_over_columns(tmp_path: Path) -> None:
    pos = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    write_csv(tmp_path / "o.csv", pos, {"n": np.array([[1, 2], [3, 4]]), "k": np.array([7, 8])})
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines == ["x,y,z,n_0,n_1,k", "1.0,2.0,3.0,1,2,7", "4.0,5.0,6.0,3,4,8"]
    back = read_point_file(tmp_path / "o.csv")
    np.testing.assert_array_equal(back.positions, pos)
    assert back.attributes["k"].dtype.kind == "i"


def test_a_file_cut_short_keeps_its_separator_and_header(tmp_path: Path) -> None:
    # the last row lost its last field: still a comma file with columns x, y, z (it was
    # sniffed as space-separated, the header one column "x,y,z", refused as "found []")
    (tmp_path / "in.csv").write_text("x,y,z\n1,2,3\n4,5,6\n7,8")
    got = CsvReader(tmp_path / "in.csv", None).read()
    assert got.positions.shape == (3, 3) and got.description == "csv separated by ','"
    assert np.isnan(got.positions[2, 2])  # refused by row when written (NaN coordinates)

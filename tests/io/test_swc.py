"""SWC neurons through MorphIO: nodes with parents, radius and type, and one tree written back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.swc import read_swc, write_swc

pytest.importorskip("morphio")

SWC = """# a soma and two neurites, one branching
1 1 0 0 0 5 -1
2 3 10 0 0 1 1
3 3 20 0 0 1 2
4 3 30 5 0 0.8 3
5 3 30 -5 0 0.7 3
6 2 -10 0 0 1.5 1
7 2 -20 0 0 1.2 6
"""
LINE = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], np.float32)
CHAIN = np.array([[1, 0], [2, 1], [3, 2]])


def test_sections_become_one_node_per_point_with_its_parent(tmp_path: Path) -> None:
    (tmp_path / "n.swc").write_text(SWC)
    got = read_swc(tmp_path / "n.swc")
    np.testing.assert_array_equal(got.positions[:, 0], [0, 10, 20, 30, 30, -10, -20])
    # the branch point (node 2) is not repeated for each child section
    assert got.edges.tolist() == [[1, 0], [2, 1], [3, 2], [4, 2], [5, 0], [6, 5]]
    np.testing.assert_allclose(got.radius, [5, 1, 1, 0.8, 0.7, 1.5, 1.2])
    assert got.type.tolist() == [1, 3, 3, 3, 3, 2, 2]


def test_a_tree_round_trips_and_a_missing_radius_is_noted(tmp_path: Path) -> None:
    assert write_swc(tmp_path / "a.swc", LINE, CHAIN) == ["the store has no 'radius': written as 1"]
    back = read_swc(tmp_path / "a.swc")
    np.testing.assert_array_equal(back.positions, LINE)
    assert back.edges.tolist() == CHAIN.tolist()
    np.testing.assert_array_equal(back.radius, np.ones(4))
    assert back.type.tolist() == [1, 3, 3, 3]  # the root is the soma, the rest dendrite
    assert [p.name for p in tmp_path.iterdir()] == ["a.swc"]  # landed whole, no part left


def test_a_node_whose_type_differs_from_its_section_takes_the_sections(tmp_path: Path) -> None:
    notes = write_swc(
        tmp_path / "b.swc", LINE, CHAIN, radius=np.full(4, 2.0), types=np.array([1, 3, 3, 4])
    )
    assert notes == ["1 node(s) whose SWC type differs from their section's took its type"]
    back = read_swc(tmp_path / "b.swc")
    assert back.type.tolist() == [1, 3, 3, 3]
    np.testing.assert_array_equal(back.radius, np.full(4, 2.0))


def test_swc_export_refuses_a_forest(tmp_path: Path) -> None:
    pos = np.zeros((4, 3), np.float32)
    with pytest.raises(ValidationError, match="one tree"):
        write_swc(tmp_path / "x.swc", pos, np.array([[1, 0], [3, 2]]))
    assert not (tmp_path / "x.swc").exists()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1 1 0 0 0 1 -1\n2 3 1 0 0 1 5\n", "line 2: Sample id: 2 refers to non-existant parent"),
        ("garbage\n", "line 1: Unable to parse this line"),
        ("1 1 0 0 0 1 -1\n2 3 nan 0 0 1 1\n", "line 2: Unable to parse"),  # NaN coordinates
        ("1 1 0 0 0 1 -1\n2 3 1 0", "line 2: The end of the file was reached"),  # cut short
    ],
)
def test_a_bad_swc_file_is_a_validation_error_saying_what_a_line_must_be(
    tmp_path: Path, text: str, reason: str
) -> None:
    (tmp_path / "bad.swc").write_text(text)
    with pytest.raises(ValidationError, match=r"bad\.swc: not a readable SWC file") as e:
        read_swc(tmp_path / "bad.swc")
    message = str(e.value)
    assert reason in message and "'id type x y z radius parent'" in message
    assert "\n" not in message and "\x1b" not in message  # MorphIO's colours and lines gone
    assert e.value.__cause__ is not None


def test_morphios_warnings_are_notes_not_coloured_lines_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "n.swc").write_text("1 3 0 0 0 1 -1\n2 3 1 0 0 1 1\n")  # no soma
    got = read_swc(tmp_path / "n.swc")
    assert len(got.positions) == 2
    assert "no soma found in file" in got.notes
    assert all("\n" not in n and "\x1b" not in n for n in got.notes)
    assert capfd.readouterr().err == ""  # MorphIO printed nothing itself

"""``.ply`` point files through plyfile: what is read, what is refused, what is written.

Sample files are written with plyfile itself or by hand (headers that lie), so the
tests check this package's reading and writing against the format's own library.
Headers that promise more than the file holds are refused before anything is
allocated for them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import run
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.ply import PlyReader, write_ply
from zarr_vectors.io.points_files import read_point_file

plyfile = pytest.importorskip("plyfile")


def by_position(positions: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Rows sorted by position (stores return points grouped by cell)."""
    order = np.lexsort(positions.T[::-1])
    return [positions[order], *(c[order] for c in columns)]


def test_non_ascii_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.ply"
    path.write_bytes(
        b"ply\nformat ascii 1.0\ncomment scann\xc3\xa9 \xff\nelement vertex 1\n"
        b"property float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n"
    )
    with pytest.raises(ValidationError) as caught:
        PlyReader(path)
    message = str(caught.value)
    assert "\n" not in message and "non-ASCII" in message and "0xc3" in message


def test_ply_list_properties_fixed_length_kept_varying_left_out(tmp_path: Path) -> None:
    n = 40
    rng = np.random.default_rng(3)
    vertex = np.empty(n, [("x", "f4"), ("y", "f4"), ("z", "f4"), ("normal", "O"), ("tags", "O")])
    vertex["x"], vertex["y"], vertex["z"] = rng.uniform(0, 10, (3, n)).astype(np.float32)
    vertex["normal"] = [rng.random(3).astype(np.float32) for _ in range(n)]
    vertex["tags"] = [np.arange(i % 3, dtype=np.int32) for i in range(n)]
    el = plyfile.PlyElement.describe(
        vertex,
        "vertex",
        len_types={"normal": "u1", "tags": "u1"},
        val_types={"normal": "f4", "tags": "i4"},
    )
    plyfile.PlyData([el]).write(str(tmp_path / "in.ply"))
    pf = read_point_file(tmp_path / "in.ply")
    assert pf.attributes["normal"].shape == (n, 3)
    np.testing.assert_array_equal(pf.attributes["normal"], np.stack(vertex["normal"]))
    assert "tags" not in pf.attributes
    assert any("'tags'" in note and "left out" in note for note in pf.notes)
    code, out = run("write-points", tmp_path / "in.ply", tmp_path / "s", "-c", "5")
    assert code == 0, out
    assert "Note: vertex list property 'tags'" in out


def test_ply_int64_property_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "in.ply").write_bytes(
        b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
        b"property int64 point_id\nend_header\n1 2 3\n"
    )
    code, out = run("write-points", tmp_path / "in.ply", tmp_path / "s", "-c", "5")
    assert code == 2, out
    assert "'int64' is not a PLY type in 'property int64 point_id'" in out
    assert "no 64-bit integers" in out and "Traceback" not in out


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian"])
@pytest.mark.parametrize("count", ["-5", "10000000000"])
def test_ply_vertex_counts_checked_against_the_file_size_at_once(
    tmp_path: Path, fmt: str, count: str
) -> None:
    header = (
        f"ply\nformat {fmt} 1.0\nelement vertex {count}\nproperty float x\nproperty float y\n"
        "property float z\nend_header\n"
    ).encode()
    (tmp_path / "in.ply").write_bytes(header + b"1 2 3\n" * 150)  # about 1 kB
    start = time.perf_counter()
    code, out = run("write-points", tmp_path / "in.ply", tmp_path / "s", "-c", "5")
    assert time.perf_counter() - start < 5
    assert code == 2, out
    assert ("negative count" if count.startswith("-") else "10,000,000,000 rows") in out
    assert "Traceback" not in out and not (tmp_path / "s").exists()


def test_ply_output_round_trips_through_plyfile(tmp_path: Path) -> None:
    from zarr_vectors.types.points import write_points

    rng = np.random.default_rng(4)
    pos = rng.uniform(0, 10, (300, 3)).astype(np.float32)
    attrs = {
        "label": rng.integers(0, 9, 300).astype(np.int64),  # fits 32 bits: written as int32
        "normal": rng.random((300, 3)),
        "keep": rng.random(300) > 0.5,
    }
    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3, vertex_attributes=attrs)
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / "o.ply")
    assert code == 0, out
    vertex = plyfile.PlyData.read(str(tmp_path / "o.ply"))["vertex"]
    names = [p.name for p in vertex.properties]
    assert names[:3] == ["x", "y", "z"]
    assert sorted(names[3:]) == ["keep", "label", "normal_0", "normal_1", "normal_2"]
    got = np.column_stack([vertex["x"], vertex["y"], vertex["z"]])
    g_pos, g_label = by_position(got, np.asarray(vertex["label"]))
    w_pos, w_label = by_position(pos, attrs["label"])
    np.testing.assert_array_equal(g_pos, w_pos)
    np.testing.assert_array_equal(g_label, w_label)
    assert vertex["label"].dtype == np.dtype("i4")

    write_points(
        tmp_path / "t", pos, chunk_shape=(5.0,) * 3, vertex_attributes={"id": np.full(300, 2**40)}
    )
    code, out = run("read-points", tmp_path / "t", "-o", tmp_path / "t.ply")
    assert code == 2, out
    assert "attribute 'id' holds 64-bit integers" in out and "Traceback" not in out


def test_files_that_are_not_ply_or_have_no_vertices_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.ply").write_bytes(b"PK\x03\x04 a zip, say")
    with pytest.raises(ValidationError, match="not a PLY file"):
        PlyReader(tmp_path / "a.ply")
    (tmp_path / "b.ply").write_bytes(
        b"ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\n"
        b"end_header\n"
    )
    with pytest.raises(ValidationError, match="no 'vertex' element"):
        PlyReader(tmp_path / "b.ply")


def test_binary_vertices_after_another_element_stream_in_batches(tmp_path: Path) -> None:
    """The vertex rows are mapped at the offset past the fixed-size rows before them."""
    before = np.array([(7,), (8,)], [("k", "<i4")])
    vertex = np.empty(250, [("x", ">f4"), ("y", ">f4"), ("z", ">f4"), ("w", ">u2")])
    rng = np.random.default_rng(9)
    for axis in "xyz":
        vertex[axis] = rng.uniform(0, 10, 250)
    vertex["w"] = np.arange(250)
    elements = [
        plyfile.PlyElement.describe(before, "camera"),
        plyfile.PlyElement.describe(vertex, "vertex"),
    ]
    plyfile.PlyData(elements, byte_order=">").write(str(tmp_path / "in.ply"))
    reader = PlyReader(tmp_path / "in.ply")
    assert (reader.count, reader.description) == (250, "ply binary big-endian")
    parts = list(reader.batches(100))
    assert [len(p) for p, _ in parts] == [100, 100, 50]
    positions = np.concatenate([p for p, _ in parts])
    np.testing.assert_array_equal(positions[:, 2], vertex["z"])
    assert positions.dtype == np.dtype("=f4")  # native order, a copy of the map
    np.testing.assert_array_equal(np.concatenate([a["w"] for _, a in parts]), np.arange(250))


def test_write_ply_types_booleans_as_uchar_and_refuses_what_ply_cannot_hold(
    tmp_path: Path,
) -> None:
    pos = np.zeros((3, 3), np.float64)
    write_ply(tmp_path / "a.ply", pos, {"keep": np.array([True, False, True])})
    vertex = plyfile.PlyData.read(str(tmp_path / "a.ply"))["vertex"]
    assert vertex["keep"].dtype == np.dtype("u1") and vertex["x"].dtype == np.dtype("f8")
    with pytest.raises(ValidationError, match="attribute 'z' has type complex128"):
        write_ply(tmp_path / "b.ply", pos, {"z": np.zeros(3, np.complex128)})
    assert not (tmp_path / "b.ply").exists()

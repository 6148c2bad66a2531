"""Point files by their libraries: LAS/LAZ (laspy), PLY (plyfile), CSV (pandas), .npy.

The sample files are made here with the same libraries (laspy writes LAS and
LAZ, plyfile writes PLY), so every test checks this package's reading and
writing against the format's own implementation. Headers that promise more
than the file holds are refused before anything is allocated for them.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import laspy
import numpy as np
import plyfile
import pytest
from click.testing import CliRunner

from zarr_vectors.cli import main
from zarr_vectors.exceptions import ValidationError, ZarrVectorsError
from zarr_vectors.io.points_files import iter_point_batches, open_point_file, read_point_file
from zarr_vectors.types.points import read_points


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def by_position(positions: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Rows sorted by position (stores return points grouped by cell)."""
    order = np.lexsort(positions.T[::-1])
    return [positions[order], *(c[order] for c in columns)]


def make_las(path: Path, n: int = 2000, point_format: int = 3) -> laspy.LasData:
    """A LAS/LAZ file with scale 0.01, offset (1000, 2000, 0) and several standard fields."""
    rng = np.random.default_rng(5)
    header = laspy.LasHeader(point_format=point_format, version="1.2")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([1000.0, 2000.0, 0.0])
    las = laspy.LasData(header)
    las.x = 1000 + np.round(rng.uniform(0, 500, n), 2)
    las.y = 2000 + np.round(rng.uniform(0, 500, n), 2)
    las.z = np.round(rng.uniform(0, 50, n), 2)
    las.intensity = rng.integers(0, 65535, n)
    las.classification = rng.integers(0, 19, n)
    las.return_number = rng.integers(1, 4, n)
    las.gps_time = rng.uniform(0, 1e5, n)
    las.red = rng.integers(0, 65535, n)
    las.write(str(path))
    return laspy.read(str(path))


# -- LAS / LAZ -------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_fields_become_attributes_and_coordinates_keep_their_scale(
    tmp_path: Path, suffix: str
) -> None:
    src = make_las(tmp_path / f"in{suffix}")
    code, out = run("write-points", tmp_path / f"in{suffix}", tmp_path / "s", "-c", "100")
    assert code == 0, out
    assert "scale (0.01, 0.01, 0.01), offset (1000, 2000, 0)" in out
    got = read_points(tmp_path / "s")
    assert got.positions.dtype == np.float64
    want = np.column_stack([src.x, src.y, src.z])
    pos, cls, inten = by_position(
        got.positions,
        got.vertex_attributes["classification"],
        got.vertex_attributes["intensity"],
    )
    wpos, wcls, winten = by_position(
        want, np.asarray(src.classification), np.asarray(src.intensity)
    )
    np.testing.assert_array_equal(pos, wpos)
    np.testing.assert_array_equal(cls, wcls)
    np.testing.assert_array_equal(inten, winten)
    assert got.vertex_attributes["intensity"].dtype == np.uint16
    assert {"gps_time", "red", "return_number", "point_source_id"} <= set(got.vertex_attributes)

    # ... and back out as LAS/LAZ: the same scale, the same integers, the same fields
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / f"out{suffix}")
    assert code == 0, out
    back = laspy.read(str(tmp_path / f"out{suffix}"))
    assert back.header.point_format.id == src.header.point_format.id
    np.testing.assert_array_equal(back.header.scales, src.header.scales)
    bpos, bcls, bgps = by_position(
        np.column_stack([back.x, back.y, back.z]),
        np.asarray(back.classification),
        np.asarray(back.gps_time),
    )
    spos, scls, sgps = by_position(want, np.asarray(src.classification), np.asarray(src.gps_time))
    np.testing.assert_array_equal(bpos, spos)
    np.testing.assert_array_equal(bcls, scls)
    np.testing.assert_array_equal(bgps, sgps)


def test_las_is_read_in_batches(tmp_path: Path) -> None:
    make_las(tmp_path / "in.laz", n=1050)
    reader = open_point_file(tmp_path / "in.laz")
    assert reader.count == 1050
    sizes = [len(p) for p, _ in reader.batches(400)]
    assert sizes == [400, 400, 250]
    whole = read_point_file(tmp_path / "in.laz")
    parts = list(iter_point_batches(tmp_path / "in.laz", batch_points=400))
    np.testing.assert_array_equal(np.concatenate([p for p, _ in parts]), whole.positions)


def test_truncated_las_is_refused_from_its_header(tmp_path: Path) -> None:
    make_las(tmp_path / "full.las", n=1000)
    data = (tmp_path / "full.las").read_bytes()
    (tmp_path / "cut.las").write_bytes(data[: len(data) // 2])
    code, out = run("write-points", tmp_path / "cut.las", tmp_path / "s", "-c", "100")
    assert code == 2, out
    assert "promises 1,000 points" in out and "truncated" in out
    assert "Traceback" not in out and not (tmp_path / "s").exists()


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value) :]


def test_damaged_laz_headers_are_refused_before_the_decompressor_runs(tmp_path: Path) -> None:
    """lazrs sizes its buffers from these fields and aborts the process when it cannot
    allocate them, so each is checked against the file first (found by fuzzing)."""
    import struct

    make_las(tmp_path / "ok.laz", n=500)
    data = (tmp_path / "ok.laz").read_bytes()
    with laspy.open(str(tmp_path / "ok.laz")) as reader:
        start = reader.header.offset_to_point_data
    with (tmp_path / "ok.laz").open("rb") as fh:
        header = laspy.LasHeader.read_from(fh)
    vlr = bytes(header.vlrs.get("LasZipVlr")[0].record_data)
    vlr_at = data.find(vlr)
    (table_at,) = struct.unpack_from("<q", data, start)
    cases = {
        "chunk.laz": (_patched(data, vlr_at + 12, struct.pack("<I", 1_500_000_000)), "chunk of"),
        "table.laz": (_patched(data, table_at + 4, struct.pack("<I", 900_000_000)), "chunks for"),
        "where.laz": (_patched(data, start, struct.pack("<q", 10**12)), "chunk table is said"),
        "count.laz": (_patched(data, 107, struct.pack("<I", 4_000_000_000)), "points per byte"),
        "vlrs.laz": (_patched(data, 100, struct.pack("<I", 3_000_000)), "VLRs"),
    }
    for name, (content, needle) in cases.items():
        (tmp_path / name).write_bytes(content)
        start_time = time.perf_counter()
        code, out = run("write-points", tmp_path / name, tmp_path / "s", "-c", "100")
        assert time.perf_counter() - start_time < 10, name
        assert code == 2, (name, out)
        assert needle in out and "Traceback" not in out, (name, out)


def test_las_output_refuses_what_las_cannot_hold(tmp_path: Path) -> None:
    pos = np.random.default_rng(1).uniform(0, 10, (50, 3))
    cases = [
        ({"classification": np.full(50, 300)}, "'classification'"),
        ({"intensity": np.full(50, 0.5)}, "fractions"),
    ]
    from zarr_vectors.types.points import write_points

    for i, (attrs, needle) in enumerate(cases):
        write_points(tmp_path / f"s{i}", pos, chunk_shape=(5.0,) * 3, vertex_attributes=attrs)
        code, out = run("read-points", tmp_path / f"s{i}", "-o", tmp_path / f"o{i}.las")
        assert code == 2, out
        assert needle in out and "Traceback" not in out
    write_points(tmp_path / "flat", pos[:, :2], chunk_shape=(5.0, 5.0))
    code, out = run("read-points", tmp_path / "flat", "-o", tmp_path / "flat.las")
    assert code == 2 and "LAS holds 3-D points" in out


def test_las_output_of_random_floats_says_it_rounded(tmp_path: Path) -> None:
    pos = np.random.default_rng(2).uniform(0, 10, (50, 3))  # float64, every digit used
    from zarr_vectors.types.points import write_points

    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3)
    code, out = run("read-points", tmp_path / "s", "-o", tmp_path / "o.las")
    assert code == 0, out
    assert "Note: LAS stores coordinates as 32-bit integers" in out
    back = laspy.read(str(tmp_path / "o.las"))
    got = by_position(np.column_stack([back.x, back.y, back.z]))[0]
    np.testing.assert_allclose(got, by_position(pos)[0], atol=1e-6)


# -- PLY -------------------------------------------------------------------------
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


# -- CSV -------------------------------------------------------------------------
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


# -- .npy, odd files, missing libraries ---------------------------------------------
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

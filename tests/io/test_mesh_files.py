"""Mesh files through trimesh (PLY, OBJ, STL, OFF, glTF) and ``zarr-vectors write``/``read``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.types.test_meshes import face_set, spheres
from zarr_vectors.cli import main
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.mesh_files import FORMATS, mesh_format, read_mesh_file, write_mesh_file
from zarr_vectors.types.meshes import read_mesh, write_mesh


def coloured() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    v, f, _ = spheres(k=1, seed=2)
    colour = np.zeros((len(v), 4), np.uint8)
    colour[:, 0] = np.arange(len(v)) % 256
    colour[:, 3] = 255
    # outward unit normals (the sphere's centre is the mean of its vertices)
    n = v - v.mean(axis=0)
    normal = (n / np.linalg.norm(n, axis=1, keepdims=True)).astype(np.float32)
    return v, f, colour, normal


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_every_format_round_trips_its_faces_and_what_it_holds(tmp_path: Path, fmt) -> None:
    v, f, colour, normal = coloured()
    path = tmp_path / f"m{fmt.suffixes[0]}"
    notes = write_mesh_file(path, v, f, {"colour": colour, "normal": normal})
    got = read_mesh_file(path)
    assert face_set(got.vertices.astype(np.float32), got.faces) == face_set(v, f)
    assert len(got.vertices) == len(v)
    if fmt.colours:
        np.testing.assert_array_equal(got.vertex_attributes["colour"], colour)
    else:
        assert "colour" not in got.vertex_attributes and any("colours" in n for n in notes)
    if fmt.normals:
        np.testing.assert_allclose(got.vertex_attributes["normal"], normal, atol=1e-6)
    else:
        assert "normal" not in got.vertex_attributes and any("normals" in n for n in notes)


def test_quads_are_written_as_two_triangles(tmp_path: Path) -> None:
    v, f, _ = spheres(k=1, quads=True)
    write_mesh_file(tmp_path / "q.off", v, f)
    got = read_mesh_file(tmp_path / "q.off")
    assert got.faces.shape == (2 * len(f), 3)


def test_unknown_missing_and_broken_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"not a mesh file this library reads \(.ply"):
        mesh_format("x.xyz")
    with pytest.raises(ValidationError, match="no such file"):
        read_mesh_file(tmp_path / "none.ply")
    (tmp_path / "bad.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 2\nend_header\n1")
    with pytest.raises(ValidationError, match=r"bad\.ply") as info:
        read_mesh_file(tmp_path / "bad.ply")
    assert "\n" not in str(info.value)


def test_cli_write_then_read_keeps_the_mesh_and_its_colours(tmp_path: Path) -> None:
    v, f, colour, normal = coloured()
    write_mesh_file(tmp_path / "in.ply", v, f, {"colour": colour, "normal": normal})
    runner = CliRunner()
    store = str(tmp_path / "s.zarrvectors")
    res = runner.invoke(main, ["write", str(tmp_path / "in.ply"), store])
    assert res.exit_code == 0, res.output
    assert f"{len(f):,} faces" in res.output
    stored = read_mesh(store)
    assert face_set(stored.vertices, stored.faces) == face_set(v, f)
    np.testing.assert_array_equal(
        stored.vertex_attributes["colour"][np.lexsort(stored.vertices.T)],
        colour[np.lexsort(v.T)],
    )
    res = runner.invoke(main, ["read", store, "-o", str(tmp_path / "out.obj")])
    assert res.exit_code == 0, res.output
    back = read_mesh_file(tmp_path / "out.obj")
    assert face_set(back.vertices.astype(np.float32), back.faces) == face_set(v, f)
    assert "colour" in back.vertex_attributes and "normal" in back.vertex_attributes
    res = runner.invoke(main, ["read", store, "-o", str(tmp_path / "out.stl")])
    assert res.exit_code == 0 and "STL holds no vertex colours" in res.output


def test_cli_draco_append_and_refusals(tmp_path: Path) -> None:
    v, f, _ = spheres(k=2, seed=3)
    write_mesh_file(tmp_path / "a.stl", v, f)
    runner = CliRunner()
    store = str(tmp_path / "d")
    res = runner.invoke(
        main, ["write", str(tmp_path / "a.stl"), store, "--encoding", "draco", "--object-id", "1"]
    )
    assert res.exit_code == 0, res.output
    assert read_mesh(store).encoding == "draco"
    res = runner.invoke(
        main, ["write", str(tmp_path / "a.stl"), store, "--mode", "a", "--object-id", "2"]
    )
    assert res.exit_code == 0, res.output
    assert read_mesh(store).objects.tolist() == [1, 2]
    res = runner.invoke(main, ["read", store, "--object-id", "2", "-o", str(tmp_path / "two.ply")])
    assert res.exit_code == 0 and "1 object(s)" in res.output
    res = runner.invoke(main, ["write", str(tmp_path / "a.xyz"), store])
    assert res.exit_code != 0 and "unknown file type '.xyz'" in res.output
    res = runner.invoke(main, ["read", store, "-o", str(tmp_path / "out.csv")])
    assert res.exit_code != 0 and "a mesh is written as" in res.output


@pytest.mark.slow
def test_the_console_script_writes_a_mesh_file(tmp_path: Path) -> None:
    v, f, _ = spheres(k=1)
    write_mesh_file(tmp_path / "m.off", v, f)
    exe = Path(sys.executable).with_name("zarr-vectors")
    proc = subprocess.run(
        [str(exe), "write", str(tmp_path / "m.off"), str(tmp_path / "s")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    write_mesh(tmp_path / "t", v, f, chunk_shape=(50.0,) * 3)  # same faces either way
    assert face_set(*_vf(read_mesh(tmp_path / "s"))) == face_set(*_vf(read_mesh(tmp_path / "t")))


def _vf(m) -> tuple[np.ndarray, np.ndarray]:
    return m.vertices, m.faces


def test_an_off_file_cut_short_is_refused_by_its_header_counts(tmp_path: Path) -> None:
    square = "OFF\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2\n3 0 2 3\n"
    (tmp_path / "whole.off").write_text(square)
    assert len(read_mesh_file(tmp_path / "whole.off").faces) == 2
    (tmp_path / "cut.off").write_text(square[: square.rindex("3 0 2")])  # trimesh reads 1 face
    with pytest.raises(ValidationError, match=r"cut\.off: the OFF header promises 4 vertices "):
        read_mesh_file(tmp_path / "cut.off")

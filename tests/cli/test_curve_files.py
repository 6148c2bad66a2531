"""Curve files through ``zarr-vectors write`` / ``read`` (``cli/curve_files.py``): TRK, TCK, SWC.

Each file goes into a store and back out through the commands, keeping what its format
holds; the readers and writers themselves are tested beside their modules in ``tests/io``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.helpers.cli import run
from tests.io.test_swc import SWC
from tests.io.test_trk import HEADER
from zarr_vectors.cli.files_cmd import read_cmd, write_cmd
from zarr_vectors.io.swc import read_swc
from zarr_vectors.io.tck import read_tck
from zarr_vectors.io.trk import read_trk, write_trk
from zarr_vectors.types.graphs import read_graph
from zarr_vectors.types.polylines import read_polylines

pytest.importorskip("nibabel")
pytest.importorskip("morphio")


def tracts(k: int = 25) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    sl = [
        (np.cumsum(rng.normal(0, 2, (int(rng.integers(2, 40)), 3)), 0) + 60).astype(np.float32)
        for _ in range(k)
    ]
    return sl, [rng.uniform(0, 1, len(s)).astype(np.float32) for s in sl]


def test_trk_to_store_and_back_keeps_space_and_values(tmp_path: Path) -> None:
    sl, fa = tracts()
    write_trk(
        tmp_path / "in.trk",
        sl,
        vertex_attributes={"fa": fa},
        object_attributes={"len": np.arange(25, dtype=np.float32)},
        header=HEADER,
    )
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "in.trk"), str(tmp_path / "s")])
    assert run.exit_code == 0, run.output
    assert "cells of" in run.output  # the chosen chunk shape is printed
    got = read_polylines(tmp_path / "s")
    assert got.metadata["trk"]["voxel_order"] == "LAS"
    for a, b in zip(got.polylines, sl, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "out.trk")])
    assert run.exit_code == 0, run.output
    back = read_trk(tmp_path / "out.trk")
    assert back.header["trk"]["voxel_sizes"] == [2.0, 2.0, 2.0]
    assert back.header["trk"]["voxel_order"] == "LAS"
    np.testing.assert_allclose(back.header["trk"]["voxel_to_rasmm"], HEADER["voxel_to_rasmm"])
    for a, b, x, y in zip(back.streamlines, sl, back.vertex_attributes["fa"], fa, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
        np.testing.assert_allclose(x, y)
    np.testing.assert_array_equal(back.object_attributes["len"], np.arange(25))


def test_tck_says_what_it_cannot_hold(tmp_path: Path) -> None:
    sl, fa = tracts(5)
    write_trk(tmp_path / "in.trk", sl, vertex_attributes={"fa": fa}, header=HEADER)
    assert (
        CliRunner().invoke(write_cmd, [str(tmp_path / "in.trk"), str(tmp_path / "s")]).exit_code
        == 0
    )
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "o.tck")])
    assert run.exit_code == 0, run.output
    assert "TCK holds no per-point values: 'fa' left out" in run.output
    got = read_tck(tmp_path / "o.tck")
    for a, b in zip(got.streamlines, sl, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_swc_round_trip_keeps_radius_and_types(tmp_path: Path) -> None:
    (tmp_path / "n.swc").write_text(SWC)
    run = CliRunner().invoke(
        write_cmd, [str(tmp_path / "n.swc"), str(tmp_path / "s"), "--object-id", "7"]
    )
    assert run.exit_code == 0, run.output
    g = read_graph(tmp_path / "s")
    assert g.kind == "skeleton" and g.objects.tolist() == [7] and g.edge_count == 6
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "o.swc")])
    assert run.exit_code == 0, run.output
    a, b = read_swc(tmp_path / "n.swc"), read_swc(tmp_path / "o.swc")
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.edges, b.edges)
    np.testing.assert_allclose(a.radius, b.radius)
    np.testing.assert_array_equal(a.type, b.type)
    assert a.type.tolist() == [1, 3, 3, 3, 3, 2, 2]


def test_empty_files_and_one_point_streamlines_are_refused_before_writing(tmp_path: Path) -> None:
    from zarr_vectors.io.tck import write_tck

    write_tck(tmp_path / "empty.tck", [])
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "empty.tck"), str(tmp_path / "s")])
    assert run.exit_code == 2 and "the file holds no streamlines" in run.output
    sl, _ = tracts(3)
    write_trk(tmp_path / "short.trk", [sl[0], sl[1][:1], sl[2][:1]], header=HEADER)
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "short.trk"), str(tmp_path / "s")])
    assert run.exit_code == 2
    assert "streamline 1 has fewer than 2 points (2 such)" in run.output
    assert not (tmp_path / "s").exists()


def test_an_swc_file_takes_one_skeleton_chosen_by_object_id(tmp_path: Path) -> None:
    (tmp_path / "n.swc").write_text(SWC)
    store = str(tmp_path / "s")
    for oid in ("1", "2"):
        mode = "w-" if oid == "1" else "a"
        run = CliRunner().invoke(
            write_cmd, [str(tmp_path / "n.swc"), store, "--object-id", oid, "--mode", mode]
        )
        assert run.exit_code == 0, run.output
    run = CliRunner().invoke(read_cmd, [store, "-o", str(tmp_path / "o.swc")])
    assert run.exit_code == 2
    assert "2 skeletons match; an SWC file holds one, choose it with --object-id" in run.output
    run = CliRunner().invoke(read_cmd, [store, "-o", str(tmp_path / "o.swc"), "--object-id", "2"])
    assert run.exit_code == 0, run.output
    assert "Read a skeleton of 7 nodes (object 2)" in run.output


def test_an_empty_swc_file_is_one_error_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.swc").write_text("")
    code, out = run("write", tmp_path / "empty.swc", tmp_path / "s")
    assert (code, out) == (2, f"Error: {tmp_path / 'empty.swc'}: the file holds no nodes\n")
    assert capfd.readouterr().err == ""  # not MorphIO's coloured "no soma found" lines
    assert not (tmp_path / "s").exists()

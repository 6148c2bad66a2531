"""``zarr-vectors write`` / ``read``: the geometry chosen by the file's suffix or the store's type.

What each format keeps is tested with its files (``test_mesh_files``, ``test_curve_files``);
here is the choosing, and the refusals made before anything is read or written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.cli import run
from zarr_vectors.cli.files_cmd import READERS, WRITERS


def test_cli_read_of_a_point_cloud_points_to_read_points(tmp_path: Path) -> None:
    from zarr_vectors.types.points import write_points

    write_points(
        tmp_path / "p", np.random.default_rng(0).uniform(0, 9, (20, 3)), chunk_shape=(5.0,) * 3
    )
    code, out = run("read", tmp_path / "p", "-o", tmp_path / "x.ply")
    assert code != 0 and "read-points" in out


def test_every_suffix_a_store_is_read_to_can_be_written_from_too() -> None:
    for kind, (_, suffixes) in READERS.items():
        assert set(suffixes) <= set(WRITERS), kind


def test_an_unknown_or_missing_file_is_refused_before_a_store_is_made(tmp_path: Path) -> None:
    (tmp_path / "a.xyz").write_text("1 2 3\n")
    code, out = run("write", tmp_path / "a.xyz", tmp_path / "s")
    assert code == 2
    assert "unknown file type '.xyz'; this command writes .glb, .gltf, .graphml" in out
    assert "(points: zarr-vectors write-points)" in out
    code, out = run("write", tmp_path / "gone.swc", tmp_path / "s")
    assert code == 2 and "gone.swc: no such file" in out
    assert not (tmp_path / "s").exists()


def test_a_read_needs_an_existing_folder_and_a_suffix_of_the_geometry(tmp_path: Path) -> None:
    from zarr_vectors.types.graphs import write_graph

    pos = np.array([[0.0, 0, 0], [1, 1, 1], [2, 2, 2]])
    write_graph(tmp_path / "g", pos, np.array([[0, 1], [1, 2]]), chunk_shape=(5.0,) * 3)
    code, out = run("read", tmp_path / "g", "-o", tmp_path / "nowhere" / "g.graphml")
    assert code == 2 and "the directory" in out and "does not exist" in out
    code, out = run("read", tmp_path / "g", "-o", tmp_path / "g.swc")
    assert code == 2 and "a graph is written as .graphml" in out
    assert not (tmp_path / "g.swc").exists()
    code, out = run("read", tmp_path / "g", "-o", tmp_path / "g.graphml")
    assert code == 0, out
    assert "Read a graph of 3 nodes and 2 edges" in out and "saved to" in out


def test_a_bad_file_is_one_line_exit_2_and_no_store(tmp_path: Path) -> None:
    # each reader's library raises its own errors (nibabel's HeaderError, MorphIO's
    # MissingParentError, ...): the command says one line, as for any other input error.
    # The other formats' readers go through the same io.common.unreadable (tests/io); their
    # libraries (networkx, trimesh, trx) would cost this test seconds of imports alone.
    files = {
        "bad.trk": b"garbage",
        "bad.tck": b"",
        "bad.swc": b"1 1 0 0 0 1 -1\n2 3 1 0 0 1 5\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        code, out = run("write", tmp_path / name, tmp_path / "s")
        assert code == 2, (name, out)
        assert out.startswith(f"Error: {tmp_path / name}: not a readable "), out
        assert out.count("\n") == 1 and "Traceback" not in out, out
        assert not (tmp_path / "s").exists()

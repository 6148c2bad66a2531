"""``zarr-vectors demo``: the README's first command writes, reads a box back and checks it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.test_points_cmd import SCRIPT
from tests.helpers.cli import run
from zarr_vectors.types.points import read_points


def test_demo_in_process_checks_the_box_and_cleans_up(tmp_path: Path) -> None:
    code, out = run("demo", "--points", "20000")
    assert code == 0, out
    assert "Wrote 20,000 points" in out
    assert "Checked: exactly the" in out
    assert "temporary store was removed" in out


def test_demo_keeps_store_in_dir_and_refuses_to_overwrite(tmp_path: Path) -> None:
    code, out = run("demo", "--points", "5000", "--dir", tmp_path / "d")
    assert code == 0, out
    store = tmp_path / "d" / "demo.zarrvectors"
    assert read_points(store).vertex_count == 5000
    code, out = run("demo", "--points", "5000", "--dir", tmp_path / "d")
    assert code == 1
    assert "--overwrite" in out and "Traceback" not in out
    code, out = run("demo", "--points", "300", "--dir", tmp_path / "d", "--overwrite")
    assert code == 0, out
    assert read_points(store).vertex_count == 300


def test_installed_script_demo_through_a_pipe_draws_no_progress(tmp_path: Path) -> None:
    assert SCRIPT.exists(), f"console script not installed at {SCRIPT}"
    proc = subprocess.run(
        [str(SCRIPT), "demo", "--points", "50000", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Checked: exactly the" in proc.stdout
    assert "\x1b" not in proc.stdout + proc.stderr  # no bar, no colour codes in a log
    assert proc.stderr == ""


def test_a_box_that_reads_back_wrong_fails_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr_vectors.types.points as points

    real = points.read_points

    def smaller_box(store: Path, bbox: object, progress: object) -> object:
        return real(store, bbox=((100.0,) * 3, (200.0,) * 3), progress=progress)

    monkeypatch.setattr(points, "read_points", smaller_box)
    code, out = run("demo", "--points", "2000", "--dir", tmp_path / "d")
    assert code == 1, out
    assert "the store is not reading back what was written" in out and "Traceback" not in out


def test_the_temporary_store_is_removed_even_when_the_demo_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    import zarr_vectors.types.points as points
    from zarr_vectors.exceptions import ZarrVectorsError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken(*args: object, **kwargs: object) -> None:
        raise ZarrVectorsError("the disk is full")

    monkeypatch.setattr(points, "write_points", broken)
    code, out = run("demo", "--points", "100")
    assert code == 1 and "Error: the disk is full" in out
    assert list(tmp_path.iterdir()) == []

"""The example third-party plugin (examples/zarr-vectors-sqlite), built and installed as a wheel.

The wheel is built with ``uv build`` and unpacked into a temporary site
directory (exactly the layout an installer leaves), which subprocesses get on
their path. Nothing of the plugin is imported by the test process itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from zarr_vectors.testing import CHECK_NAMES

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "zarr-vectors-sqlite"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed example plugin (built from its own pyproject)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the example plugin's wheel")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([uv, "build", "-q", "--wheel", str(EXAMPLE), "-o", str(out)], check=True)
    (wheel,) = out.glob("zarr_vectors_sqlite-*.whl")
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def _cli(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(site, cwd, "-c", "from zarr_vectors.cli import main; main()", *args)


def test_installed_plugin_is_listed(site: Path, tmp_path: Path) -> None:
    run = _cli(site, tmp_path, "backends", "--json")
    assert run.returncode == 0, run.stderr
    assert '"name": "sqlite"' in run.stdout and '"status": "ok"' in run.stdout
    assert '"distribution": "zarr-vectors-sqlite"' in run.stdout


def test_point_cloud_through_a_sqlite_url(site: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import numpy as np
        from zarr_vectors.types.points import read_points, write_points
        url = "sqlite://{tmp_path}/cloud.db"
        rng = np.random.default_rng(1)
        pts = (rng.random((5000, 3)) * 100).astype("float32")
        write_points(url, pts, chunk_shape=(25.0, 25.0, 25.0))
        back = read_points(url)
        assert sorted(map(tuple, back.positions)) == sorted(map(tuple, pts))
        box = read_points(url, bbox=((0, 0, 0), (50, 50, 50)))
        assert len(box) == int(np.all(pts <= 50, axis=1).sum())
        print("points", len(back))
        """
    )
    run = _run(site, tmp_path, "-c", script)
    assert run.returncode == 0, run.stderr
    assert "points 5000" in run.stdout
    assert (tmp_path / "cloud.db").stat().st_size > 0  # really in the SQLite file


def test_the_plugin_passes_the_kit_with_the_local_profile(site: Path, tmp_path: Path) -> None:
    """The plugin declares sqlite:// local, so the kit uses the local profile (30 steps, 30 s
    per call; remote stores get 20 and 120); fewer examples than the default keep it quick."""
    url = f"sqlite://{tmp_path}/kit.db"
    run = _cli(site, tmp_path, "check-backend", "sqlite", "--url", url, "--max-examples", "8")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 examples, 30 steps, 30 s per call" in run.stdout
    count = len(CHECK_NAMES)
    assert run.stdout.count("PASSED") == count and f"All {count} checks passed." in run.stdout
    assert "PASSED  conditional-writes" in run.stdout  # the example offers put_if


def test_a_file_of_the_first_version_is_read_and_gets_versions(site: Path, tmp_path: Path) -> None:
    """Files written before the version column existed are upgraded when opened."""
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE objects (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        db.execute("INSERT INTO objects VALUES ('a/b', x'0102')")
    db.close()
    script = textwrap.dedent(
        f"""
        from zarr_vectors.storage import make_backend
        with make_backend("sqlite://{path}") as store:
            info = store.head("a/b")
            assert store.get_bytes("a/b") == b"\\x01\\x02" and info.size == 2, info
            new = store.put_if("a/b", b"x", expect=info.version)
            assert store.head("a/b").version == new != info.version
        print("upgraded")
        """
    )
    run = _run(site, tmp_path, "-c", script)
    assert run.returncode == 0, run.stderr
    assert "upgraded" in run.stdout

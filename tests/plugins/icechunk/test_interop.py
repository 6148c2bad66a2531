"""Icechunk repositories shared with the published zarr-vectors 0.9.2, both ways.

0.9.2 runs in its own venv (tests/helpers/upstream_env.py), with icechunk added
to it: its icechunk backend is an optional extra. On Python 3.11 both sides use
icechunk 1.1.21, so they read each other's repositories.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from tests.helpers.upstream_env import run_published, venv_python
from zarr_vectors.types.points import read_points, write_points

pytestmark = pytest.mark.slow

_WRITE_092 = """
import sys
import numpy as np
from zarr_vectors.types.points import write_points
rows = np.random.default_rng(5).uniform(0, 100, (3000, 3)).astype(np.float32)
np.save(sys.argv[2], rows)
write_points(sys.argv[1], rows, chunk_shape=(20.0, 20.0, 20.0), backend="icechunk")
"""

_READ_092 = """
import sys
import numpy as np
from zarr_vectors.types.points import read_points
out = read_points(sys.argv[1], backend="icechunk")
np.save(sys.argv[2], np.asarray(out["positions"]))
print(out["vertex_count"])
"""


@pytest.fixture(scope="module")
def published() -> Path:
    """The 0.9.2 venv, with icechunk installed next to it."""
    import shutil

    py = venv_python()
    probe = subprocess.run([str(py), "-c", "import icechunk"], capture_output=True)
    if probe.returncode != 0:
        uv = shutil.which("uv")
        assert uv is not None, "uv is needed to add icechunk to the 0.9.2 venv"
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(py), "icechunk>=1.1.21,<2"],
            check=True,
        )
    return py


def _sorted(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return rows[np.lexsort(rows.T[::-1])]


def test_this_project_reads_what_092_wrote(published: Path, tmp_path: Path) -> None:
    url = (tmp_path / "repo").as_uri()
    run_published(_WRITE_092, url, str(tmp_path / "rows.npy"))
    rows = np.load(tmp_path / "rows.npy")
    got = read_points(url, backend="icechunk").positions
    np.testing.assert_array_equal(_sorted(np.asarray(got)), _sorted(rows))
    assert [e.message for e in zi.history(url)] == ["write_points", "Repository initialized"]
    # ...and appends to it, one commit more, which 0.9.2 reads back.
    more = np.random.default_rng(6).uniform(0, 100, (50, 3)).astype(np.float32)
    write_points(url, more, mode="a", backend="icechunk")
    run_published(_READ_092, url, str(tmp_path / "back.npy"))
    both = np.concatenate([rows, more])
    np.testing.assert_array_equal(_sorted(np.load(tmp_path / "back.npy")), _sorted(both))


def test_092_reads_what_this_project_wrote(published: Path, tmp_path: Path) -> None:
    url = (tmp_path / "repo").as_uri()
    rows = np.random.default_rng(7).uniform(0, 100, (4000, 3)).astype(np.float32)
    bounds = ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0))
    write_points(url, rows[:3000], chunk_shape=(25.0,) * 3, bounds=bounds, backend="icechunk")
    write_points(url, rows[3000:], mode="a", backend="icechunk", message="more")
    done = run_published(_READ_092, url, str(tmp_path / "read.npy"))
    assert done.stdout.strip().splitlines()[-1] == "4000"
    np.testing.assert_array_equal(_sorted(np.load(tmp_path / "read.npy")), _sorted(rows))

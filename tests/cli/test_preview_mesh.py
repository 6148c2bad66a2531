"""``zarr-vectors preview`` of a mesh: faces projected, the nearest drawn last, shaded, tinted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.types.test_meshes import spheres
from zarr_vectors.cli import main
from zarr_vectors.cli.preview_mesh import render_mesh
from zarr_vectors.types.meshes import write_mesh

pytest.importorskip("matplotlib")


def test_preview_shades_a_mesh(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    v, f, ids = spheres(k=2, seed=1)
    write_mesh(tmp_path / "m", v, f, chunk_shape=(100.0,) * 3, object_ids=ids)
    out = tmp_path / "p.png"
    res = CliRunner().invoke(main, ["preview", str(tmp_path / "m"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{len(f):,} faces of 2 object(s)" in res.output
    from matplotlib.image import imread

    img = imread(out)[..., :3]
    lit = img[(img.max(axis=2) > 0.05) & (np.ptp(img, axis=2) > 0.05)]  # coloured pixels
    assert len(lit) > 1000 and len(np.unique(np.round(lit, 2), axis=0)) > 20  # shaded, not flat


def _pixels(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return np.asarray(imread(path)[..., :3])


def test_the_nearest_face_is_drawn_over_the_farther_one(tmp_path: Path) -> None:
    """Two squares on top of each other seen along z: the one at z = 1 hides the one at z = 0."""
    from matplotlib import colormaps

    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    vertices = np.vstack([np.c_[square, np.full(4, 1.0)], np.c_[square, np.zeros(4)]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])  # the near one first
    owner = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    render_mesh(vertices, faces, owner, (0, 1), ("x", "y"), "t", tmp_path / "a.png", size=200)
    lit = np.round(_pixels(tmp_path / "a.png"), 2).reshape(-1, 3)
    lit = lit[np.ptp(lit, axis=1) > 0.05]  # coloured: not the black axes, white margin, text
    colours, counts = np.unique(lit, axis=0, return_counts=True)
    seen = colours[np.argmax(counts)]
    near, far = colormaps["tab20"](0)[:3], colormaps["tab20"](1)[:3]  # facing the viewer: full
    np.testing.assert_allclose(seen, near, atol=0.01)
    assert not np.allclose(seen, far, atol=0.01)


def test_flat_vertices_are_drawn_unshaded(tmp_path: Path) -> None:
    vertices = np.array([[0, 0], [1, 0], [0, 1]], np.float64)
    faces = np.array([[0, 1, 2]])
    render_mesh(vertices, faces, np.zeros(3, np.int64), (0, 1), ("x", "y"), "t", tmp_path / "f.png")
    assert _pixels(tmp_path / "f.png").max() > 0.5  # full brightness: no view axis to shade by

"""``zarr-vectors preview`` of curve stores: the segments are drawn where the curves are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zarr_vectors.cli import main
from zarr_vectors.types.graphs import write_graph
from zarr_vectors.types.lines import write_lines
from zarr_vectors.types.polylines import write_polylines

pytest.importorskip("matplotlib")


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def drawn(png: Path) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Which pixels of the black plot area are drawn on, and the area's pixel box.

    The plot area is the black rectangle (the data's extent with a 2 % margin:
    the axes keep equal scales, so the rectangle is the data limits exactly).
    """
    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.int32)
    black = img.max(axis=2) < 8
    # the area's rows and columns are mostly black; text (also black) is sparse
    rows = np.flatnonzero(black.mean(axis=1) > 0.4)
    cols = np.flatnonzero(black.mean(axis=0) > 0.4)
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return ~black[y0:y1, x0:x1], (x0, y0, x1, y1)


def at(mask: np.ndarray, x: float, y: float, lo: float, hi: float, r: int) -> np.ndarray:
    """The pixels within ``r`` of data point (x, y) (data limits lo..hi plus 2 %)."""
    h, w = mask.shape
    pad = 0.02 * (hi - lo)
    px = int((x - lo + pad) / (hi - lo + 2 * pad) * w)
    py = int((1 - (y - lo + pad) / (hi - lo + 2 * pad)) * h)  # image rows run downwards
    return mask[max(py - r, 0) : py + r + 1, max(px - r, 0) : px + r + 1]


def test_streamlines_are_drawn_where_they_run_and_nowhere_else(tmp_path: Path) -> None:
    t = np.linspace(0, 1, 30)[:, None]
    z = np.full((30, 1), 5.0)
    # a diagonal, the bottom edge and the lower half of the right edge of a 100 x 100 square
    curves = [
        np.hstack([t * 100, t * 100, z]),
        np.hstack([t * 100, 0 * t, z]),
        np.hstack([0 * t + 100, t * 50, z]),
    ]
    write_polylines(tmp_path / "s", [c.astype(np.float32) for c in curves], chunk_shape=(30,) * 3)
    out = tmp_path / "c.png"
    code, text = run("preview", tmp_path / "s", "-o", out, "--size", "400")
    assert code == 0, text
    assert "Drew 87 segments of 3 streamline(s)" in text and "seen along z" in text
    mask, _ = drawn(out)
    for s in (0.1, 0.3, 0.5, 0.7, 0.9):  # on every curve, something is drawn
        assert at(mask, 100 * s, 100 * s, 0, 100, 2).any(), s
        assert at(mask, 100 * s, 0, 0, 100, 2).any(), s
        assert at(mask, 100, 50 * s, 0, 100, 2).any(), s
    # away from the curves nothing is (radii in pixels; 100 data units are about 370)
    assert not at(mask, 70, 30, 0, 100, 25).any()
    assert not at(mask, 30, 70, 0, 100, 25).any()
    assert not at(mask, 97, 80, 0, 100, 10).any()  # the right edge stops at 50
    assert not at(mask, 3, 50, 0, 100, 8).any()  # no left edge (axes not swapped)


def test_lines_and_graphs_are_drawn_and_a_sample_is_said(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ends = rng.uniform(0, 50, (40, 2, 3)).astype(np.float32)
    write_lines(tmp_path / "l", ends, chunk_shape=(20,) * 3)
    code, text = run("preview", tmp_path / "l", "-o", tmp_path / "l.png")
    assert code == 0, text
    assert "Drew 40 segments of 40 line(s)" in text
    assert drawn(tmp_path / "l.png")[0].mean() > 0.01

    pos = rng.uniform(0, 50, (60, 3)).astype(np.float32)
    edges = np.array([[i, i + 1] for i in range(59) if i % 10 != 9])
    write_graph(
        tmp_path / "g", pos, edges, chunk_shape=(20,) * 3, object_ids=np.arange(60) // 10
    )  # six graphs of ten nodes
    code, text = run("preview", tmp_path / "g", "-o", tmp_path / "g.png", "--axes", "x,z")
    assert code == 0, text
    assert "Drew 54 segments of 6 graph(s)" in text and "seen along y" in text
    code, text = run("preview", tmp_path / "g", "-o", tmp_path / "s.png", "--max-points", "20")
    assert code == 0, text
    assert "Drew 18 segments of 2 graph(s), a sample of 6" in text
    code, text = run("preview", tmp_path / "g", "-o", tmp_path / "c.png", "--colour-by", "w")
    assert code != 0 and "holds a graph, drawn tinted by object" in text
    assert not (tmp_path / "c.png").exists()


def test_segments_are_painted_one_pixel_wide_block_by_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zarr_vectors.cli import preview_curves

    segs = np.array([[[0.5, 2.5], [9.5, 2.5]], [[7.5, 0.0], [7.5, 9.9]], [[0, 0], [9.9, 9.9]]])
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    whole = np.zeros((10, 10, 3), np.uint8)
    preview_curves.draw_segments(whole, segs, colours, (0.0, 10.0, 0.0, 10.0))
    # row 2 red, then column 7 green, then the diagonal blue: each over what was there
    assert (whole[2, [0, 1, 3, 4, 5, 6, 8, 9], 0] == 255).all()
    assert (whole[[0, 1, 2, 3, 4, 5, 6, 8, 9], 7, 1] == 255).all()
    assert [tuple(whole[i, i]) for i in (0, 5, 9)] == [(0, 0, 255)] * 3  # the diagonal, last
    assert int((whole.max(axis=2) > 0).sum()) == 10 + 10 + 10 - 3  # nothing else painted
    monkeypatch.setattr(preview_curves, "BLOCK_SAMPLES", 4)  # many small blocks: the same
    blocks = np.zeros_like(whole)
    preview_curves.draw_segments(blocks, segs, colours, (0.0, 10.0, 0.0, 10.0))
    np.testing.assert_array_equal(blocks, whole)

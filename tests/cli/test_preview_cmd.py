"""``zarr-vectors preview``: a density picture from a coarse level or a bounded sample of cells."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from zarr_vectors.cli import main
from zarr_vectors.cli.preview_cmd import select_points
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import write_points


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two stores of the same 60,000 points in the lower-left quarter: 3 levels, and 1."""
    root = tmp_path_factory.mktemp("preview")
    rng = np.random.default_rng(0)
    pts = rng.normal(250, 60, (60_000, 3)).clip(0, 1000).astype(np.float32)
    box = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
    write_points(root / "pyramid", pts, chunk_shape=(50.0,) * 3, bounds=box, levels=3)
    write_points(root / "flat", pts, chunk_shape=(50.0,) * 3, bounds=box)
    return root


def bright_fraction(png: Path, region: tuple[float, float, float, float]) -> float:
    """Share of clearly coloured pixels in a region given as fractions of the picture."""
    img = np.asarray(Image.open(png).convert("RGB"), dtype=np.int32)
    h, w, _ = img.shape
    x0, y0, x1, y1 = region
    part = img[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
    return float(((part.max(axis=2) - part.min(axis=2)) > 60).mean())  # saturated colour


def test_preview_draws_the_density_where_the_points_are(stores: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.png"
    code, text = run("preview", stores / "pyramid", "-o", out, "--size", "400")
    assert code == 0, text
    assert "all 60,000 points of level 0" in text and "seen along z" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = Image.open(out).size
    assert 400 <= width <= 800 and 300 <= height <= 600
    # the points sit in the lower-left quarter of the bounds: colour there, none top right
    assert bright_fraction(out, (0.15, 0.55, 0.4, 0.85)) > 0.2
    assert bright_fraction(out, (0.5, 0.1, 0.75, 0.4)) < 0.01


def test_a_coarse_level_is_used_when_it_fits(stores: Path) -> None:
    with open_zv(stores / "pyramid") as zv:
        counts = {n: zv.level(n).vertex_count for n in zv.levels}
        sel = select_points(zv, max_points=counts[1])
    assert sel.level == 1 and sel.cells_read is None
    assert len(sel.positions) == counts[1] < counts[0]


def test_without_levels_a_bounded_sample_of_cells_is_read(stores: Path, tmp_path: Path) -> None:
    with open_zv(stores / "flat") as zv:
        sel = select_points(zv, max_points=10_000)
        total_cells = len(zv.level(0).nonempty_chunks)
    assert sel.cells_read is not None and 0 < sel.cells_read < total_cells
    assert 0 < len(sel.positions) < 30_000  # about max_points, by the mean points per cell
    code, text = run("preview", stores / "flat", "-o", tmp_path / "s.png", "--max-points", "10000")
    assert code == 0, text
    assert f"a sample of {sel.cells_read} of {total_cells} cells" in text  # the same sample
    code, text = run("preview", stores / "flat", "-o", tmp_path / "xz.png", "--axes", "x,z")
    assert code == 0 and "seen along y" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-o", "{tmp}/p.txt"], "use one of .png"),
        (["-o", "{tmp}/no/p.png"], "does not exist"),
        (["-o", "{tmp}/p.png", "--axes", "x,w"], "'w' is not an axis"),
        (["-o", "{tmp}/p.png", "--axes", "x,x"], "two different axes"),
        (["-o", "{tmp}/p.png", "--level", "7"], "level 7 does not exist"),
    ],
)
def test_bad_preview_arguments_exit_2(
    stores: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    code, text = run("preview", stores / "pyramid", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2, text
    assert needle in text and "Traceback" not in text


def test_missing_matplotlib_names_the_viz_extra(
    stores: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, text = run("preview", stores / "pyramid", "-o", tmp_path / "p.png")
    assert code == 1, text
    assert 'pip install "zarr-vectors-core[viz]"' in text and "Traceback" not in text


def test_colour_by_an_attribute_shows_its_value_per_pixel(tmp_path: Path) -> None:
    """Left half class 2, right half class 6 and higher; a pixel shows its commonest class
    or its mean value, not the count."""
    from zarr_vectors.cli.preview_cmd import _per_pixel

    pos = np.array([[0.1, 0.5, 1.0], [0.2, 0.5, 3.0], [0.3, 0.5, 3.0], [0.9, 0.5, 10.0]])
    classes = np.array([2, 6, 6, 9])
    extent = ((0.0, 1.0), (0.0, 1.0))
    mode = _per_pixel(pos, classes, (0, 1), (2, 1), extent, categorical=True)
    assert mode.tolist() == [[6.0], [9.0]]
    mean = _per_pixel(pos, pos[:, 2], (0, 1), (2, 1), extent, categorical=False)
    assert mean[0, 0] == pytest.approx(7 / 3) and mean[1, 0] == 10.0
    empty = _per_pixel(pos, classes, (0, 1), (2, 2), extent, categorical=False)
    assert np.isnan(empty[:, 0]).all()  # y = 0.5 falls in the upper of two rows

    rng = np.random.default_rng(2)
    pts = rng.uniform(0, 100, (4000, 3))
    label = (pts[:, 0] > 50).astype(np.uint8) * 4 + 2
    write_points(
        tmp_path / "s.zv",
        pts,
        chunk_shape=(50, 50, 50),
        vertex_attributes={"classification": label},
    )
    for what in ("elevation", "classification"):
        code, out = run(
            "preview", tmp_path / "s.zv", "-o", tmp_path / f"{what}.png", "--colour-by", what
        )
        assert code == 0, out
        assert Image.open(tmp_path / f"{what}.png").size[0] > 100
    code, out = run("preview", tmp_path / "s.zv", "-o", tmp_path / "x.png", "--color-by", "nope")
    assert code != 0 and "no attribute 'nope'" in out and "classification" in out

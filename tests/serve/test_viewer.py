"""A viewer (zarr_vectors.serve.viewer): a real Neuroglancer client in a browser shows the points.

The ``neuroglancer`` package serves its bundled web client; headless Chromium
(Debian's ``chromium``, WebGL through SwiftShader) opens the viewer that
:func:`zarr_vectors.serve.view` made, and the viewer sends back a screenshot
once every visible chunk has loaded (Neuroglancer's own screenshot request, so
no fixed wait). The points are Neuroglancer's default annotation yellow: a
store's screenshot must have many yellow pixels, where the same view of an
empty store has none, and they must lie where the data is.

``ZV_SERVE_SCREENSHOT=path.png`` keeps the store's screenshot (docs/serving.md
shows one made so).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv

pytestmark = pytest.mark.slow
pytest.importorskip("neuroglancer")
from PIL import Image  # noqa: E402

from zarr_vectors.serve import view  # noqa: E402

#: Neuroglancer waits for data before it answers; this only stops a broken run.
SCREENSHOT_DEADLINE = 300.0


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(".ci/run installs Debian's chromium; it is missing", pytrace=False)
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def screenshot(chromium: str, store: str, profile: Path) -> np.ndarray:
    """The viewer's picture of ``store`` (RGB), once all its visible chunks are drawn."""
    with view(store, refresh_interval=0) as session:
        browser = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                "--window-size=1000,800",
                f"--user-data-dir={profile}",
                session.url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            done = threading.Event()
            reply: list[Any] = []

            def received(answer: Any) -> None:
                reply.append(answer)
                done.set()

            session.viewer.async_screenshot(received)
            assert done.wait(SCREENSHOT_DEADLINE), "the browser sent no screenshot"
        finally:
            os.killpg(browser.pid, signal.SIGKILL)  # the browser's own process group
            browser.wait()
    image = Image.open(io.BytesIO(reply[0].screenshot.image)).convert("RGB")
    return np.asarray(image)


def yellow(image: np.ndarray) -> np.ndarray:
    """Where the picture is Neuroglancer's annotation yellow."""
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return (r > 180) & (g > 180) & (b < 100)


def test_the_browser_shows_the_served_points(chromium: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    # A cloud in the left half (x < 500) of a 1000-unit cube, with a coarse level.
    pts = rng.uniform((0, 0, 0), (500, 1000, 1000), (20_000, 3)).astype(np.float32)
    store = str(tmp_path / "cloud.zarrvectors")
    zv.write_points(
        store,
        pts,
        chunk_shape=(125.0, 125.0, 125.0),
        bounds=((0, 0, 0), (1000, 1000, 1000)),
        levels=2,
        vertex_attributes={"intensity": rng.uniform(0, 1, len(pts)).astype(np.float32)},
    )
    empty = str(tmp_path / "empty.zarrvectors")
    zv.write_points(
        empty,
        np.empty((0, 3), np.float32),
        chunk_shape=(125.0, 125.0, 125.0),
        bounds=((0, 0, 0), (1000, 1000, 1000)),
    )
    shown = screenshot(chromium, store, tmp_path / "profile-1")
    blank = screenshot(chromium, empty, tmp_path / "profile-2")
    keep = os.environ.get("ZV_SERVE_SCREENSHOT")
    if keep:
        Image.fromarray(shown).save(keep)
    points, none = yellow(shown), yellow(blank)
    assert none.sum() < 50, f"{none.sum()} yellow pixels without any points"
    assert points.sum() > 5000, f"only {points.sum()} yellow pixels for 20,000 points"
    columns = np.nonzero(points)[1]
    middle = shown.shape[1] / 2
    left = (columns < middle).sum()
    assert left > 0.9 * len(columns), (
        f"the points are in the left half of the cube, but {len(columns) - left} of "
        f"{len(columns)} yellow pixels are right of the middle"
    )


def test_the_viewer_takes_its_dimensions_units_and_centre_from_the_store(tmp_path: Path) -> None:
    store = str(tmp_path / "cloud.zarrvectors")
    pts = np.array([[100, 200, 300], [300, 600, 700]], np.float32)
    axes: list[str | dict[str, str]] = [
        {"name": "x", "unit": "micrometer"},
        {"name": "y", "unit": "nanometer"},
        "z",
    ]
    zv.write_points(store, pts, chunk_shape=(500.0,) * 3, axes=axes)
    with view(store) as session:
        state = session.viewer.state
        dims = state.dimensions.to_json()
        layer = state.layers["points"]
        source = layer.source[0].url if layer.source else ""
        assert session.url.startswith("http://127.0.0.1:")
    assert dims == {"x": [1e-6, "m"], "y": [1e-9, "m"], "z": [1, ""]}
    np.testing.assert_allclose(state.position, [200, 400, 500])
    assert source == session.layer_source

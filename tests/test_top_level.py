"""``import zarr_vectors as zv``: the everyday functions at the top, loaded on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zarr_vectors
from zarr_vectors import lazy
from zarr_vectors.store import api as store_api
from zarr_vectors.types import points


def test_import_stays_light_until_a_function_is_used() -> None:
    code = (
        "import sys, zarr_vectors as zv\n"
        "heavy = [m for m in ('zarr', 'numpy', 'obstore', 'fsspec') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "zv.write_points\n"
        "assert 'numpy' in sys.modules and 'zarr_vectors.types.points' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_top_level_names_are_the_real_functions(tmp_path: Path) -> None:
    import zarr_vectors as zv
    from zarr_vectors import open_zv, read_points  # the form docs/backends.md shows

    assert zv.write_points is points.write_points
    assert read_points is points.read_points
    assert open_zv is lazy.open_zv
    assert zv.open_store is store_api.open_store and zv.create_store is store_api.create_store
    assert {"write_points", "open_zv", "create_store"} <= set(dir(zv))
    pts = np.random.default_rng(0).uniform(0, 10, (100, 3))
    zv.write_points(tmp_path / "s", pts, chunk_shape=(5.0,) * 3)
    assert isinstance(zv.read_points(tmp_path / "s"), zv.PointCloud)
    with zv.open_zv(tmp_path / "s") as store:
        assert store.level(0).vertex_count == 100


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'write_point'"):
        zarr_vectors.write_point  # noqa: B018
    with pytest.raises(ImportError):
        from zarr_vectors import nothing_here  # noqa: F401


def test_the_cli_warns_when_the_published_package_shares_the_environment(tmp_path: Path) -> None:
    """The published zarr-vectors 0.9.2 also installs ``zarr_vectors``: say so, once per command."""
    import os

    dist = tmp_path / "zarr_vectors-0.9.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zarr-vectors\nVersion: 0.9.2\n")
    script = "from zarr_vectors.cli import main; main()"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", script, "backends"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "the published zarr-vectors 0.9.2 is installed" in proc.stderr
    assert "pip uninstall zarr-vectors" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", script, "backends"], capture_output=True, text=True
    )
    assert "published zarr-vectors" not in proc.stderr


#: Public functions whose ``store``/``backend`` are still typed ``Any`` (issue 16 wants
#: ``StoreLike`` and ``str | None``); the curves engineer's modules. Delete a line when fixed.
_LOOSE_STORE: set[str] = set()


def _store_annotations() -> dict[str, tuple[str, str]]:
    """``{public name: (store's annotation, backend's)}`` for the top-level functions."""
    import inspect

    found = {}
    for name in zarr_vectors.__all__:
        value = getattr(zarr_vectors, name)
        params = inspect.signature(value).parameters if inspect.isfunction(value) else {}
        where = next((p for p in ("store", "path") if p in params), None)  # open_* say path
        if where:
            backend = params["backend"].annotation if "backend" in params else "str | None"
            found[name] = (str(params[where].annotation), str(backend))
    return found


def test_every_store_parameter_is_a_store_like_and_backend_a_name() -> None:
    found = _store_annotations()
    assert {"write_points", "read_points", "open_zv", "create_store", "write_mesh"} <= set(found)
    loose = {
        name: annotations
        for name, annotations in found.items()
        if annotations != ("StoreLike", "str | None") and name not in _LOOSE_STORE
    }
    assert not loose, f"type store as StoreLike and backend as str | None: {loose}"
    fixed = {n for n in _LOOSE_STORE if found.get(n) == ("StoreLike", "str | None")}
    assert not fixed, f"delete from _LOOSE_STORE in tests/test_top_level.py: {sorted(fixed)}"

"""One test per user-facing message: what it names, and that it is one line.

* a missing optional library (``MissingExtraError``, one helper for every site);
* a misspelled URL scheme that would otherwise become a local directory;
* a forced backend that does not serve the URL's scheme;
* backend option values of the wrong type;
* ``write-points --shard-shape/--memory-limit/--spill-dir`` values.

Missing libraries are simulated with ``sys.modules[name] = None``, which makes
``import name`` raise a real :class:`ModuleNotFoundError`, as on an install
without the extra. Stores are real local directories; nothing is mocked.
"""

from __future__ import annotations

import pickle
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zarr_vectors._extras import EXTRAS, require
from zarr_vectors.cli import main
from zarr_vectors.exceptions import MissingExtraError, ZarrVectorsError
from zarr_vectors.types.points import PointCloud, read_points, write_points

PYPROJECT = Path(__file__).parents[1] / "packages" / "zarr-vectors-core" / "pyproject.toml"


def run(*args: object) -> tuple[int, str]:
    """Run a command in-process; return (exit code, stdout + stderr)."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def one_line(text: str) -> str:
    assert "\n" not in text.strip(), text
    return text


def hide(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``import module`` (and its submodules) fail as if it were not installed."""
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


def small_store(tmp_path: Path) -> Path:
    store = tmp_path / "s.zarrvectors"
    rng = np.random.default_rng(3)
    write_points(store, rng.uniform(0, 10, (50, 3)), chunk_shape=(5.0, 5.0, 5.0))
    return store


# -- 1. a missing optional library --------------------------------------------------------


def test_the_extras_table_is_pyproject(tmp_path: Path) -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    names = {
        extra: tuple(req.split("[")[0].split(">")[0].split("=")[0].strip() for req in reqs)
        for extra, reqs in declared.items()
    }
    assert names == EXTRAS


def test_missing_extra_error_is_an_import_error_and_pickles() -> None:
    assert issubclass(MissingExtraError, ImportError)
    assert issubclass(MissingExtraError, ZarrVectorsError)
    with pytest.raises(MissingExtraError) as info:
        require("zv_surely_not_installed", feature="a test", extra="io")
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert (copy.feature, copy.library, copy.command) == (
        "a test",
        "zv_surely_not_installed",
        'pip install "zarr-vectors-core[io]"',
    )
    assert copy.name == "zv_surely_not_installed"


def test_to_pandas_without_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = read_points(small_store(tmp_path))
    hide(monkeypatch, "pandas")
    with pytest.raises(MissingExtraError) as info:
        cloud.to_pandas()
    text = one_line(str(info.value))
    assert text.startswith("PointCloud.to_pandas() needs the pandas library")
    assert 'install it with: pip install "zarr-vectors-core[io]"' in text


def test_to_xarray_without_xarray_names_the_xarray_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cloud = PointCloud(np.zeros((2, 3)))
    hide(monkeypatch, "xarray")
    with pytest.raises(MissingExtraError) as info:
        cloud.to_xarray()
    text = one_line(str(info.value))
    assert "PointCloud.to_xarray() needs the xarray library, which is not installed" in text
    assert text.endswith('pip install "zarr-vectors-core[xarray]"')  # not `pip install xarray`


def test_cli_file_reader_without_laspy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in.las").write_bytes(b"LASF")
    hide(monkeypatch, "laspy")
    code, out = run("write-points", tmp_path / "in.las", tmp_path / "s", "-c", "5")
    assert code == 1, out
    assert "Traceback" not in out
    assert (
        "reading .las files needs the laspy library, which is not installed; install it with: "
        'pip install "zarr-vectors-core[io]"'
    ) in out
    assert not (tmp_path / "s").exists()


def test_dask_without_dask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = small_store(tmp_path)
    hide(monkeypatch, "dask")
    with pytest.raises(MissingExtraError) as info:
        read_points(store, as_dask=True)
    text = one_line(str(info.value))
    assert "read_points(..., as_dask=True) needs the dask library" in text
    assert text.endswith('pip install "zarr-vectors-core[dask]"')


def test_a_library_whose_dependency_is_missing_names_the_dependency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As dask.dataframe without pandas: the library is there, one of its imports is not.
    package = tmp_path / "zv_fake_frames"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "frame.py").write_text("import zv_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError) as info:
        require("zv_fake_frames.frame", feature="a Dask DataFrame", extra="dask")
    text = one_line(str(info.value))
    assert "needs the zv_fake_frames library, whose dependency zv_absent_dependency is not " in text


def test_preview_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = small_store(tmp_path)
    hide(monkeypatch, "matplotlib")
    code, out = run("preview", store, "-o", tmp_path / "p.png")
    assert code == 1, out
    assert "Traceback" not in out
    assert (
        "zarr-vectors preview needs the matplotlib library, which is not installed; install it "
        'with: pip install "zarr-vectors-core[viz]"'
    ) in " ".join(out.split())
    assert not (tmp_path / "p.png").exists()


def test_sharding_checksum_without_any_crc32c(monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr_vectors.format import sharding

    hide(monkeypatch, "google_crc32c")
    hide(monkeypatch, "crc32c")
    with pytest.raises(MissingExtraError) as info:
        sharding.crc32c(b"abc")
    text = one_line(str(info.value))
    assert "sharded cell arrays (CRC-32C checksums) needs the google-crc32c library" in text
    assert text.endswith('install it with: pip install "google-crc32c"')


def test_a_library_that_fails_to_import_is_not_called_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "zv_broken_lib.py").write_text("raise ImportError('libfrob.so: cannot open')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError) as info:
        require("zv_broken_lib", feature="a test", extra="viz")
    text = one_line(str(info.value))
    assert "installed but fails to import (ImportError: libfrob.so: cannot open)" in text
    assert "not installed" not in text


def test_an_unknown_extra_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no extra 'nosuch'"):
        require("json", feature="a test", extra="nosuch")

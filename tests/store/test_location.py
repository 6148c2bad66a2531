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
from zarr_vectors.exceptions import (
    BackendOptionError,
    MissingExtraError,
    StoreError,
    ZarrVectorsError,
)
from zarr_vectors.storage import make_backend, resolve_backend_name
from zarr_vectors.storage.resolve import check_url_spelling
from zarr_vectors.types.points import PointCloud, read_points, write_points

PYPROJECT = Path(__file__).parents[2] / "packages" / "zarr-vectors-core" / "pyproject.toml"


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


# -- 2. a misspelled URL scheme is not a local path ---------------------------------------

POINTS = np.random.default_rng(5).uniform(0, 10, (40, 3))


@pytest.mark.parametrize(
    ("url", "meant"),
    [
        ("s3:/bucket/x", "s3://bucket/x"),
        ("s3//bucket/x", "s3://bucket/x"),
        ("s3:bucket/x", "s3://bucket/x"),
        ("S3:/bucket/x", "s3://bucket/x"),
        ("gs:/bucket/x", "gs://bucket/x"),
        ("https:/host/data", "https://host/data"),
        ("file:/tmp/x", "file:///tmp/x"),
    ],
)
def test_a_scheme_without_its_slashes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, meant: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as info:
        write_points(url, POINTS, chunk_shape=(5.0, 5.0, 5.0))
    text = one_line(str(info.value))
    assert f"did you mean '{meant}'?" in text
    assert f"write './{url}'" in text  # the way to mean a local folder after all
    assert list(tmp_path.iterdir()) == [], "nothing may be written for a misspelled URL"
    with pytest.raises(StoreError, match="did you mean"):
        read_points(url)


@pytest.mark.parametrize(
    ("url", "meant"),
    [("htps://host/x", "https://host/x"), ("s4://b/x", "s3://b/x"), ("memroy://m", "memory://m")],
)
def test_an_unknown_scheme_close_to_a_known_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, meant: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as info:
        write_points(url, POINTS, chunk_shape=(5.0, 5.0, 5.0))
    text = one_line(str(info.value))
    assert text.startswith(f"Unknown URL scheme '{url.split(':')[0]}://'")
    assert text.endswith(f"did you mean '{meant}'?")
    assert list(tmp_path.iterdir()) == []


def test_a_misspelled_url_keeps_its_credentials_hidden() -> None:
    for url in ("https:/user:hunter2@host/x", "htps://host/x?sig=topsecretsig"):
        with pytest.raises(StoreError) as info:
            check_url_spelling(url)
        assert "hunter2" not in str(info.value) and "topsecretsig" not in str(info.value)
        assert "***" in str(info.value)


@pytest.mark.parametrize(
    "name", ["notes:1", "data/s3/x", "s3/bucket", "./s3:/bucket", "report:v2.zarr", "s3a"]
)
def test_real_local_paths_still_write_and_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write_points(name, POINTS, chunk_shape=(5.0, 5.0, 5.0))
    assert (tmp_path / name / "zarr.json").is_file()
    assert len(read_points(name)) == len(POINTS)
    write_points(tmp_path / "abs" / name, POINTS, chunk_shape=(5.0, 5.0, 5.0))
    assert len(read_points(str(tmp_path / "abs" / name))) == len(POINTS)


@pytest.mark.parametrize("url", ["C:\\data\\x", "c:/data/x", "D:", "C:data"])
def test_windows_drive_letters_are_paths(url: str) -> None:
    check_url_spelling(url)
    assert resolve_backend_name(url) == "local"


@pytest.mark.parametrize("url", ["s3a://bucket/x", "abfss://c@a.dfs.core.windows.net/x"])
def test_real_schemes_near_others_are_not_misspellings(url: str) -> None:
    check_url_spelling(url)
    assert resolve_backend_name(url) == "obstore"


def test_an_unknown_scheme_far_from_any_keeps_the_usual_message() -> None:
    with pytest.raises(StoreError) as info:
        make_backend("foo://x/y")
    assert "did you mean" not in str(info.value)
    assert "No installed zarr-vectors backend serves 'foo://'" in str(info.value)


# -- 3. a backend chosen by name that does not serve the URL ------------------------------


def test_backend_local_for_an_s3_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZARR_VECTORS_BACKEND", raising=False)
    with pytest.raises(StoreError) as info:
        write_points("s3://bucket/x", POINTS, chunk_shape=(5.0, 5.0, 5.0), backend="local")
    text = one_line(str(info.value))
    assert text.startswith(
        "The 'local' backend (backend='local') cannot serve 's3://bucket/x': it serves bare "
        "paths and 'file://', not 's3://'."
    )
    assert "Backends installed for 's3://': obstore, fsspec; pass backend='obstore'" in text
    assert list(tmp_path.iterdir()) == [], "no folder 's3:' may be made"


def test_the_environment_variable_is_named_when_it_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZARR_VECTORS_BACKEND", "local")
    with pytest.raises(StoreError) as info:
        make_backend("gs://bucket/x")
    text = one_line(str(info.value))
    assert "(ZARR_VECTORS_BACKEND=local) cannot serve 'gs://bucket/x'" in text
    assert text.endswith("or unset ZARR_VECTORS_BACKEND.")
    assert list(tmp_path.iterdir()) == []


def test_a_scheme_nobody_serves_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZARR_VECTORS_BACKEND", raising=False)
    with pytest.raises(StoreError) as info:
        make_backend("zvnothing://x", backend="local")
    assert "No installed backend serves 'zvnothing://'" in one_line(str(info.value))


def test_local_paths_still_go_to_a_chosen_backend(tmp_path: Path) -> None:
    made = make_backend(tmp_path.as_uri() + "/s", backend="local")
    made.close()
    made = make_backend(str(tmp_path / "s"), backend="local")
    made.close()


# -- 4. backend option values of the wrong type --------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "fix"),
    [
        ("8", "a str", "pass the number, not a string: max_concurrency=8."),
        (0, "an int below 1", "e.g. max_concurrency=8."),
        (-1, "an int below 1", "e.g. max_concurrency=8."),
        (2.5, "a float", "e.g. max_concurrency=8."),
        (True, "a bool", "e.g. max_concurrency=8."),
    ],
)
def test_max_concurrency_of_the_wrong_type(
    tmp_path: Path, value: object, kind: str, fix: str
) -> None:
    with pytest.raises(BackendOptionError) as info:
        write_points(tmp_path / "s", POINTS, chunk_shape=(5.0, 5.0, 5.0), max_concurrency=value)
    text = one_line(str(info.value))
    assert text.startswith(f"max_concurrency must be an integer >= 1, got {value!r} ({kind});")
    assert text.endswith(fix)
    assert not (tmp_path / "s").exists()


def test_max_concurrency_takes_numpy_integers(tmp_path: Path) -> None:
    made = make_backend(tmp_path, max_concurrency=np.int64(3))
    assert made.max_concurrency == 3 and type(made.max_concurrency) is int
    made.close()


@pytest.mark.parametrize("value", ["false", 1, None])
def test_fsync_must_be_a_bool(tmp_path: Path, value: object) -> None:
    with pytest.raises(BackendOptionError) as info:
        write_points(tmp_path / "s", POINTS, chunk_shape=(5.0, 5.0, 5.0), fsync=value)
    text = one_line(str(info.value))
    assert text.startswith(f"fsync must be True or False, got {value!r} (a {type(value).__name__})")
    assert not (tmp_path / "s").exists()


def test_cli_option_of_the_wrong_type_exits_2(tmp_path: Path) -> None:
    np.save(tmp_path / "in.npy", POINTS)
    code, out = run(
        "write-points", tmp_path / "in.npy", tmp_path / "s", "-c", "5",
        "--option", "max_concurrency=many",
    )  # fmt: skip
    assert code == 2, out
    assert "max_concurrency must be an integer >= 1, got 'many' (a str)" in out
    assert "Traceback" not in out and not (tmp_path / "s").exists()


# -- 5. write-points --memory-limit / --shard-shape / --spill-dir ---------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--memory-limit", "8MB"],
            "Error: Invalid value for '--memory-limit': '8MB': give a size of at least 16 MiB, "
            "in bytes or with a unit, e.g. 536870912, 512MB or 1GiB",
        ),
        (
            ["--shard-shape", "x"],
            "Error: Invalid value for '--shard-shape': 'x': give whole numbers of cells per "
            "shard >= 1, e.g. 8 or 8,8,4",
        ),
        (
            ["--shard-shape", "2,2"],
            "Error: --shard-shape must be a positive number of cells per shard, one int or 3 "
            "ints (one per axis), got (2, 2)",
        ),
    ],
)
def test_write_points_storage_option_messages(tmp_path: Path, args: list[str], line: str) -> None:
    np.save(tmp_path / "in.npy", POINTS)
    code, out = run("write-points", tmp_path / "in.npy", tmp_path / "s", "-c", "5", *args)
    assert code == 2, out
    assert line in out.splitlines()
    assert "Traceback" not in out and not (tmp_path / "s").exists()


# -- 6. the core README names every extra (it is shown on the package index) ---------------


def test_core_readme_lists_every_extra_with_absolute_links() -> None:
    import re

    readme = (PYPROJECT.parent / "README.md").read_text()
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    for extra in declared:
        assert f'| `{extra}` | `pip install "zarr-vectors-core[{extra}]"` |' in readme, extra
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert links and all(link.startswith("https://") for link in links), links

"""Optional libraries (zarr_vectors._extras): import one, or say how to install what is missing.

The store API's conveniences (ZIP, xarray, summaries) are in tests/store/test_extras.py.
Broken libraries are made in a temporary directory put on ``sys.path``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from zarr_vectors._extras import distribution_of, install_command, require
from zarr_vectors.exceptions import MissingExtraError


def test_an_installed_library_is_returned() -> None:
    import json

    assert require("json", feature="reading", extra=None) is json


def test_a_missing_library_names_the_feature_and_the_extra_to_install() -> None:
    with pytest.raises(MissingExtraError) as caught:
        require("zv_no_such_library.sub", feature="reading .xyz files", extra="dask")
    error = caught.value
    assert isinstance(error, ImportError)
    assert str(error) == (
        "reading .xyz files needs the zv_no_such_library library, which is not installed; "
        'install it with: pip install "zarr-vectors-core[dask]"'
    )
    assert (error.feature, error.library) == ("reading .xyz files", "zv_no_such_library")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_missing_dependency_and_a_failing_import_are_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "zv_needs_dep.py").write_text("import zv_absent_dependency\n")
    (tmp_path / "zv_breaks.py").write_text("raise ImportError('bad build\\n of it')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtraError, match="whose dependency zv_absent_dependency is not"):
        require("zv_needs_dep", feature="f", extra=None)
    with pytest.raises(
        MissingExtraError, match=r"fails to import \(ImportError: bad build of it\)"
    ):
        require("zv_breaks", feature="f", extra=None)


def test_distributions_and_install_commands() -> None:
    assert distribution_of("google_crc32c") == "google-crc32c"
    assert distribution_of("trx.trx_file_memmap") == "trx-python"
    assert distribution_of("laspy.header") == "laspy"
    assert install_command(None, "numpy") == 'pip install "numpy"'
    with pytest.raises(ValueError, match="has no extra 'nope'"):
        install_command("nope")

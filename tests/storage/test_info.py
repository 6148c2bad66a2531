"""What the registry knows of a backend before importing it (zarr_vectors.storage.info)."""

from __future__ import annotations

import pytest

from zarr_vectors.storage.info import BackendInfo
from zarr_vectors.storage.local import LocalBackend


def test_schemes_are_lower_case_and_served_in_any_case() -> None:
    info = BackendInfo(
        "x", ("S3", "", "File"), "m:f", local_schemes=("FILE",), object_store_schemes=("S3",)
    )
    assert info.schemes == ("s3", "", "file")
    assert info.local_schemes == ("file",) and info.object_store_schemes == ("s3",)
    assert info.serves("s3") and info.serves("S3") and info.serves("")
    assert not info.serves("gs")


def test_factories_are_imported_only_when_loaded() -> None:
    info = BackendInfo("local", ("",), "zarr_vectors.storage.local:LocalBackend")
    assert info.load_factory() is LocalBackend
    made = BackendInfo("mine", ("",), LocalBackend)
    assert made.load_factory() is LocalBackend  # a callable is taken as it is
    with pytest.raises(ModuleNotFoundError):
        BackendInfo("gone", ("",), "no_such_module_zv:Backend").load_factory()
    with pytest.raises(TypeError, match="is not callable"):
        BackendInfo("odd", ("",), "zarr_vectors.storage.runner:EXECUTOR_THREADS").load_factory()


def test_an_adopter_is_loaded_by_name_or_refused_when_there_is_none() -> None:
    info = BackendInfo("a", ("",), "m:f", adopt="zarr_vectors.storage.info:BackendInfo.serves")
    assert info.load_adopter() is BackendInfo.serves  # dotted attributes are followed
    with pytest.raises(TypeError, match="backend 'b' adopts no objects"):
        BackendInfo("b", ("",), "m:f").load_adopter()

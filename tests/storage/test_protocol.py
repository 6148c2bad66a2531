"""The storage protocol (zarr_vectors.storage.protocol): what a backend is, its missing key.

Behaviour behind the protocol is the kit's (tests/testing/) and each backend's;
here what the declarations themselves promise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_vectors.exceptions import MissingKeyError
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.storage.protocol import (
    AsyncStorageBackend,
    ObjectInfo,
    StorageBackend,
    missing_key,
)


def test_a_missing_key_is_a_key_error_naming_key_and_store() -> None:
    error = missing_key("0/vertices/c/1", "s3://bucket/store")
    assert isinstance(error, KeyError) and isinstance(error, MissingKeyError)
    assert str(error) == "'0/vertices/c/1' not found in s3://bucket/store"


def test_the_protocols_are_checked_at_run_time(tmp_path: Path) -> None:
    with LocalBackend(tmp_path) as backend:
        assert isinstance(backend, StorageBackend) and isinstance(backend, AsyncStorageBackend)
    assert not isinstance(object(), StorageBackend)
    assert not isinstance({"k": b"v"}, AsyncStorageBackend)


def test_object_info_is_a_value() -> None:
    info = ObjectInfo("k", 3)
    assert info.version is None and info == ObjectInfo("k", 3, None)
    with pytest.raises(AttributeError):
        info.size = 4  # type: ignore[misc]

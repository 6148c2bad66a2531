"""The storage protocol under its design-document path; it lives in :mod:`zarr_vectors.storage`."""

from typing import Any

from zarr_vectors import storage as _storage
from zarr_vectors.storage import *  # noqa: F403
from zarr_vectors.storage import __all__ as __all__


def __getattr__(name: str) -> Any:
    # The scheme tables are computed on access by the storage package itself.
    return getattr(_storage, name)

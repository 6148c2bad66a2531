"""The storage protocol under its design-document path (now :mod:`zarr_vectors.storage.base`)."""

from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.base import *  # noqa: F403
from zarr_vectors.storage.base import __all__ as _base_names

__all__ = [*_base_names, "AsyncBackend"]

"""The storage protocol under its design-document path; it lives in :mod:`zarr_vectors.storage.base`."""

from zarr_vectors.storage.base import *  # noqa: F403
from zarr_vectors.storage.base import __all__ as __all__

"""The store API under its design-document path; it lives in :mod:`zarr_vectors.store`."""

from zarr_vectors.store.api import *  # noqa: F403
from zarr_vectors.store.api import __all__ as __all__

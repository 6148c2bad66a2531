"""The store layer: turning what a caller passes into one store location, and the store API.

Built on :mod:`zarr_vectors.format` and :mod:`zarr_vectors.storage`; the geometry
types (:mod:`zarr_vectors.types`) build on it. :mod:`zarr_vectors.store.location`
is the one place a store argument (path, URL, backend, zarr store, ...) is
resolved.
"""

from zarr_vectors.store.api import (
    as_zarr_store,
    consolidate_metadata,
    create_store,
    open_store,
    read_metadata,
    verify_store,
)
from zarr_vectors.store.location import StoreLike, StoreLocation

__all__ = [
    "StoreLike",
    "StoreLocation",
    "as_zarr_store",
    "consolidate_metadata",
    "create_store",
    "open_store",
    "read_metadata",
    "verify_store",
]

"""Import paths of the design document, kept for code written against them.

``zarr_vectors.core.backends`` (the storage protocol, now :mod:`zarr_vectors.storage`)
and ``zarr_vectors.core.store`` (the store API, now :mod:`zarr_vectors.store`) re-export
the same objects; nothing inside the library imports from here.
"""

"""The version of the zarr-vectors-core distribution (kept in one place)."""

__version__ = "0.1.0"

#: The Zarr Vectors on-disk format version this package writes.
FORMAT_VERSION = "0.9.2"

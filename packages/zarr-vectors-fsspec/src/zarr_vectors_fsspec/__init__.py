"""zarr-vectors backend over fsspec (any fsspec protocol: S3, GCS, Azure, SFTP, memory...).

Importing this package is cheap; fsspec itself is imported by
:mod:`zarr_vectors_fsspec.backend` when a backend is constructed.
"""

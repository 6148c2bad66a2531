"""zarr-vectors backend over obstore (S3, GCS, Azure Blob, HTTP).

Importing this package is cheap; obstore itself is imported by
:mod:`zarr_vectors_obstore.backend` when a backend is constructed.
"""

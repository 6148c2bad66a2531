"""What the registry and resolution tests share: the cloud schemes, a quiet rediscovery."""

from __future__ import annotations

import warnings

from zarr_vectors.exceptions import BackendPluginWarning
from zarr_vectors.storage import refresh_backends

#: Schemes an object-store plugin serves (obstore first, fsspec as the fallback).
CLOUD = ["s3", "gs", "gcs", "az", "azure", "abfs", "http", "https"]


def rediscover() -> None:
    """Discover the plugins again after the environment changed, without their warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BackendPluginWarning)
        refresh_backends()

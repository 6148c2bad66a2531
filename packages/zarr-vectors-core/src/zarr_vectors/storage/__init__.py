"""Storage backends: the protocol, the built-in local backend and the plugin registry.

The scheme tables below are computed from the installed plugins on first access
(and recomputed after :func:`refresh_backends`); nothing here lists cloud
schemes by hand:

* ``SCHEMES_LOCAL``: schemes that address the local file system (``""`` is a bare path).
* ``SCHEMES_OBJECT_STORE``: schemes that address object stores.
* ``SCHEME_BACKENDS``: scheme -> backend names, best first.
"""

from __future__ import annotations

from typing import Any

from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.base import (
    AsyncStorageBackend,
    Backend,
    ObjectInfo,
    StorageBackend,
    children_of,
    missing_key,
)
from zarr_vectors.storage.info import BackendInfo
from zarr_vectors.storage.keys import normalize_prefix, validate_key
from zarr_vectors.storage.registry import (
    PluginRecord,
    get_backend_info,
    get_registry,
    list_backends,
    refresh_backends,
)
from zarr_vectors.storage.resolve import (
    BACKEND_ENV_VAR,
    make_backend,
    resolve_backend_name,
    url_scheme,
)

__all__ = [
    "BACKEND_ENV_VAR",
    "SCHEMES_LOCAL",
    "SCHEMES_OBJECT_STORE",
    "SCHEME_BACKENDS",
    "AsyncBackend",
    "AsyncStorageBackend",
    "Backend",
    "BackendInfo",
    "ObjectInfo",
    "PluginRecord",
    "StorageBackend",
    "children_of",
    "get_backend_info",
    "get_registry",
    "list_backends",
    "make_backend",
    "missing_key",
    "normalize_prefix",
    "refresh_backends",
    "resolve_backend_name",
    "url_scheme",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    registry = get_registry()
    if name == "SCHEMES_LOCAL":
        return registry.schemes_where("local_schemes")
    if name == "SCHEMES_OBJECT_STORE":
        return registry.schemes_where("object_store_schemes")
    if name == "SCHEME_BACKENDS":
        return dict(registry.scheme_table)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

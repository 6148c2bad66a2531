"""Using an obstore store the caller made as a zarr-vectors store.

The core hands objects from the ``obstore`` package to :func:`adopt_store`
(``BackendInfo.adopts`` in :mod:`zarr_vectors_obstore.info`), so that
``write_points(S3Store(...), pts)``, ``read_points(store)`` and
``open_zv(store)`` work. S3, GCS, Azure, HTTP and memory stores are driven by
:class:`~zarr_vectors_obstore.backend.ObstoreBackend` as they are; a
``LocalStore`` is a directory, which the core's own local backend serves (with
its atomic writes). The caller's store is never closed or reconfigured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.base import Backend

__all__ = ["adopt_store"]

#: Options that still apply to a store made by the caller (they are the backend's own).
_ADOPTED_OPTIONS = frozenset({"max_concurrency", "verify_prefixes"})


def _check_options(store: Any, options: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        kept = ", ".join(sorted(allowed)) or "none"
        raise BackendOptionError(
            f"The option(s) {', '.join(unknown)} were given with an obstore "
            f"{type(store).__name__}, which is used as it is made; configure it when making it "
            f"(config, client_options=..., retry_config=...). Options that apply: {kept}."
        )


def adopt_store(store: Any, **options: Any) -> Backend | None:
    """A backend over ``store`` if it is an obstore store, else ``None``.

    ``options`` may be ``max_concurrency`` and ``verify_prefixes`` (for a
    ``LocalStore``: ``max_concurrency``); anything else configures the store
    and belongs where the store is made, so it is refused.
    """
    from obstore.store import AzureStore, GCSStore, HTTPStore, LocalStore, MemoryStore, S3Store

    if isinstance(store, LocalStore):
        from zarr_vectors.storage.local import LocalBackend

        _check_options(store, options, frozenset({"max_concurrency"}))
        return LocalBackend(str(store.prefix or "/"), **options)
    if isinstance(store, S3Store | GCSStore | AzureStore | HTTPStore | MemoryStore):
        from zarr_vectors_obstore.backend import ObstoreBackend

        _check_options(store, options, _ADOPTED_OPTIONS)
        return ObstoreBackend.from_store(store, **options)
    return None  # e.g. obstore.fsspec's file system: the fsspec plugin's to adopt

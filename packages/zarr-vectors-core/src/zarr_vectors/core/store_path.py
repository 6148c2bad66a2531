"""Turning whatever a caller passes as ``path`` into one zarr-python store.

Every public entry point (``create_store``, ``open_store``, ``open_zv``,
``write_points``, ``read_points``) accepts the same kinds of ``path``; this
module is the single place that decides what each one means:

* a zarr-python store (any :class:`zarr.abc.store.Store`: ``MemoryStore``,
  ``LocalStore``, ``ZipStore``, ...) is used as it is;
* a local ``*.zip`` file (bare path or ``file://``) opens zarr-python's
  :class:`~zarr.storage.ZipStore`, read-only;
* an already made backend, a ``str``, a :class:`pathlib.Path` or a URL is
  turned into a backend by :func:`~zarr_vectors.core.backends.make_backend`
  (``backend=`` and ``**backend_kwargs`` choose and configure it) and wrapped in
  the one bridge, :class:`~zarr_vectors.core.zarr_store.BackendStore`.

Whether the caller means to write is checked here, before anything is touched:
a writing mode on something that can only be read raises
:class:`~zarr_vectors.exceptions.ReadOnlyBackendError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zarr_vectors.core.backends.base import AsyncStorageBackend, StorageBackend
from zarr_vectors.core.secrets import redact_url
from zarr_vectors.exceptions import (
    BackendOptionError,
    ReadOnlyBackendError,
    StoreError,
    ValidationError,
)

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = ["MODES", "WRITE_MODES", "as_zarr_store"]

#: Every mode the store API takes: read, read/write an existing store, append
#: (create if missing), replace, create (fail if something is there).
MODES = ("r", "r+", "a", "w", "w-")
#: The modes that may change the store.
WRITE_MODES = ("r+", "a", "w", "w-")


def as_zarr_store(
    path: Any, *, mode: str, backend: str | None = None, **backend_kwargs: Any
) -> Store:
    """The zarr-python store for ``path``, opened for ``mode``.

    Parameters
    ----------
    path:
        A zarr store, a backend, a local path (``str`` or :class:`~pathlib.Path`)
        or a URL (``file://``, ``s3://``, ``gs://``, ``az://``, ``http(s)://``,
        and whatever installed plugins serve).
    mode:
        One of :data:`MODES`. ``"r"`` gives a read-only store; the others a
        writable one, and raise :class:`ReadOnlyBackendError` at once when the
        location cannot be written (HTTP, a ZIP archive, a read-only zarr store).
    backend, backend_kwargs:
        Choose and configure the backend, as for
        :func:`~zarr_vectors.core.backends.make_backend`; not accepted together
        with an already made zarr store.
    """
    from zarr.abc.store import Store

    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    writing = mode in WRITE_MODES
    if isinstance(path, Store):
        _no_options(backend, backend_kwargs, f"a zarr store ({type(path).__name__})")
        if writing and path.read_only:
            raise ReadOnlyBackendError(
                f"The zarr store {_describe(path)} was opened read-only and mode {mode!r} would "
                "write to it; pass a writable store (read_only=False) or use mode='r'."
            )
        return path
    zip_path = _zip_path(path) if backend is None else None
    if zip_path is not None:
        return _open_zip(zip_path, mode, backend_kwargs)
    return _bridge(path, mode, backend, backend_kwargs)


def _bridge(path: Any, mode: str, backend: str | None, backend_kwargs: dict[str, Any]) -> Store:
    from zarr_vectors.core.backends.resolve import make_backend
    from zarr_vectors.core.zarr_store import BackendStore

    if not isinstance(path, str | os.PathLike | StorageBackend | AsyncStorageBackend):
        raise StoreError(
            f"Cannot open a store from a {type(path).__name__}; pass a local path, a URL "
            "(s3://, gs://, az://, http(s)://, file://), a zarr-vectors backend or a zarr store."
        )
    if isinstance(path, StorageBackend | AsyncStorageBackend) and backend is not None:
        _no_options(backend, {}, f"an already made backend ({path!r})")
    made = make_backend(path, backend, **backend_kwargs)
    if mode in WRITE_MODES and not getattr(made, "writable", True):
        raise ReadOnlyBackendError(
            f"{made.url} is served by the read-only {getattr(made, 'backend_name', '?')!r} "
            f"backend and mode {mode!r} would write to it; write to a writable location "
            "(a local path, s3://, gs://, az://) or use mode='r'."
        )
    return BackendStore(made, read_only=mode == "r")


def _zip_path(path: Any) -> Path | None:
    """The local file ``path`` names, if it is a ZIP archive (``*.zip`` and not a directory)."""
    if not isinstance(path, str | os.PathLike):
        return None
    from zarr_vectors.core.backends.local import local_path_from_url
    from zarr_vectors.core.backends.resolve import url_scheme

    if url_scheme(path) not in ("", "file") or not os.fspath(path).lower().endswith(".zip"):
        return None
    local = local_path_from_url(path)
    return None if local.is_dir() else local


def _open_zip(path: Path, mode: str, backend_kwargs: dict[str, Any]) -> Store:
    from zarr.storage import ZipStore

    _no_options(None, backend_kwargs, f"a ZIP archive ({path})")
    if mode in WRITE_MODES:
        raise ReadOnlyBackendError(
            f"{path} is a ZIP archive, which is opened read-only; mode {mode!r} would write to "
            "it. Write the store to a directory and zip that directory afterwards."
        )
    if not path.is_file():
        raise StoreError(f"No ZIP archive at {path}; check the path.")
    return ZipStore(path, mode="r", read_only=True)


def _no_options(backend: str | None, backend_kwargs: dict[str, Any], what: str) -> None:
    if backend is not None or backend_kwargs:
        given = sorted(backend_kwargs) + ([f"backend={backend!r}"] if backend else [])
        raise BackendOptionError(
            f"Backend options ({', '.join(given)}) were given for {what}, which is used as it "
            "is; configure it when making it, or pass a path or URL instead."
        )


def _describe(store: Store) -> str:
    text = str(store)
    return redact_url(text) if "://" in text else text

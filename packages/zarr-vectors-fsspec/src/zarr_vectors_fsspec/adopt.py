"""Adopting a caller's fsspec object as a store: ``(fs, "bucket/path")`` or an ``FSMap``.

The target of the fsspec backend's ``BackendInfo.adopt`` (see :mod:`zarr_vectors_fsspec.info`).
"""

from __future__ import annotations

from typing import Any

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors_fsspec.backend import FsspecBackend

__all__ = ["adopt"]


def adopt(obj: object, **options: Any) -> FsspecBackend | None:
    """The backend for a caller's fsspec object: ``(fs, "bucket/path")`` or an ``FSMap``.

    The target of :attr:`BackendInfo.adopt <zarr_vectors.storage.info.BackendInfo>`.
    ``options`` are the backend's own (``max_concurrency``, ``timeout``,
    ``verify_prefixes``); the file system is configured already. Returns None
    for an object that is no fsspec file system or mapping.
    """
    from fsspec.mapping import FSMap  # type: ignore[import-untyped]
    from fsspec.spec import AbstractFileSystem  # type: ignore[import-untyped]

    if isinstance(obj, FSMap):
        fs, path = obj.fs, obj.root
    elif isinstance(obj, tuple):
        if len(obj) != 2 or not isinstance(obj[0], AbstractFileSystem):
            return None
        fs, path = obj
        if not isinstance(path, str):
            raise StoreError(
                f"An fsspec store is given as (file_system, path) with path a string such as "
                f"'bucket/stores/a.zv', got a {type(path).__name__} as the path."
            )
    elif isinstance(obj, AbstractFileSystem):
        raise StoreError(
            f"An fsspec file system ({type(obj).__name__}) names no store by itself; pass "
            "(fs, 'bucket/stores/a.zv') or fs.get_mapper('bucket/stores/a.zv')."
        )
    else:
        return None
    unknown = sorted(set(options) - set(_ADOPT_OPTIONS))
    if unknown:
        raise BackendOptionError(
            f"Options ({', '.join(unknown)}) were given with an fsspec {type(obj).__name__}, "
            "whose file system is configured already; pass them when making the file system. "
            f"Only the backend's own options apply: {', '.join(_ADOPT_OPTIONS)}."
        )
    return FsspecBackend.from_filesystem(fs, path, **options)


#: The options :func:`adopt` takes (the backend's own; the rest belong to the file system).
_ADOPT_OPTIONS = ("max_concurrency", "timeout", "verify_prefixes")

"""The byte-level storage protocol every zarr-vectors backend implements.

A backend is a key/value store of bytes rooted at one URL. Keys are
'/'-separated relative paths (see :mod:`zarr_vectors.storage.keys`).
Two protocols describe it: :class:`StorageBackend` (blocking calls) and
:class:`AsyncStorageBackend` (their ``a``-prefixed coroutine twins). Every
concrete backend implements both, usually by subclassing
:class:`~zarr_vectors.storage.base.Backend`, which validates keys before any
storage is touched and supplies correct (if not the fastest) defaults for the
batch and prefix operations.

Semantics, held by every backend and checked by the conformance kit
(:mod:`zarr_vectors.testing`):

* ``get_bytes`` / ``get_range`` of a missing key raise :class:`KeyError`
  (:class:`~zarr_vectors.exceptions.MissingKeyError`).
* ``get_range(key, start, length)`` returns the bytes ``[start, start+length)``,
  fewer if the object ends first, and ``b""`` when ``start`` is at or past the
  end; ``length=None`` reads to the end.
  A range the storage refuses because it starts past the end, and the 404 some
  S3 servers give a range of an empty object, are settled here once: the base
  class confirms with a ``head`` and answers ``b""`` or :class:`KeyError`.
* ``head(key)`` returns an :class:`ObjectInfo`: the size and, where the storage
  has one, a version token (an ETag) that changes whenever the object does.
* ``put_bytes`` overwrites; a put is visible to the next get.
* ``put_if(key, data, expect=...)`` is a conditional write, offered where the
  storage has one (``conditional_writes = True``): it stores ``data`` only if
  the object's current version is ``expect`` (``None``: only if no object is
  there) and returns the new version; otherwise it raises
  :class:`~zarr_vectors.exceptions.PreconditionFailedError` and changes
  nothing. Writers build their locks and commits on it.
* ``delete`` of a missing key is silent; ``delete_many(keys)`` removes many keys
  in as few requests as the storage allows (S3's DeleteObjects takes 1,000).
* ``move_many(pairs)`` moves each source key to its destination key: the
  destination is replaced if it exists, the source is gone afterwards. A pair
  whose source is missing is skipped (it was moved already: a move interrupted
  by a crash is finished by running it again). The base class copies through
  the client (get, put, delete, in bounded batches); backends override it with
  what the storage does better (a rename, a server-side copy).
* A prefix names a directory: ``"a"`` and ``"a/"`` both mean the keys under
  ``a/``. ``delete_prefix("a")`` never touches ``ab`` nor the key ``a`` itself;
  ``delete_prefix("")`` empties the store.
* ``list_prefix(prefix)`` yields full keys (relative to the root) of the
  immediate children of ``prefix``: objects as ``"a/x"``, containers as
  ``"a/sub/"`` (trailing '/'). ``recursive=True`` yields every object key under
  the prefix and no containers. Order is sorted.
* ``get_many(keys)`` returns a dict of the keys that exist (missing keys are
  left out, because sparse chunk grids are the normal case); ``put_many``
  writes every item, and when a key is repeated in one batch the last value
  wins. Both run concurrently (at most ``max_concurrency`` calls in flight,
  through :mod:`zarr_vectors.storage.concurrency`).
* A missing bucket or container is not a missing key: on the first not-found,
  the base class asks :meth:`Backend._root_exists` once and raises
  :class:`~zarr_vectors.exceptions.StoreError` if the root is gone.
* ``close()`` releases resources; backends are (async) context managers.
  Subclasses release theirs in :meth:`Backend._close` (and ``_aclose``), which
  ``close()``, ``aclose()`` and both ``with`` forms reach exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from zarr_vectors.exceptions import MissingKeyError

__all__ = [
    "AsyncStorageBackend",
    "BatchItems",
    "MovePairs",
    "ObjectInfo",
    "StorageBackend",
    "missing_key",
]

#: ``put_many``'s argument: key -> bytes, as a mapping or pairs.
BatchItems = Mapping[str, bytes] | Iterable[tuple[str, bytes]]
#: ``move_many``'s argument: source key -> destination key, as a mapping or pairs.
MovePairs = Mapping[str, str] | Iterable[tuple[str, str]]
#: Objects the default ``move_many`` holds in memory at once (read, written, then deleted).


@dataclass(frozen=True)
class ObjectInfo:
    """What ``head`` tells about one stored object."""

    key: str
    #: Length in bytes.
    size: int
    #: A token that changes whenever the object does (an ETag on object stores),
    #: or ``None`` where the storage has none.
    version: str | None = None


@runtime_checkable
class StorageBackend(Protocol):
    """Blocking byte-level key/value store rooted at :attr:`url`."""

    @property
    def url(self) -> str:
        """The URL (or path) of the store root, with credentials redacted."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object at ``key``; raise :class:`KeyError` if missing."""
        ...

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        """Return ``length`` bytes from ``start`` (fewer at the end); KeyError if missing."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``, replacing any previous object."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        ...

    def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        """Store ``data`` only if ``key``'s version is ``expect`` (None: absent); new version."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Size and version of the object at ``key``; raise :class:`KeyError` if missing."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; silent if it does not exist."""
        ...

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove several keys (missing ones are fine), in as few requests as possible."""
        ...

    def move_many(self, pairs: MovePairs) -> None:
        """Move each source key to its destination (replaced); missing sources are skipped."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under the directory ``prefix``."""
        ...

    def list_prefix(self, prefix: str, recursive: bool = False) -> Iterator[str]:
        """Yield children of ``prefix`` (containers end in '/'), or all keys if recursive."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Fetch several objects concurrently; missing keys are left out."""
        ...

    def put_many(self, items: BatchItems) -> None:
        """Store several objects concurrently."""
        ...

    def close(self) -> None:
        """Release connections, files and threads."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class AsyncStorageBackend(Protocol):
    """The coroutine twin of :class:`StorageBackend`; same semantics."""

    @property
    def url(self) -> str: ...

    async def aget_bytes(self, key: str) -> bytes: ...

    async def aget_range(self, key: str, start: int, length: int | None = None) -> bytes: ...

    async def aput_bytes(self, key: str, data: bytes) -> None: ...

    async def aexists(self, key: str) -> bool: ...

    async def aput_if(self, key: str, data: bytes, *, expect: str | None) -> str: ...

    async def ahead(self, key: str) -> ObjectInfo: ...

    async def adelete(self, key: str) -> None: ...

    async def adelete_many(self, keys: Iterable[str]) -> None: ...

    async def amove_many(self, pairs: MovePairs) -> None: ...

    async def adelete_prefix(self, prefix: str) -> None: ...

    def alist_prefix(self, prefix: str, recursive: bool = False) -> AsyncIterator[str]: ...

    async def aget_many(self, keys: Iterable[str]) -> dict[str, bytes]: ...

    async def aput_many(self, items: BatchItems) -> None: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def missing_key(key: str, url: str) -> MissingKeyError:
    """The :class:`KeyError` every backend raises for a key that is not stored."""
    return MissingKeyError(f"{key!r} not found in {url}")

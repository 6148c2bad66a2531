"""The byte-level storage protocol every zarr-vectors backend implements.

A backend is a key/value store of bytes rooted at one URL. Keys are
'/'-separated relative paths (see :mod:`zarr_vectors.core.backends.keys`).
Two protocols describe it: :class:`StorageBackend` (blocking calls) and
:class:`AsyncStorageBackend` (their ``a``-prefixed coroutine twins). Every
concrete backend implements both, usually by subclassing :class:`Backend`,
which validates keys before any storage is touched and supplies correct
(if not the fastest) defaults for the batch and prefix operations.

Semantics, held by every backend and checked by the conformance kit
(:mod:`zarr_vectors.testing`):

* ``get_bytes`` / ``get_range`` of a missing key raise :class:`KeyError`
  (:class:`~zarr_vectors.exceptions.MissingKeyError`).
* ``get_range(key, start, length)`` returns the bytes ``[start, start+length)``,
  fewer if the object ends first, and ``b""`` when ``start`` is at or past the
  end; ``length=None`` reads to the end.
* ``put_bytes`` overwrites; a put is visible to the next get.
* ``delete`` of a missing key is silent.
* A prefix names a directory: ``"a"`` and ``"a/"`` both mean the keys under
  ``a/``. ``delete_prefix("a")`` never touches ``ab`` nor the key ``a`` itself;
  ``delete_prefix("")`` empties the store.
* ``list_prefix(prefix)`` yields full keys (relative to the root) of the
  immediate children of ``prefix``: objects as ``"a/x"``, containers as
  ``"a/sub/"`` (trailing '/'). ``recursive=True`` yields every object key under
  the prefix and no containers. Order is sorted.
* ``get_many(keys)`` returns a dict of the keys that exist (missing keys are
  left out, because sparse chunk grids are the normal case); ``put_many``
  writes every item. Both run concurrently where the backend can.
* ``close()`` releases resources; backends are (async) context managers.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

from zarr_vectors.core.backends.keys import normalize_prefix, validate_key
from zarr_vectors.core.secrets import redact_url
from zarr_vectors.exceptions import InvalidKeyError, MissingKeyError, StoreError

__all__ = [
    "AsyncStorageBackend",
    "Backend",
    "BatchItems",
    "StorageBackend",
    "missing_key",
]

T = TypeVar("T")

BatchItems = Mapping[str, bytes] | Iterable[tuple[str, bytes]]


async def _to_thread(func: Callable[..., T], /, *args: Any) -> T:
    """Run ``func`` on a worker thread.

    asyncio is imported here rather than at module level: a coroutine only runs
    once a loop exists, so it is loaded by then, and ``import zarr_vectors``
    stays free of it.
    """
    import asyncio

    return await asyncio.to_thread(func, *args)


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

    def delete(self, key: str) -> None:
        """Remove ``key``; silent if it does not exist."""
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

    async def adelete(self, key: str) -> None: ...

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


def _check_range(start: int, length: int | None) -> None:
    if not isinstance(start, int) or start < 0:
        raise InvalidKeyError(f"Range start must be an int >= 0, got {start!r}.")
    if length is not None and (not isinstance(length, int) or length < 0):
        raise InvalidKeyError(f"Range length must be None or an int >= 0, got {length!r}.")


def _items(items: BatchItems) -> list[tuple[str, bytes]]:
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    for key, data in pairs:
        validate_key(key)
        _check_data(data)
    return pairs


def _check_data(data: object) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidKeyError(
            f"Values must be bytes-like, got {type(data).__name__}. Encode the value first."
        )


class Backend:
    """Base class implementing both protocols on top of a few primitives.

    Subclasses implement the sync primitives ``_get``, ``_get_range``, ``_put``,
    ``_exists``, ``_delete`` and ``_list`` (which receive validated keys and a
    normalised prefix ending in '/' or empty). Everything else has a default:
    prefix deletion lists and deletes, batch calls run on a thread pool of
    :attr:`max_concurrency` workers, and every ``a``-method runs its sync twin
    with :func:`asyncio.to_thread` so the event loop is never blocked. A backend
    whose library is natively async overrides the ``_a...`` primitives as well.
    """

    #: Registered name of the backend (set by subclasses).
    backend_name: ClassVar[str] = "backend"
    #: True when keys are files: ``a`` cannot be both an object and a parent.
    hierarchical_keys: ClassVar[bool] = False
    #: False for read-only backends (HTTP, read-only archives).
    writable: ClassVar[bool] = True

    def __init__(self, url: str, *, max_concurrency: int = 16) -> None:
        if max_concurrency < 1:
            raise StoreError(f"max_concurrency must be >= 1, got {max_concurrency}.")
        self._url = redact_url(str(url))
        self.max_concurrency = max_concurrency
        self._closed = False

    # -- identity -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed; open a new backend to use it again.")

    # -- primitives (sync) ----------------------------------------------------------------
    def _get(self, key: str) -> bytes:
        raise NotImplementedError

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        data = self._get(key)
        return data[start:] if length is None else data[start : start + length]

    def _put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def _exists(self, key: str) -> bool:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        raise NotImplementedError

    def _delete_prefix(self, prefix: str) -> None:
        for key in self._list(prefix, True):
            self._delete(key)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        from concurrent.futures import ThreadPoolExecutor

        def fetch(key: str) -> tuple[str, bytes | None]:
            try:
                return key, self._get(key)
            except KeyError:
                return key, None

        if len(keys) <= 1:
            results = [fetch(k) for k in keys]
        else:
            with ThreadPoolExecutor(min(self.max_concurrency, len(keys))) as pool:
                results = list(pool.map(fetch, keys))
        return {k: v for k, v in results if v is not None}

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        if len(items) <= 1:
            for key, data in items:
                self._put(key, data)
            return
        with ThreadPoolExecutor(min(self.max_concurrency, len(items))) as pool:
            for _ in pool.map(lambda kv: self._put(*kv), items):
                pass

    def _close(self) -> None:
        """Release resources; called once."""

    # -- primitives (async): default to the sync ones on a worker thread ------------------
    async def _aget(self, key: str) -> bytes:
        return await _to_thread(self._get, key)

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        return await _to_thread(self._get_range, key, start, length)

    async def _aput(self, key: str, data: bytes) -> None:
        await _to_thread(self._put, key, data)

    async def _aexists(self, key: str) -> bool:
        return await _to_thread(self._exists, key)

    async def _adelete(self, key: str) -> None:
        await _to_thread(self._delete, key)

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        return await _to_thread(self._list, prefix, recursive)

    async def _adelete_prefix(self, prefix: str) -> None:
        await _to_thread(self._delete_prefix, prefix)

    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        found: list[bytes | None] = [None] * len(keys)

        async def fetch(i: int) -> None:
            with contextlib.suppress(KeyError):  # missing keys are left out
                found[i] = await self._aget(keys[i])

        await self._run_bounded(fetch, len(keys))
        return {k: v for k, v in zip(keys, found, strict=True) if v is not None}

    async def _aput_many(self, items: list[tuple[str, bytes]]) -> None:
        async def store(i: int) -> None:
            await self._aput(*items[i])

        await self._run_bounded(store, len(items))

    async def _run_bounded(self, call: Callable[[int], Any], count: int) -> None:
        """Run ``call(0) .. call(count - 1)`` with at most ``max_concurrency`` in flight.

        A few workers pulling indices from one shared iterator rather than one task
        per item behind a semaphore: thousands of waiting tasks and their wake-ups
        cost more than the requests themselves on a fast object store.
        """
        import asyncio

        indices = iter(range(count))

        async def worker() -> None:
            for i in indices:
                await call(i)

        await asyncio.gather(*(worker() for _ in range(min(self.max_concurrency, count))))

    async def _aclose(self) -> None:
        await _to_thread(self._close)

    # -- write guard ------------------------------------------------------------------------
    def _check_writable(self) -> None:
        self._check_open()
        if not self.writable:
            from zarr_vectors.exceptions import ReadOnlyBackendError

            raise ReadOnlyBackendError(
                f"{self.backend_name} backend at {self.url} is read-only; "
                "write to a writable location (a local path, s3://, gs://, az://) instead."
            )

    # -- public sync API ----------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        self._check_open()
        return self._get(key)

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        validate_key(key)
        _check_range(start, length)
        self._check_open()
        if length == 0:
            if not self._exists(key):
                raise missing_key(key, self.url)
            return b""
        return self._get_range(key, start, length)

    def put_bytes(self, key: str, data: bytes) -> None:
        validate_key(key)
        _check_data(data)
        self._check_writable()
        self._put(key, bytes(data))

    def exists(self, key: str) -> bool:
        validate_key(key)
        self._check_open()
        return self._exists(key)

    def delete(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        self._delete(key)

    def delete_prefix(self, prefix: str) -> None:
        normalized = normalize_prefix(prefix)
        self._check_writable()
        self._delete_prefix(normalized)

    def list_prefix(self, prefix: str = "", recursive: bool = False) -> Iterator[str]:
        normalized = normalize_prefix(prefix)
        self._check_open()
        return iter(self._list(normalized, recursive))

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        key_list = [validate_key(k) for k in keys]
        self._check_open()
        return self._get_many(list(dict.fromkeys(key_list)))

    def put_many(self, items: BatchItems) -> None:
        pairs = [(k, bytes(d)) for k, d in _items(items)]
        self._check_writable()
        self._put_many(pairs)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- public async API ---------------------------------------------------------------------
    async def aget_bytes(self, key: str) -> bytes:
        validate_key(key)
        self._check_open()
        return await self._aget(key)

    async def aget_range(self, key: str, start: int, length: int | None = None) -> bytes:
        validate_key(key)
        _check_range(start, length)
        self._check_open()
        if length == 0:
            if not await self._aexists(key):
                raise missing_key(key, self.url)
            return b""
        return await self._aget_range(key, start, length)

    async def aput_bytes(self, key: str, data: bytes) -> None:
        validate_key(key)
        _check_data(data)
        self._check_writable()
        await self._aput(key, bytes(data))

    async def aexists(self, key: str) -> bool:
        validate_key(key)
        self._check_open()
        return await self._aexists(key)

    async def adelete(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        await self._adelete(key)

    async def adelete_prefix(self, prefix: str) -> None:
        normalized = normalize_prefix(prefix)
        self._check_writable()
        await self._adelete_prefix(normalized)

    async def alist_prefix(self, prefix: str = "", recursive: bool = False) -> AsyncIterator[str]:
        normalized = normalize_prefix(prefix)
        self._check_open()
        for key in await self._alist(normalized, recursive):
            yield key

    async def aget_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        key_list = [validate_key(k) for k in keys]
        self._check_open()
        return await self._aget_many(list(dict.fromkeys(key_list)))

    async def aput_many(self, items: BatchItems) -> None:
        pairs = [(k, bytes(d)) for k, d in _items(items)]
        self._check_writable()
        await self._aput_many(pairs)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def children_of(prefix: str, keys: Iterable[str], recursive: bool) -> list[str]:
    """List helper for flat key spaces (object stores, dicts, SQL tables).

    ``prefix`` is normalised ('' or ending in '/'); ``keys`` are all object keys
    under it (any order). Returns what :meth:`Backend._list` must return.
    """
    if recursive:
        return sorted(k for k in keys if k.startswith(prefix))
    found: set[str] = set()
    cut = len(prefix)
    for key in keys:
        if not key.startswith(prefix):
            continue
        rest = key[cut:]
        slash = rest.find("/")
        found.add(key if slash < 0 else prefix + rest[: slash + 1])
    return sorted(found)


__all__ += ["children_of"]

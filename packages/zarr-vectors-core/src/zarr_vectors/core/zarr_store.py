"""The one bridge from a zarr-vectors backend to zarr-python.

:class:`BackendStore` is a :class:`zarr.abc.store.Store` written once over the
*async* storage protocol (:class:`~zarr_vectors.core.backends.AsyncStorageBackend`),
so every backend a plugin provides -- local files, object stores, HTTP, fsspec
file systems -- gives zarr arrays and groups with no code of its own. zarr-python
runs store coroutines on its own event loop; the backend's ``a``-methods are
awaited there directly, so a natively async backend keeps many requests in flight
and a thread-based one never blocks the loop.

What zarr-python needs and the storage protocol does not say directly is
translated here:

* a missing key reads as ``None`` (the protocol raises :class:`KeyError`);
* byte requests (:class:`~zarr.abc.store.RangeByteRequest`,
  :class:`~zarr.abc.store.OffsetByteRequest`,
  :class:`~zarr.abc.store.SuffixByteRequest`) become ``get_range`` calls; a
  suffix needs the object's size, which the protocol does not expose, so the
  object is read whole unless the backend offers ``aget_suffix`` or ``asize``;
* ``list_prefix`` has zarr's plain string-prefix meaning, ``list_dir`` yields
  bare child names without a trailing '/';
* ``read_only`` is the store's own promise; a backend that cannot write at all
  (``writable = False``) makes the store report ``supports_writes = False``.

Closing the store does not close the backend: several stores (``with_read_only``
copies, pickled twins) may share one, and whoever made the backend owns it.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)

from zarr_vectors.core.backends.base import AsyncStorageBackend
from zarr_vectors.exceptions import ReadOnlyBackendError, ReadOnlyStoreError, StoreError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["DEFAULT_CONCURRENCY", "BackendStore", "ReadOnlyStoreError"]

T = TypeVar("T")

#: Requests in flight at once for one batch call (``get_partial_values``, ``_get_many``).
DEFAULT_CONCURRENCY = 64

_READ_ONLY_MESSAGE = "store was opened in read-only mode and does not support writing"


class BackendStore(Store):
    """A zarr-python store over any zarr-vectors backend.

    Parameters
    ----------
    backend:
        An object implementing :class:`~zarr_vectors.core.backends.AsyncStorageBackend`
        (every :class:`~zarr_vectors.core.backends.Backend` does).
    read_only:
        Refuse ``set``/``delete`` with :class:`ReadOnlyStoreError`. A backend
        that cannot write is read-only whatever is asked.
    concurrency:
        Requests in flight at once for batch reads.
    """

    def __init__(
        self,
        backend: AsyncStorageBackend,
        *,
        read_only: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if not isinstance(backend, AsyncStorageBackend):
            raise StoreError(
                f"BackendStore needs a zarr-vectors backend implementing the async storage "
                f"protocol, got a {type(backend).__name__}; make one with "
                "zarr_vectors.core.backends.make_backend(url) or use as_zarr_store(url)."
            )
        if concurrency < 1:
            raise StoreError(f"concurrency must be >= 1, got {concurrency}.")
        super().__init__(read_only=read_only or not _writable(backend))
        self._backend = backend
        self.concurrency = concurrency

    # -- identity ---------------------------------------------------------------------
    @property
    def backend(self) -> AsyncStorageBackend:
        """The backend every call goes to (shared, not owned: closing the store keeps it)."""
        return self._backend

    @property
    def url(self) -> str:
        """The backend's URL, credentials redacted."""
        return self._backend.url

    def __str__(self) -> str:
        return self._backend.url

    def __repr__(self) -> str:
        name = getattr(self._backend, "backend_name", type(self._backend).__name__)
        return f"BackendStore({self._backend.url!r}, backend={name!r}, read_only={self.read_only})"

    def _identity(self) -> tuple[Any, ...]:
        return (type(self._backend), self._backend.url, self.read_only)

    def __eq__(self, other: object) -> bool:
        """Equal when both reach the same location through the same kind of backend.

        Compared by backend class and (redacted) URL rather than by object, so a
        pickled copy equals its original, as zarr-python expects.
        """
        if not isinstance(other, BackendStore):
            return False
        if other._backend is self._backend:
            return self.read_only == other.read_only
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_is_open"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def with_read_only(self, read_only: bool = False) -> BackendStore:
        """A new (not yet open) store on the same backend with another ``read_only`` setting."""
        if not read_only and not _writable(self._backend):
            raise ReadOnlyBackendError(
                f"{self._backend.url} is served by a backend that cannot write; "
                "write to a writable location (a local path, s3://, gs://, az://) instead."
            )
        return type(self)(self._backend, read_only=read_only, concurrency=self.concurrency)

    # -- capabilities -------------------------------------------------------------------
    @property
    def supports_writes(self) -> bool:
        return _writable(self._backend)

    @property
    def supports_deletes(self) -> bool:
        return _writable(self._backend)

    @property
    def supports_listing(self) -> bool:
        return bool(getattr(self._backend, "supports_listing", True))

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(
                f"{_READ_ONLY_MESSAGE}: {self._backend.url} is open read-only; "
                "open it for writing (mode 'a' or 'w') to change it"
            )

    # -- reads ----------------------------------------------------------------------------
    async def get(
        self,
        key: str,
        prototype: BufferPrototype,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        await self._ensure_open()
        data = await self._read(key, byte_range)
        return None if data is None else prototype.buffer.from_bytes(data)

    async def _read(self, key: str, byte_range: ByteRequest | None) -> bytes | None:
        backend = self._backend
        try:
            if byte_range is None:
                return await backend.aget_bytes(key)
            if isinstance(byte_range, RangeByteRequest):
                if byte_range.start < 0 or byte_range.end < byte_range.start:
                    raise ValueError(
                        f"Invalid RangeByteRequest({byte_range.start}, {byte_range.end}): "
                        "need 0 <= start <= end"
                    )
                return await backend.aget_range(
                    key, byte_range.start, byte_range.end - byte_range.start
                )
            if isinstance(byte_range, OffsetByteRequest):
                if byte_range.offset < 0:
                    raise ValueError(f"Invalid OffsetByteRequest({byte_range.offset}): need >= 0")
                return await backend.aget_range(key, byte_range.offset, None)
            if isinstance(byte_range, SuffixByteRequest):
                return await self._read_suffix(key, byte_range.suffix)
        except KeyError:
            return None
        raise TypeError(f"Unexpected byte_range, got {byte_range!r}.")

    async def _read_suffix(self, key: str, suffix: int) -> bytes:
        if suffix < 0:
            raise ValueError(f"Invalid SuffixByteRequest({suffix}): need >= 0")
        backend: Any = self._backend
        if hasattr(backend, "aget_suffix"):
            return bytes(await backend.aget_suffix(key, suffix))
        if hasattr(backend, "asize"):
            size = int(await backend.asize(key))
            return bytes(await backend.aget_range(key, max(0, size - suffix), None))
        data = await self._backend.aget_bytes(key)
        return data[max(0, len(data) - suffix) :]

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        """Every requested (key, range), fetched concurrently, in the order asked."""
        await self._ensure_open()
        requests = list(key_ranges)

        def fetch(key: str, rng: ByteRequest | None) -> Callable[[], Awaitable[Buffer | None]]:
            return lambda: self.get(key, prototype, rng)

        return await self._bounded([fetch(k, r) for k, r in requests])

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        """Whole objects through the backend's own batch call; ranged ones concurrently."""
        await self._ensure_open()
        reqs = list(requests)
        whole = [k for k, _, rng in reqs if rng is None]
        found = await self._backend.aget_many(whole) if whole else {}
        ranged = [(k, p, r) for k, p, r in reqs if r is not None]

        def fetch(
            key: str, proto: BufferPrototype, rng: ByteRequest | None
        ) -> Callable[[], Awaitable[Buffer | None]]:
            return lambda: self.get(key, proto, rng)

        ranged_bufs = await self._bounded([fetch(*r) for r in ranged])
        ranged_iter: Iterator[Buffer | None] = iter(ranged_bufs)
        for key, proto, rng in reqs:
            if rng is None:
                data = found.get(key)
                yield key, None if data is None else proto.buffer.from_bytes(data)
            else:
                yield key, next(ranged_iter)

    async def exists(self, key: str) -> bool:
        await self._ensure_open()
        return await self._backend.aexists(key)

    async def getsize(self, key: str) -> int:
        await self._ensure_open()
        backend: Any = self._backend
        try:
            if hasattr(backend, "asize"):
                return int(await backend.asize(key))
            return len(await self._backend.aget_bytes(key))
        except KeyError:
            raise FileNotFoundError(key) from None

    # -- writes ---------------------------------------------------------------------------
    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await self._ensure_open()
        await self._backend.aput_bytes(key, value.to_bytes())

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        """Every item through the backend's own concurrent batch write."""
        self._check_writable()
        await self._ensure_open()
        await self._backend.aput_many([(k, v.to_bytes()) for k, v in values])

    async def delete(self, key: str) -> None:
        self._check_writable()
        await self._ensure_open()
        await self._backend.adelete(key)

    async def delete_dir(self, prefix: str) -> None:
        self._check_writable()
        await self._ensure_open()
        await self._backend.adelete_prefix(prefix)

    # -- listing ----------------------------------------------------------------------------
    async def list(self) -> AsyncIterator[str]:
        await self._ensure_open()
        async for key in self._backend.alist_prefix("", recursive=True):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key starting with ``prefix`` (a plain string prefix, as zarr-python means it).

        The backend lists by directory, so a prefix that does not end in '/' is
        listed from its parent directory and filtered.
        """
        await self._ensure_open()
        if prefix == "" or prefix.endswith("/"):
            directory = prefix
        else:
            cut = prefix.rfind("/")
            directory = prefix[: cut + 1]
        async for key in self._backend.alist_prefix(directory, recursive=True):
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """Names of the immediate children of ``prefix`` (no trailing '/')."""
        await self._ensure_open()
        base = prefix if prefix == "" or prefix.endswith("/") else prefix + "/"
        seen: set[str] = set()
        async for key in self._backend.alist_prefix(base, recursive=False):
            name = key[len(base) :].rstrip("/")
            if name and name not in seen:
                seen.add(name)
                yield name

    # -- blocking twins (zarr-python's SupportsSyncStore) ------------------------------------
    def get_sync(
        self,
        key: str,
        *,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        """Blocking ``get`` for zarr-python's synchronous fast path.

        Runs the coroutine on zarr-python's loop (the backend's blocking API
        would do the same work, but only the async protocol is required of it).
        """
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.sync import sync

        return sync(self.get(key, prototype or default_buffer_prototype(), byte_range))

    def set_sync(self, key: str, value: Buffer) -> None:
        """Blocking ``set``."""
        from zarr.core.sync import sync

        sync(self.set(key, value))

    def delete_sync(self, key: str) -> None:
        """Blocking ``delete`` (a missing key is fine)."""
        from zarr.core.sync import sync

        sync(self.delete(key))

    # -- helpers ----------------------------------------------------------------------------
    async def _bounded(self, funcs: builtins.list[Callable[[], Awaitable[T]]]) -> builtins.list[T]:
        import asyncio

        if not funcs:
            return []
        sem = asyncio.Semaphore(self.concurrency)

        async def one(f: Callable[[], Awaitable[T]]) -> T:
            async with sem:
                return await f()

        return list(await asyncio.gather(*(one(f) for f in funcs)))


def _writable(backend: object) -> bool:
    return bool(getattr(backend, "writable", True))

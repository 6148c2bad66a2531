"""The one module where zarr-vectors backends and zarr-python stores meet, both ways.

* :class:`BackendStore` shows a backend to zarr-python as a
  :class:`zarr.abc.store.Store`; it is built only when a caller asks for a
  ``zarr.Group``/``zarr.Array`` (:func:`~zarr_vectors.store.api.open_store`,
  ``ZVStore.group``), never on the point I/O path.
* :func:`backend_for_zarr_store` goes the other way, once, for a caller who
  passes a zarr store in: a ``LocalStore`` is served by the local backend on the
  same directory, any other store by :class:`ZarrStoreBackend`, which awaits the
  store's own coroutines.

:class:`BackendStore` is a :class:`zarr.abc.store.Store` written once over the
*async* storage protocol (:class:`~zarr_vectors.storage.AsyncStorageBackend`),
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
  suffix takes the object's size from ``ahead``;
* ``list_prefix`` has zarr's plain string-prefix meaning, ``list_dir`` yields
  bare child names without a trailing '/';
* ``read_only`` is the store's own promise; a backend that cannot write at all
  (``writable = False``) makes the store report ``supports_writes = False``.

Closing the store closes the backend only when the store was made to own it
(``owns_backend=True``, as :func:`~zarr_vectors.store.api.open_store` does for a
backend it resolved from a path): ``with_read_only`` copies and pickled twins
share the backend and never own it.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)

from zarr_vectors.exceptions import ReadOnlyBackendError, ReadOnlyStoreError, StoreError
from zarr_vectors.storage.async_base import AsyncBackend
from zarr_vectors.storage.base import (
    AsyncStorageBackend,
    Backend,
    ObjectInfo,
    missing_key,
)
from zarr_vectors.storage.concurrency import amap_bounded
from zarr_vectors.storage.runner import run_sync

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["BackendStore", "ReadOnlyStoreError", "ZarrStoreBackend", "backend_for_zarr_store"]

T = TypeVar("T")

_READ_ONLY_MESSAGE = "store was opened in read-only mode and does not support writing"


class BackendStore(Store):
    """A zarr-python store over any zarr-vectors backend.

    Parameters
    ----------
    backend:
        An object implementing :class:`~zarr_vectors.storage.AsyncStorageBackend`
        (every :class:`~zarr_vectors.storage.Backend` does).
    read_only:
        Refuse ``set``/``delete`` with :class:`ReadOnlyStoreError`. A backend
        that cannot write is read-only whatever is asked.
    owns_backend:
        Close the backend when the store is closed. Batch reads keep the
        backend's own ``max_concurrency`` requests in flight.
    on_metadata_change:
        Called (on a worker thread) with the key of every node document
        (``.../zarr.json``, not the root's) written or deleted through the
        store, after the change; the store API uses it to keep consolidated
        metadata current when groups and arrays are changed with zarr-python.
    """

    def __init__(
        self,
        backend: AsyncStorageBackend,
        *,
        read_only: bool = False,
        owns_backend: bool = False,
        on_metadata_change: Callable[[str], None] | None = None,
    ) -> None:
        if not isinstance(backend, AsyncStorageBackend):
            raise StoreError(
                f"BackendStore needs a zarr-vectors backend implementing the async storage "
                f"protocol, got a {type(backend).__name__}; make one with "
                "zarr_vectors.storage.make_backend(url) or use as_zarr_store(url)."
            )
        super().__init__(read_only=read_only or not _writable(backend))
        self._backend = backend
        self._owns_backend = owns_backend
        self._on_metadata_change = on_metadata_change
        self.concurrency = int(getattr(backend, "max_concurrency", 16))

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
        state["_owns_backend"] = False
        state["_on_metadata_change"] = None  # a hook of this process's store API
        return state

    def close(self) -> None:
        """Close the store, and the backend if this store owns it."""
        super().close()
        if self._owns_backend:
            self._owns_backend = False
            close = getattr(self._backend, "close", None)
            if close is not None:
                close()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def with_read_only(self, read_only: bool = False) -> BackendStore:
        """A new (not yet open) store on the same backend with another ``read_only`` setting."""
        if not read_only and not _writable(self._backend):
            raise ReadOnlyBackendError(
                f"{self._backend.url} is served by a backend that cannot write; "
                "write to a writable location (a local path, s3://, gs://, az://) instead."
            )
        return type(self)(self._backend, read_only=read_only)

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
        size = (await self._backend.ahead(key)).size
        return await self._backend.aget_range(key, max(0, size - suffix), None)

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
        try:
            return (await self._backend.ahead(key)).size
        except KeyError:
            raise FileNotFoundError(key) from None

    # -- writes ---------------------------------------------------------------------------
    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await self._ensure_open()
        await self._backend.aput_bytes(key, value.to_bytes())
        await self._metadata_changed([key])

    async def _metadata_changed(self, keys: Iterable[str]) -> None:
        hook = self._on_metadata_change
        if hook is None:
            return
        import asyncio

        for key in keys:
            if key.endswith("zarr.json") and key != "zarr.json":
                await asyncio.to_thread(hook, key)

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        """Every item through the backend's own concurrent batch write."""
        self._check_writable()
        await self._ensure_open()
        items = [(k, v.to_bytes()) for k, v in values]
        await self._backend.aput_many(items)
        await self._metadata_changed(k for k, _ in items)

    async def delete(self, key: str) -> None:
        self._check_writable()
        await self._ensure_open()
        await self._backend.adelete(key)
        await self._metadata_changed([key])

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

        Runs the coroutine on the project's one I/O loop
        (:mod:`~zarr_vectors.storage.runner`).
        """
        from zarr.core.buffer import default_buffer_prototype

        return run_sync(self.get(key, prototype or default_buffer_prototype(), byte_range))

    def set_sync(self, key: str, value: Buffer) -> None:
        """Blocking ``set``."""
        run_sync(self.set(key, value))

    def delete_sync(self, key: str) -> None:
        """Blocking ``delete`` (a missing key is fine)."""
        run_sync(self.delete(key))

    # -- helpers ----------------------------------------------------------------------------
    async def _bounded(self, funcs: builtins.list[Callable[[], Awaitable[T]]]) -> builtins.list[T]:
        async def call(f: Callable[[], Awaitable[T]]) -> T:
            return await f()

        return await amap_bounded(call, funcs, self.concurrency)


def _writable(backend: object) -> bool:
    return bool(getattr(backend, "writable", True))


class ZarrStoreBackend(AsyncBackend):
    """A caller's zarr-python store used as a zarr-vectors backend.

    Every primitive awaits the store's own coroutine; the blocking protocol runs
    them on the project's one I/O loop (:class:`~zarr_vectors.storage.async_base.AsyncBackend`).
    The store belongs to the caller: closing this backend leaves it open.
    """

    backend_name: ClassVar[str] = "zarr-store"

    def __init__(self, store: Store, *, prefix: str = "") -> None:
        super().__init__(_describe_store(store) + (f" ({prefix.rstrip('/')})" if prefix else ""))
        self.store = store
        #: Keys are read under this folder of the store (a ZIP archive's top folder).
        self.prefix = prefix
        self.writable = not store.read_only  # type: ignore[misc]  # per instance
        from zarr.core.buffer import default_buffer_prototype

        self._proto = default_buffer_prototype()

    async def _ready(self) -> None:
        if not getattr(self.store, "_is_open", True):
            await self.store._ensure_open()  # ZipStore and friends open lazily

    # coroutine primitives
    async def _aget(self, key: str) -> bytes:
        await self._ready()
        buf = await self.store.get(self.prefix + key, self._proto)
        if buf is None:
            raise missing_key(key, self.url)
        return buf.to_bytes()

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        await self._ready()
        rng: ByteRequest = (
            OffsetByteRequest(start) if length is None else RangeByteRequest(start, start + length)
        )
        buf = await self.store.get(self.prefix + key, self._proto, rng)
        if buf is None:
            raise missing_key(key, self.url)
        return buf.to_bytes()

    async def _aput(self, key: str, data: bytes) -> None:
        await self._ready()
        await self.store.set(self.prefix + key, self._proto.buffer.from_bytes(data))

    async def _aexists(self, key: str) -> bool:
        await self._ready()
        return await self.store.exists(self.prefix + key)

    async def _ahead(self, key: str) -> ObjectInfo:
        await self._ready()
        try:
            return ObjectInfo(key, await self.store.getsize(self.prefix + key))
        except FileNotFoundError:
            raise missing_key(key, self.url) from None

    async def _adelete(self, key: str) -> None:
        await self._ready()
        await self.store.delete(self.prefix + key)

    async def _alist(self, prefix: str, recursive: bool) -> builtins.list[str]:
        from zarr_vectors.storage.base import children_of

        await self._ready()
        cut = len(self.prefix)
        keys = [k[cut:] async for k in self.store.list_prefix(self.prefix + prefix)]
        return children_of(prefix, keys, recursive)


def backend_for_zarr_store(store: Store, *, prefix: str = "") -> Backend:
    """A backend over a caller's zarr store (made once per public call), under ``prefix``.

    A ``LocalStore`` is served by the local backend on the same directory, whose
    batch calls resolve each directory once; any other store through its own
    coroutines (:class:`ZarrStoreBackend`).
    """
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        from zarr_vectors.storage.local import LocalBackend

        return LocalBackend(store.root / prefix if prefix else store.root)
    return ZarrStoreBackend(store, prefix=prefix)


def _describe_store(store: Store) -> str:
    from zarr_vectors.storage.secrets import redact_text, redact_url

    text = str(store)
    return redact_url(text) if "://" in text else redact_text(text, ())

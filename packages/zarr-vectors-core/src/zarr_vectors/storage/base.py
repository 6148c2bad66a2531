"""The template every backend builds on: :class:`Backend`, both protocols on a few primitives.

The protocol (:mod:`zarr_vectors.storage.protocol`) is re-exported here; natively
async clients build on :class:`~zarr_vectors.storage.async_base.AsyncBackend`.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from zarr_vectors.exceptions import (
    MissingKeyError,
    RangeNotSatisfiableError,
    StoreError,
)
from zarr_vectors.storage.arguments import batch_items, check_data, check_range, move_pairs
from zarr_vectors.storage.concurrency import amap_bounded, check_concurrency, map_bounded
from zarr_vectors.storage.keys import children_of, normalize_prefix, validate_key
from zarr_vectors.storage.protocol import (
    AsyncStorageBackend,
    BatchItems,
    MovePairs,
    ObjectInfo,
    StorageBackend,
    missing_key,
)
from zarr_vectors.storage.secrets import redact_text, redact_url

__all__ = [
    "MOVE_BATCH",
    "AsyncStorageBackend",
    "Backend",
    "BatchItems",
    "MovePairs",
    "ObjectInfo",
    "StorageBackend",
    "children_of",
    "missing_key",
]

T = TypeVar("T")

#: Objects the default ``move_many`` holds in memory at once (read, written, then deleted).
MOVE_BATCH = 256


async def _to_thread(func: Callable[..., T], /, *args: Any) -> T:
    """Run ``func`` on a worker thread.

    asyncio is imported here rather than at module level: a coroutine only runs
    once a loop exists, so it is loaded by then, and ``import zarr_vectors``
    stays free of it.
    """
    import asyncio

    return await asyncio.to_thread(func, *args)


class Backend:
    """Base class implementing both protocols on top of a few primitives.

    Subclasses implement the sync primitives ``_get``, ``_get_range``, ``_put``,
    ``_exists``, ``_delete`` and ``_list``, which receive validated keys and a
    normalised prefix ending in '/' or empty, and may be called from up to
    :attr:`max_concurrency` threads at once. Everything else has a default built
    on them: ``_head`` reads the object, ``_delete_many`` and ``_delete_prefix``
    delete key by key, ``_move_many`` gets, puts and deletes in batches of
    :data:`MOVE_BATCH`, batch calls run through
    :mod:`~zarr_vectors.storage.concurrency`, and every ``a``-method runs
    its sync twin with :func:`asyncio.to_thread` so the event loop is never
    blocked. A backend whose library is natively async overrides the ``_a...``
    primitives as well (and may implement the sync ones with
    :func:`~zarr_vectors.storage.runner.run_sync`).

    Hooks a subclass may override: :meth:`_close` / :meth:`_aclose` (release
    resources), :meth:`_root_exists` (tell a missing bucket from a missing key),
    :meth:`_holds_objects` (used when ``verify_prefixes`` is on). Secrets the
    backend was given are kept in :attr:`secrets` and scrubbed by :meth:`redact`.
    """

    #: Registered name of the backend (set by subclasses).
    backend_name: ClassVar[str] = "backend"
    #: True when keys are files: ``a`` cannot be both an object and a parent.
    hierarchical_keys: ClassVar[bool] = False
    #: False for read-only backends (HTTP, read-only archives).
    writable: ClassVar[bool] = True
    #: Whether :meth:`put_if` (create-only and if-match writes) is offered; a
    #: subclass that sets it implements ``_put_if`` (and ``_aput_if`` if async).
    conditional_writes: ClassVar[bool] = False
    #: True when the ``a``-methods are the library's own coroutines (``AsyncBackend``), not
    #: the blocking primitives on a thread: readers of many objects at once then await them.
    native_async: ClassVar[bool] = False
    #: Default for ``max_concurrency`` (subclasses set their own, by measurement).
    default_max_concurrency: ClassVar[int] = 16
    #: The check every write runs first while a :meth:`write_fence` is active.
    _fence: Callable[[], None] | None = None

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int | None = None,
        verify_prefixes: bool = False,
        secrets: Iterable[str] = (),
    ) -> None:
        limit = self.default_max_concurrency if max_concurrency is None else max_concurrency
        self.max_concurrency = check_concurrency(limit)
        self.secrets: tuple[str, ...] = tuple(s for s in secrets if s)
        self._url = redact_url(str(url))
        #: List only containers that still hold an object (for servers with real folders).
        self.verify_prefixes = bool(verify_prefixes)
        self._closed = False
        self._root_known = False

    # -- identity -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r})"

    def redact(self, text: str) -> str:
        """``text`` with every secret this backend was given replaced by ``***``."""
        return redact_text(text, self.secrets)

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

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        raise NotImplementedError

    def _head(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(self._get(key)))

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _delete_many(self, keys: list[str]) -> None:
        def delete(key: str) -> None:
            self.check_fence()
            self._delete(key)

        map_bounded(delete, keys, self.max_concurrency)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        raise NotImplementedError

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        """Copy through the client: each batch is read, written, then its sources deleted.

        A crash between the writes and the deletes leaves both copies; running
        the move again finishes it (the sources are still there to be read).
        """
        for start in range(0, len(pairs), MOVE_BATCH):
            batch = pairs[start : start + MOVE_BATCH]
            found = self._get_many([source for source, _ in batch])
            self._put_many([(dest, found[source]) for source, dest in batch if source in found])
            self._delete_many([source for source, _ in batch if source in found])

    def _delete_prefix(self, prefix: str) -> None:
        self._delete_many(self._list(prefix, True))

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        def fetch(key: str) -> bytes | None:
            try:
                return self._get(key)
            except KeyError:
                return None

        found = map_bounded(fetch, keys, self.max_concurrency)
        return {k: v for k, v in zip(keys, found, strict=True) if v is not None}

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        def store(item: tuple[str, bytes]) -> None:
            self.check_fence()
            self._put(*item)

        map_bounded(store, items, self.max_concurrency)

    def _root_exists(self) -> bool:
        """Whether the bucket/container/directory holding the store exists.

        Asked once, after the first not-found: a missing key is a ``KeyError``,
        but a missing bucket is a configuration error that must not pass
        silently. Answer ``True`` when it cannot be told (e.g. no list right).
        """
        return True

    def _holds_objects(self, prefix: str) -> bool:
        """Whether at least one object is stored under ``prefix`` (``verify_prefixes``)."""
        return bool(self._list(prefix, True))

    def _close(self) -> None:
        """Release resources; called once, by ``close()`` or (through ``_aclose``) ``aclose()``."""

    # -- primitives (async): default to the sync ones on a worker thread ------------------
    async def _aget(self, key: str) -> bytes:
        return await _to_thread(self._get, key)

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        return await _to_thread(self._get_range, key, start, length)

    async def _aput(self, key: str, data: bytes) -> None:
        await _to_thread(self._put, key, data)

    async def _aexists(self, key: str) -> bool:
        return await _to_thread(self._exists, key)

    async def _aput_if(self, key: str, data: bytes, expect: str | None) -> str:
        return await _to_thread(self._put_if, key, data, expect)

    async def _ahead(self, key: str) -> ObjectInfo:
        return await _to_thread(self._head, key)

    async def _adelete(self, key: str) -> None:
        await _to_thread(self._delete, key)

    async def _adelete_many(self, keys: list[str]) -> None:
        async def delete(key: str) -> None:
            self.check_fence()
            await self._adelete(key)

        await amap_bounded(delete, keys, self.max_concurrency)

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        return await _to_thread(self._list, prefix, recursive)

    async def _adelete_prefix(self, prefix: str) -> None:
        await self._adelete_many(await self._alist(prefix, True))

    async def _amove_many(self, pairs: list[tuple[str, str]]) -> None:
        await _to_thread(self._move_many, pairs)

    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        async def fetch(key: str) -> bytes | None:
            try:
                return await self._aget(key)
            except KeyError:  # missing keys are left out
                return None

        found = await amap_bounded(fetch, keys, self.max_concurrency)
        return {k: v for k, v in zip(keys, found, strict=True) if v is not None}

    async def _aput_many(self, items: list[tuple[str, bytes]]) -> None:
        async def store(item: tuple[str, bytes]) -> None:
            self.check_fence()
            await self._aput(*item)

        await amap_bounded(store, items, self.max_concurrency)

    async def _aroot_exists(self) -> bool:
        return await _to_thread(self._root_exists)

    async def _aholds_objects(self, prefix: str) -> bool:
        return await _to_thread(self._holds_objects, prefix)

    async def _aclose(self) -> None:
        await _to_thread(self._close)

    # -- write fence ------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_fence(self, check: Callable[[], None]) -> Iterator[None]:
        """Run ``check`` before every write through this backend while the block runs.

        A writer that holds a store's lease fences its writes with the lease's
        own check (local clock only, no request): a writer paused past its
        lease (SIGSTOP, a VM or swap stall) raises on waking at the next object
        it would write, instead of finishing a batch over what the writer that
        took the store over has committed. Every public write runs it once per
        call; the shipped backends run it again before each object or request
        of a batch (:meth:`check_fence`). Only a request already sent when the
        process stalled can still land: storage without fencing tokens cannot
        refuse that one.
        """
        previous, self._fence = self._fence, check
        try:
            yield
        finally:
            self._fence = previous

    def check_fence(self) -> None:
        """Raise if the active :meth:`write_fence` says writes must stop (a no-op without one).

        Backends call it just before each object or request of a batch write.
        """
        fence = self._fence
        if fence is not None:
            fence()

    # -- shared checks ----------------------------------------------------------------------
    def _check_writable(self) -> None:
        self._check_open()
        self.check_fence()
        if not self.writable:
            from zarr_vectors.exceptions import ReadOnlyBackendError

            raise ReadOnlyBackendError(
                f"{self.backend_name} backend at {self.url} is read-only; "
                "write to a writable location (a local path, s3://, gs://, az://) instead."
            )

    def _check_conditional(self) -> None:
        self._check_writable()
        if not self.conditional_writes:
            from zarr_vectors.exceptions import UnsupportedOperationError

            raise UnsupportedOperationError(
                f"The {self.backend_name} backend at {self.url} offers no conditional writes "
                "(create-only / if-match), which safe concurrent writers need; write from one "
                "process at a time, or use a backend that offers them (local, obstore)."
            )

    def _missing_root(self) -> StoreError:
        return StoreError(
            f"The bucket, container or directory of {self.url} does not exist or cannot be "
            "reached; create it first or fix the URL."
        )

    def _confirm_missing(self, key: str) -> MissingKeyError:
        """The KeyError for ``key``, once the root is known to exist (checked once)."""
        if not self._root_known:
            if not self._root_exists():
                raise self._missing_root()
            self._root_known = True
        return missing_key(key, self.url)

    async def _aconfirm_missing(self, key: str) -> MissingKeyError:
        if not self._root_known:
            if not await self._aroot_exists():
                raise self._missing_root()
            self._root_known = True
        return missing_key(key, self.url)

    def _settle_range(self, key: str, start: int, refused: BaseException) -> bytes:
        """After a range read was refused or 404'd: ``b""`` past the end, else KeyError."""
        try:
            info = self._head(key)
        except KeyError:
            raise self._confirm_missing(key) from None
        if start >= info.size:
            return b""
        raise refused

    async def _asettle_range(self, key: str, start: int, refused: BaseException) -> bytes:
        try:
            info = await self._ahead(key)
        except KeyError:
            raise await self._aconfirm_missing(key) from None
        if start >= info.size:
            return b""
        raise refused

    def _verified(self, listed: list[str]) -> list[str]:
        if not self.verify_prefixes:
            return listed
        containers = [k for k in listed if k.endswith("/")]
        keep = set(map_bounded(self._holds_prefix_or_none, containers, self.max_concurrency))
        return [k for k in listed if not k.endswith("/") or k in keep]

    def _holds_prefix_or_none(self, prefix: str) -> str | None:
        return prefix if self._holds_objects(prefix) else None

    async def _averified(self, listed: list[str]) -> list[str]:
        if not self.verify_prefixes:
            return listed
        containers = [k for k in listed if k.endswith("/")]

        async def check(prefix: str) -> str | None:
            return prefix if await self._aholds_objects(prefix) else None

        keep = set(await amap_bounded(check, containers, self.max_concurrency))
        return [k for k in listed if not k.endswith("/") or k in keep]

    # -- public sync API ----------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        self._check_open()
        try:
            return self._get(key)
        except KeyError:
            raise self._confirm_missing(key) from None

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        validate_key(key)
        check_range(start, length)
        self._check_open()
        if length == 0:
            self.head(key)
            return b""
        try:
            return self._get_range(key, start, length)
        except (KeyError, RangeNotSatisfiableError) as exc:
            return self._settle_range(key, start, exc)

    def put_bytes(self, key: str, data: bytes) -> None:
        validate_key(key)
        check_data(data)
        self._check_writable()
        self._put(key, bytes(data))

    def exists(self, key: str) -> bool:
        validate_key(key)
        self._check_open()
        return self._exists(key)

    def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        validate_key(key)
        check_data(data)
        self._check_conditional()
        return self._put_if(key, bytes(data), expect)

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        self._check_open()
        try:
            return self._head(key)
        except KeyError:
            raise self._confirm_missing(key) from None

    def delete(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        self._delete(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        key_list = list(dict.fromkeys(validate_key(k) for k in keys))
        self._check_writable()
        if key_list:
            self._delete_many(key_list)

    def move_many(self, pairs: MovePairs) -> None:
        moves = move_pairs(pairs)
        self._check_writable()
        if moves:
            self._move_many(moves)

    def delete_prefix(self, prefix: str) -> None:
        normalized = normalize_prefix(prefix)
        self._check_writable()
        self._delete_prefix(normalized)

    def list_prefix(self, prefix: str = "", recursive: bool = False) -> Iterator[str]:
        normalized = normalize_prefix(prefix)
        self._check_open()
        listed = self._list(normalized, recursive)
        return iter(listed if recursive else self._verified(listed))

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        key_list = [validate_key(k) for k in keys]
        self._check_open()
        return self._get_many(list(dict.fromkeys(key_list)))

    def put_many(self, items: BatchItems) -> None:
        pairs = batch_items(items)
        self._check_writable()
        if pairs:
            self._put_many(pairs)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`aclose`) has run."""
        return self._closed

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
        try:
            return await self._aget(key)
        except KeyError:
            raise await self._aconfirm_missing(key) from None

    async def aget_range(self, key: str, start: int, length: int | None = None) -> bytes:
        validate_key(key)
        check_range(start, length)
        self._check_open()
        if length == 0:
            await self.ahead(key)
            return b""
        try:
            return await self._aget_range(key, start, length)
        except (KeyError, RangeNotSatisfiableError) as exc:
            return await self._asettle_range(key, start, exc)

    async def aput_bytes(self, key: str, data: bytes) -> None:
        validate_key(key)
        check_data(data)
        self._check_writable()
        await self._aput(key, bytes(data))

    async def aexists(self, key: str) -> bool:
        validate_key(key)
        self._check_open()
        return await self._aexists(key)

    async def aput_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        validate_key(key)
        check_data(data)
        self._check_conditional()
        return await self._aput_if(key, bytes(data), expect)

    async def ahead(self, key: str) -> ObjectInfo:
        validate_key(key)
        self._check_open()
        try:
            return await self._ahead(key)
        except KeyError:
            raise await self._aconfirm_missing(key) from None

    async def adelete(self, key: str) -> None:
        validate_key(key)
        self._check_writable()
        await self._adelete(key)

    async def adelete_many(self, keys: Iterable[str]) -> None:
        key_list = list(dict.fromkeys(validate_key(k) for k in keys))
        self._check_writable()
        if key_list:
            await self._adelete_many(key_list)

    async def amove_many(self, pairs: MovePairs) -> None:
        moves = move_pairs(pairs)
        self._check_writable()
        if moves:
            await self._amove_many(moves)

    async def adelete_prefix(self, prefix: str) -> None:
        normalized = normalize_prefix(prefix)
        self._check_writable()
        await self._adelete_prefix(normalized)

    async def alist_prefix(self, prefix: str = "", recursive: bool = False) -> AsyncIterator[str]:
        normalized = normalize_prefix(prefix)
        self._check_open()
        listed = await self._alist(normalized, recursive)
        for key in listed if recursive else await self._averified(listed):
            yield key

    async def aget_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        key_list = [validate_key(k) for k in keys]
        self._check_open()
        return await self._aget_many(list(dict.fromkeys(key_list)))

    async def aput_many(self, items: BatchItems) -> None:
        pairs = batch_items(items)
        self._check_writable()
        if pairs:
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

"""The byte-level storage protocol every zarr-vectors backend implements.

A backend is a key/value store of bytes rooted at one URL. Keys are
'/'-separated relative paths (see :mod:`zarr_vectors.storage.keys`).
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

import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

from zarr_vectors.exceptions import (
    InvalidKeyError,
    MissingKeyError,
    RangeNotSatisfiableError,
    StoreError,
)
from zarr_vectors.storage.concurrency import amap_bounded, check_concurrency, map_bounded
from zarr_vectors.storage.keys import normalize_prefix, validate_key
from zarr_vectors.storage.secrets import redact_text, redact_url

__all__ = [
    "AsyncBackend",
    "AsyncStorageBackend",
    "Backend",
    "BatchItems",
    "MovePairs",
    "ObjectInfo",
    "StorageBackend",
    "missing_key",
]

T = TypeVar("T")

BatchItems = Mapping[str, bytes] | Iterable[tuple[str, bytes]]
#: ``move_many``'s argument: source key -> destination key, as a mapping or pairs.
MovePairs = Mapping[str, str] | Iterable[tuple[str, str]]
#: Objects the default ``move_many`` holds in memory at once (read, written, then deleted).
MOVE_BATCH = 256


@dataclass(frozen=True)
class ObjectInfo:
    """What ``head`` tells about one stored object."""

    key: str
    #: Length in bytes.
    size: int
    #: A token that changes whenever the object does (an ETag on object stores),
    #: or ``None`` where the storage has none.
    version: str | None = None


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


def _check_range(start: int, length: int | None) -> None:
    if not isinstance(start, int) or start < 0:
        raise InvalidKeyError(f"Range start must be an int >= 0, got {start!r}.")
    if length is not None and (not isinstance(length, int) or length < 0):
        raise InvalidKeyError(f"Range length must be None or an int >= 0, got {length!r}.")


def _items(items: BatchItems) -> list[tuple[str, bytes]]:
    """Validated ``(key, bytes)`` pairs; a key given twice keeps its last value."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    latest: dict[str, bytes] = {}
    for key, data in pairs:
        validate_key(key)
        _check_data(data)
        latest[key] = bytes(data)
    return list(latest.items())


def _moves(pairs: MovePairs) -> list[tuple[str, str]]:
    """Validated ``(source, destination)`` pairs, each move once, ``a -> a`` dropped.

    The moves of one call are independent of their order: a key may be the
    source of one move or the destination of one, never both, nor two of either.
    """
    given = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    moves: dict[str, str] = {}
    for pair in given:
        try:
            if isinstance(pair, str | bytes):
                raise TypeError
            first, second = pair
        except (TypeError, ValueError):
            raise InvalidKeyError(
                f"move_many takes (source, destination) pairs of keys, got {pair!r:.100}."
            ) from None
        source, destination = validate_key(first), validate_key(second)
        if source == destination:
            continue
        if moves.setdefault(source, destination) != destination:
            raise InvalidKeyError(
                f"move_many was asked to move {source!r} to both {moves[source]!r} and "
                f"{destination!r}; give each source one destination."
            )
    seen: set[str] = set()
    for destination in moves.values():
        if destination in seen:
            raise InvalidKeyError(
                f"move_many was asked to move two objects to {destination!r}; give each "
                "destination one source."
            )
        seen.add(destination)
    both = sorted(seen.intersection(moves))
    if both:
        raise InvalidKeyError(
            f"move_many was given {both[0]!r} as both a source and a destination, whose "
            "outcome would depend on the order of the moves; split the call in two."
        )
    return list(moves.items())


def _check_data(data: object) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidKeyError(
            f"Values must be bytes-like, got {type(data).__name__}. Encode the value first."
        )


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
        _check_range(start, length)
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
        _check_data(data)
        self._check_writable()
        self._put(key, bytes(data))

    def exists(self, key: str) -> bool:
        validate_key(key)
        self._check_open()
        return self._exists(key)

    def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        validate_key(key)
        _check_data(data)
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
        moves = _moves(pairs)
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
        pairs = _items(items)
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
        _check_range(start, length)
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
        _check_data(data)
        self._check_writable()
        await self._aput(key, bytes(data))

    async def aexists(self, key: str) -> bool:
        validate_key(key)
        self._check_open()
        return await self._aexists(key)

    async def aput_if(self, key: str, data: bytes, *, expect: str | None) -> str:
        validate_key(key)
        _check_data(data)
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
        moves = _moves(pairs)
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
        pairs = _items(items)
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


class AsyncBackend(Backend):
    """A :class:`Backend` whose library is natively async: write the ``_a...`` primitives.

    Subclasses implement ``_aget``, ``_aput``, ``_aexists``, ``_adelete`` and
    ``_alist`` (and, where the storage does better than the defaults,
    ``_aget_range``, ``_ahead``, ``_adelete_many``, ``_amove_many``, ``_aget_many``,
    ``_aput_many``, ``_aput_if``, ``_aroot_exists``, ``_aholds_objects``, ``_aclose``). Every
    blocking primitive runs its coroutine twin on the process's one I/O loop
    (:func:`~zarr_vectors.storage.runner.run_sync`), so a plugin writes
    each operation once.
    """

    # -- async defaults that do not go back to the blocking primitives ----------------------
    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        data = await self._aget(key)
        return data[start:] if length is None else data[start : start + length]

    async def _ahead(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(await self._aget(key)))

    async def _aput_if(self, key: str, data: bytes, expect: str | None) -> str:
        raise NotImplementedError

    async def _amove_many(self, pairs: list[tuple[str, str]]) -> None:
        """The coroutine twin of :meth:`Backend._move_many`, on the async primitives."""
        for start in range(0, len(pairs), MOVE_BATCH):
            batch = pairs[start : start + MOVE_BATCH]
            found = await self._aget_many([source for source, _ in batch])
            await self._aput_many(
                [(dest, found[source]) for source, dest in batch if source in found]
            )
            await self._adelete_many([source for source, _ in batch if source in found])

    async def _aroot_exists(self) -> bool:
        return True

    async def _aholds_objects(self, prefix: str) -> bool:
        return bool(await self._alist(prefix, True))

    async def _aclose(self) -> None:
        """Release resources; called once (``close()`` reaches it through :meth:`_close`)."""

    # -- blocking primitives: the coroutines, on the one loop -------------------------------
    def _get(self, key: str) -> bytes:
        return _run(self._aget(key))

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        return _run(self._aget_range(key, start, length))

    def _put(self, key: str, data: bytes) -> None:
        _run(self._aput(key, data))

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        return _run(self._aput_if(key, data, expect))

    def _exists(self, key: str) -> bool:
        return _run(self._aexists(key))

    def _head(self, key: str) -> ObjectInfo:
        return _run(self._ahead(key))

    def _delete(self, key: str) -> None:
        _run(self._adelete(key))

    def _delete_many(self, keys: list[str]) -> None:
        _run(self._adelete_many(keys))

    def _move_many(self, pairs: list[tuple[str, str]]) -> None:
        _run(self._amove_many(pairs))

    def _delete_prefix(self, prefix: str) -> None:
        _run(self._adelete_prefix(prefix))

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return _run(self._alist(prefix, recursive))

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        return _run(self._aget_many(keys))

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        _run(self._aput_many(items))

    def _root_exists(self) -> bool:
        return _run(self._aroot_exists())

    def _holds_objects(self, prefix: str) -> bool:
        return _run(self._aholds_objects(prefix))

    def _close(self) -> None:
        _run(self._aclose())


def _run(coro: Coroutine[Any, Any, T]) -> T:
    from zarr_vectors.storage.runner import run_sync

    return run_sync(coro)


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

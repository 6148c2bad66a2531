"""The icechunk backend: an Icechunk session presented as the byte-level key/value store.

Every read goes through one Icechunk session: a read-only one at the tip of the
branch (``branch=``, default ``main``) as it was when first read, at a tag
(``tag=``) or at a snapshot id (``snapshot=``); the last two are read-only.

Writes come in two kinds:

* **A zarr-vectors write** (``write_points``, ``create_store``...) is one
  transaction: the core sees ``transactional = True`` and, instead of taking its
  write lease, calls :meth:`IcechunkBackend.begin_transaction` (a writable
  session on the branch tip), writes, and calls
  :meth:`IcechunkBackend.commit_transaction` once: one Icechunk commit, with the
  ``message=`` option or the core's summary as its message. A failure calls
  :meth:`IcechunkBackend.abort_transaction` and nothing is committed. A commit
  that finds another writer's commit on the branch raises
  :class:`~zarr_vectors.exceptions.TransactionConflictError` naming that commit.
* **A single protocol call** outside a transaction (``put_bytes``,
  ``put_many``, ``delete_prefix``..., as the conformance kit makes them) is
  committed on its own, and made again on the new tip when another writer
  committed first, so a plain key/value user of the backend sees every call
  land whole and persist.

Keys Icechunk does not hold as Zarr nodes live in a hidden array
(:mod:`zarr_vectors_icechunk.keyspace`).
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from zarr_vectors.exceptions import (
    BackendOptionError,
    ReadOnlyBackendError,
    StoreError,
    TransactionConflictError,
)
from zarr_vectors.storage import AsyncBackend, ObjectInfo, children_of, missing_key
from zarr_vectors.storage.concurrency import amap_bounded
from zarr_vectors.storage.runner import run_sync
from zarr_vectors_icechunk import keyspace as ks
from zarr_vectors_icechunk.info import DEFAULT_BRANCH, DEFAULT_MAX_CONCURRENCY
from zarr_vectors_icechunk.objects import (
    IcechunkObjects,
    headline,
    is_icechunk_error,
    loop_lock,
    parents_first,
)
from zarr_vectors_icechunk.storage import Location, make_location
from zarr_vectors_icechunk.versions import IcechunkVersions, check_ref_name

__all__ = ["DEFAULT_MESSAGE", "IcechunkBackend", "check_ref_name"]

T = TypeVar("T")

#: The message of a commit made by a single protocol call (a write gets the core's summary).
DEFAULT_MESSAGE = "zarr-vectors: key/value change"
#: How often a single call's commit is made again after losing to another writer's.
_CHANGE_ATTEMPTS = 32
_SNAPSHOT_ID = re.compile(r"^[0-9A-Z]{20}$")


def _check_options(branch: object, tag: object, snapshot: object, message: object) -> None:
    if branch is not None:
        check_ref_name("branch", branch)
    if tag is not None:
        check_ref_name("tag", tag)
    if snapshot is not None and (not isinstance(snapshot, str) or not _SNAPSHOT_ID.match(snapshot)):
        raise BackendOptionError(
            f"snapshot {snapshot!r} is not an Icechunk snapshot id (20 characters of 0-9 and "
            "A-Z, as zarr_vectors_icechunk.history() lists them)."
        )
    given = [n for n, v in (("branch", branch), ("tag", tag), ("snapshot", snapshot)) if v]
    if len(given) > 1:
        raise BackendOptionError(
            f"{' and '.join(given)} were both given; a store is read at one of branch=, tag= "
            "or snapshot=, so give one."
        )
    if message is not None and not isinstance(message, str):
        raise BackendOptionError(f"message must be a str, got {type(message).__name__}")


class IcechunkBackend(IcechunkVersions, IcechunkObjects, AsyncBackend):
    """A zarr-vectors backend over an Icechunk repository (see the module docstring)."""

    backend_name: ClassVar[str] = "icechunk"
    transactional: ClassVar[bool] = True
    default_max_concurrency: ClassVar[int] = DEFAULT_MAX_CONCURRENCY

    def __init__(
        self,
        url: str,
        *,
        branch: str | None = None,
        tag: str | None = None,
        snapshot: str | None = None,
        message: str | None = None,
        max_concurrency: int | None = None,
        **storage_options: Any,
    ) -> None:
        _check_options(branch, tag, snapshot, message)
        location: Location = make_location(str(url), storage_options)
        #: What :meth:`at_version` opens the same repository with.
        self._given = (str(url), dict(storage_options))
        super().__init__(location.url, max_concurrency=max_concurrency, secrets=location.secrets)
        self.location = location
        self.branch = branch or DEFAULT_BRANCH
        self.tag = tag
        self.snapshot = snapshot
        self.message = message
        if tag is not None or snapshot is not None:
            self.writable = False  # type: ignore[misc]  # per instance
        self._repo: Any = None
        self._session: Any = None
        self._in_transaction = False
        #: Foreign key -> its chunk key, for the current session (None: not read yet).
        self._foreign: dict[str, str] | None = None
        self._commit_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._index_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        if not self.writable:
            self._reader()  # an unknown tag or snapshot is refused now, not at the first read

    def __repr__(self) -> str:
        at = (
            f"tag {self.tag}"
            if self.tag
            else f"snapshot {self.snapshot}"
            if self.snapshot
            else (f"branch {self.branch}")
        )
        return f"IcechunkBackend({self.url!r}, {at})"

    # -- repository and sessions ---------------------------------------------------------
    def _fail(self, exc: BaseException, what: str) -> StoreError:
        text = headline(str(exc)) or type(exc).__name__
        return StoreError(self.redact(f"Icechunk refused {what} at {self.url}: {text}"))

    def repository(self, *, create: bool = False) -> Any:
        """The Icechunk repository (``None`` if there is none and ``create`` is false)."""
        if self._repo is not None:
            return self._repo
        import icechunk

        storage = self.location.storage
        # Icechunk fetches a batch read's keys 10 at a time unless told otherwise; it is
        # told this backend's own bound (a setting of this process, not stored).
        config = icechunk.RepositoryConfig(
            get_partial_values_concurrency=min(self.max_concurrency, 2**16 - 1)
        )
        try:
            if icechunk.Repository.exists(storage):
                self._repo = icechunk.Repository.open(storage, config=config)
            elif create:
                try:
                    self._repo = icechunk.Repository.create(storage).reopen(config=config)
                except Exception as exc:  # another process created it first
                    if not is_icechunk_error(exc) or not icechunk.Repository.exists(storage):
                        raise
                    self._repo = icechunk.Repository.open(storage, config=config)
        except Exception as exc:
            if is_icechunk_error(exc):
                raise self._fail(exc, "opening the repository") from None
            raise
        return self._repo

    def _reader(self) -> Any:
        """The session reads go through (``None``: no repository, an empty store)."""
        if self._session is not None:
            return self._session
        repo = self.repository()
        if repo is None:
            if not self.writable:
                raise StoreError(
                    f"No Icechunk repository at {self.url}, so it has no "
                    f"{'tag ' + repr(self.tag) if self.tag else 'snapshot ' + repr(self.snapshot)}"
                    "; check the URL."
                )
            return None
        try:
            if self.tag is not None:
                self._session = repo.readonly_session(tag=self.tag)
            elif self.snapshot is not None:
                self._session = repo.readonly_session(snapshot_id=self.snapshot)
            elif self.branch in repo.list_branches():
                self._session = repo.readonly_session(branch=self.branch)
            else:
                raise self._no_branch(repo)
        except Exception as exc:
            if not is_icechunk_error(exc):
                raise
            if self.tag is not None:
                raise StoreError(
                    f"{self.url} has no tag {self.tag!r}; its tags are "
                    f"{sorted(repo.list_tags()) or 'none'}."
                ) from None
            raise StoreError(
                f"{self.url} has no snapshot {self.snapshot!r}; list the snapshots with "
                "zarr_vectors_icechunk.history(url)."
            ) from None
        self._foreign = None
        return self._session

    def current_version(self) -> str | None:
        """The snapshot id reads see now: the branch's tip, or the tag's or snapshot's."""
        following = not (self._in_transaction or self.tag or self.snapshot)
        session = self._tip_reader() if following else self._reader()
        return None if session is None else str(session.snapshot_id)

    def at_version(self, version: str) -> IcechunkBackend:
        """A new, read-only backend on the same repository at snapshot ``version``."""
        url, options = self._given
        return IcechunkBackend(
            url, snapshot=version, max_concurrency=self.max_concurrency, **options
        )

    def _no_branch(self, repo: Any) -> StoreError:
        return StoreError(
            f"{self.url} has no branch {self.branch!r} (its branches are "
            f"{sorted(repo.list_branches())}); make it first with "
            f"zarr_vectors_icechunk.create_branch(url, {self.branch!r})."
        )

    def _writable_session(self) -> Any:
        """A writable session on the tip of the branch (the repository is made if needed)."""
        if not self.writable:
            raise ReadOnlyBackendError(
                f"{self!r} reads a {'tag' if self.tag else 'snapshot'}, which cannot change; "
                "write to a branch (branch='main' or a new name) instead."
            )
        repo = self.repository(create=True)
        if self.branch not in repo.list_branches():
            raise self._no_branch(repo)
        try:
            session = repo.writable_session(self.branch)
        except Exception as exc:
            if is_icechunk_error(exc):
                raise self._fail(exc, f"opening branch {self.branch!r} for writing") from None
            raise
        self._session = session
        self._foreign = None
        return session

    # -- the transaction the core asks for ------------------------------------------------
    def begin_transaction(self) -> None:
        """Start a write: a writable session on the branch as it is now."""
        self._check_writable()
        self._writable_session()
        self._in_transaction = True

    def commit_transaction(self, summary: str) -> str | None:
        """Commit the write as one snapshot; return its id (``None``: nothing changed)."""
        session = self._session
        self._in_transaction = False
        if session is None or not session.has_uncommitted_changes:
            return None
        import icechunk

        try:
            return str(session.commit(self.message or summary))
        except icechunk.ConflictError as exc:
            self._drop_session()
            raise TransactionConflictError(
                f"{self.url}: another writer committed {exc.actual_parent} to branch "
                f"{self.branch!r} while this write ran (it started from {exc.expected_parent}); "
                "nothing of this write was committed.",
                other=str(exc.actual_parent),
            ) from None
        except Exception as exc:
            self._drop_session()
            if is_icechunk_error(exc):
                raise self._fail(exc, "the commit") from None
            raise

    def abort_transaction(self) -> None:
        """Drop the changes of a write that failed; nothing of it is committed."""
        self._in_transaction = False
        self._drop_session()

    def _drop_session(self) -> None:
        session, self._session, self._foreign = self._session, None, None
        if session is not None and not session.read_only:
            try:
                session.discard_changes()
            except Exception as exc:  # nothing to keep either way: the session is dropped
                if not is_icechunk_error(exc):
                    raise

    async def _change(self, change: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``change(store)`` inside the transaction, or commit it on its own."""
        if self._in_transaction:
            return await change(self._session.store)
        async with loop_lock(self._commit_locks):
            import icechunk

            lost = (icechunk.ConflictError, icechunk.RebaseFailedError)
            for attempt in range(_CHANGE_ATTEMPTS):
                session = await asyncio.to_thread(self._writable_session)
                try:
                    result = await change(session.store)
                    if session.has_uncommitted_changes:
                        await session.commit_async(self.message or DEFAULT_MESSAGE)
                    return result
                except lost as exc:
                    # Another writer committed first: the call is made again on the new
                    # tip. (Not Icechunk's rebase: two first puts of foreign keys both
                    # make the hidden array, and a rebase let one array replace the other.)
                    self._drop_session()
                    if attempt + 1 == _CHANGE_ATTEMPTS:
                        raise self._fail(exc, "a change") from None
                except BaseException as exc:
                    self._drop_session()
                    if is_icechunk_error(exc):
                        raise self._fail(exc, "a change") from None
                    raise
            raise AssertionError("unreachable")

    def _close(self) -> None:
        if self._in_transaction:
            self.abort_transaction()
        self._session = None
        self._repo = None

    async def _aclose(self) -> None:
        self._close()

    # -- primitives ----------------------------------------------------------------------------
    async def _aget(self, key: str) -> bytes:
        found = await self._read(await self._session_for_reads(), key)
        if found is None:
            raise missing_key(key, self.url)
        return found

    async def _session_for_reads(self) -> Any:
        """The session a read call goes through (once per call, whatever its keys).

        Outside a write, reading a branch follows its tip: a call made after
        another writer (another instance, another process) committed sees that
        commit, as on any other backend. The core's readers notice a commit that
        lands between two calls of one read and read again.
        """
        session = self._session
        following = not (self._in_transaction or self.tag or self.snapshot)
        if session is not None and not (following and session.read_only):
            return session
        return await asyncio.to_thread(self._tip_reader)

    def _tip_reader(self) -> Any:
        session = self._session
        if session is not None:
            try:
                moved = self.repository().lookup_branch(self.branch) != session.snapshot_id
            except Exception as exc:
                if not is_icechunk_error(exc):
                    raise
                moved = True  # the branch is gone: say so through _reader
            if not moved:
                return session
            self._session = None
        return self._reader()

    async def _read(
        self, session: Any, key: str, start: int | None = None, length: int | None = None
    ) -> bytes | None:
        """``key``'s bytes (from ``start``, ``length`` of them), or ``None`` if missing."""
        if session is None:
            return None
        store = session.store
        if ks.is_native_candidate(key):
            found = await self._native_get(store, key, _byte_request(start, length))
            if found is not None:
                return found
        value = await self._foreign_get(store, key)
        if value is None or start is None:
            return value
        return value[start:] if length is None else value[start : start + length]

    async def _aget_range(self, key: str, start: int, length: int | None) -> bytes:
        found = await self._read(await self._session_for_reads(), key, start, length)
        if found is None:
            raise missing_key(key, self.url)
        return found

    async def _ahead(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(await self._aget(key)))

    async def _aexists(self, key: str) -> bool:
        return await self._read(await self._session_for_reads(), key) is not None

    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        session = await self._session_for_reads()
        found = await self._native_batch(session, keys)

        async def one(key: str) -> tuple[str, bytes | None]:
            return key, await self._read(session, key)

        rest = await amap_bounded(one, [k for k in keys if k not in found], self.max_concurrency)
        found.update((k, v) for k, v in rest if v is not None)
        return found

    async def _native_batch(self, session: Any, keys: list[str]) -> dict[str, bytes]:
        """Icechunk's own objects among ``keys``, fetched in one call of its batch read.

        One call hands every key to Icechunk's runtime, which fetches them
        concurrently without a Python coroutine per key. Anything it cannot answer
        that way (a key it does not hold, a version without the call) is left to
        the key-by-key path.
        """
        native = [k for k in keys if ks.is_native_candidate(k)]
        batch = getattr(getattr(session, "store", None), "_store", None)
        if session is None or not native or batch is None:
            return {}
        try:
            values = await batch.get_partial_values([(k, (None, None)) for k in native])
        except Exception as exc:
            if is_icechunk_error(exc) or isinstance(
                exc, AttributeError | KeyError | ValueError | TypeError
            ):
                return {}
            raise
        return {k: bytes(v) for k, v in zip(native, values, strict=True) if v is not None}

    async def _alist(self, prefix: str, recursive: bool) -> list[str]:
        session = await self._session_for_reads()
        if session is None:
            return []
        store = session.store
        keys = set(await self._native_keys(store, prefix))
        keys.update(k for k in await self._foreign_index(store) if k.startswith(prefix))
        return children_of(prefix, keys, recursive)

    async def _aput(self, key: str, data: bytes) -> None:
        await self._aput_many([(key, data)])

    async def _aput_many(self, items: list[tuple[str, bytes]]) -> None:
        async def change(store: Any) -> None:
            native = [(k, v) for k, v in items if ks.is_native_candidate(k)]
            docs = sorted((i for i in native if i[0].endswith("zarr.json")), key=_item_order)
            for key, data in docs:  # parents before children, arrays before their chunks
                self.check_fence()
                await self._put_one(store, key, data)

            async def put(item: tuple[str, bytes]) -> None:
                self.check_fence()
                key, data = item
                if not await self._native_set(store, key, data):
                    await self._put_one(store, key, data)

            chunks = [i for i in native if not i[0].endswith("zarr.json")]
            index = await self._foreign_index(store)
            fast = [i for i in chunks if i[0] not in index]
            await amap_bounded(put, fast, self.max_concurrency)
            for key, data in [i for i in chunks if i[0] in index]:
                await self._put_one(store, key, data)
            foreign = [(k, v) for k, v in items if not ks.is_native_candidate(k)]
            if foreign:
                await self._foreign_put_many(store, foreign)

        await self._change(change)

    async def _adelete(self, key: str) -> None:
        await self._adelete_many([key])

    async def _adelete_many(self, keys: list[str]) -> None:
        async def change(store: Any) -> None:
            docs = {k for k in keys if ks.is_native_candidate(k) and k.endswith("zarr.json")}
            chunks = [k for k in keys if k not in docs]

            async def drop(key: str) -> None:
                self.check_fence()
                await self._delete_one(store, key)

            await amap_bounded(drop, chunks, self.max_concurrency)
            # Documents deepest first, so a node's children are gone before it is.
            for key in sorted(docs, key=parents_first, reverse=True):
                self.check_fence()
                await self._delete_one(store, key)

        await self._change(change)

    async def _adelete_prefix(self, prefix: str) -> None:
        if prefix:
            await self._adelete_many(await self._alist(prefix, True))
            return

        async def change(store: Any) -> None:
            # Everything: each node with its subtree (Icechunk deletes a node's
            # descendants with it), the deepest first so that none is left behind.
            self.check_fence()
            keys = await self._native_under(store, "")
            docs = [k for k in keys if k.endswith("zarr.json")]
            for key in sorted(docs, key=parents_first, reverse=True):
                await store.delete(key)
            for key in [k async for k in store.list()]:
                await store.delete(key)
            self._foreign = {}

        await self._change(change)

    async def _amove_many(self, pairs: list[tuple[str, str]]) -> None:
        async def change(store: Any) -> None:
            found = await self._aget_many([s for s, _ in pairs])
            moved = [(d, found[s]) for s, d in pairs if s in found]
            await self._aput_many(moved)
            await self._adelete_many([s for s, _ in pairs if s in found])

        if self._in_transaction:
            await change(None)
            return
        # One commit for the whole move: a transaction of its own, made again on the new
        # tip if another writer committed meanwhile (a move re-run is the same move).
        for attempt in range(_CHANGE_ATTEMPTS):
            await asyncio.to_thread(self.begin_transaction)
            try:
                await change(None)
            except BaseException:
                await asyncio.to_thread(self.abort_transaction)
                raise
            try:
                await asyncio.to_thread(self.commit_transaction, self.message or DEFAULT_MESSAGE)
                return
            except TransactionConflictError:
                if attempt + 1 == _CHANGE_ATTEMPTS:
                    raise

    async def _aroot_exists(self) -> bool:
        return True


def _byte_request(start: int | None, length: int | None) -> Any:
    """zarr-python's byte request for ``[start, start + length)`` (``None``: everything)."""
    if start is None:
        return None
    from zarr.abc.store import OffsetByteRequest, RangeByteRequest

    if length is None:
        return OffsetByteRequest(start)
    return RangeByteRequest(start, start + length)


def _item_order(item: tuple[str, bytes]) -> tuple[int, bool, str]:
    return parents_first(item[0])


def run(coro: Awaitable[T]) -> T:
    """Run ``coro`` on the core's one I/O loop (for the helpers in this package)."""

    async def wrap() -> T:
        return await coro

    return run_sync(wrap())

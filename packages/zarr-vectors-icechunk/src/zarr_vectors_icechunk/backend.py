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
  committed on its own, rebased over other writers' commits when they touched
  other keys (Icechunk's conflict detector), so a plain key/value user of the
  backend sees every call land whole and persist.

Keys Icechunk does not hold as Zarr nodes live in a hidden array
(:mod:`zarr_vectors_icechunk.keyspace`).
"""

from __future__ import annotations

import asyncio
import re
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
from zarr_vectors_icechunk.storage import Location, make_location

__all__ = ["DEFAULT_MESSAGE", "IcechunkBackend", "check_ref_name"]

T = TypeVar("T")

#: The message of a commit made by a single protocol call (a write gets the core's summary).
DEFAULT_MESSAGE = "zarr-vectors: key/value change"
#: Branch and tag names taken: what Git would take, in short (Icechunk takes nearly anything).
_REF_NAME = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9._\-]{1,100}(?<!\.lock)$")
_SNAPSHOT_ID = re.compile(r"^[0-9A-Z]{20}$")


def check_ref_name(kind: str, name: object) -> str:
    """``name`` if it is a usable branch or tag name; ``BackendOptionError`` otherwise."""
    if not isinstance(name, str) or not _REF_NAME.match(name):
        raise BackendOptionError(
            f"{kind} name {name!r} is not usable: give 1 to 100 letters, digits, '.', '_' or "
            "'-', not starting with '.', without '..' (e.g. 'main', 'survey-2024')."
        )
    return name


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


def _is_icechunk_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("icechunk") or type(exc).__name__ == "IcechunkError"


class IcechunkBackend(AsyncBackend):
    """A zarr-vectors backend over an Icechunk repository (see the module docstring)."""

    backend_name: ClassVar[str] = "icechunk"
    transactional: ClassVar[bool] = True
    default_max_concurrency: ClassVar[int] = 64

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
        super().__init__(location.url, max_concurrency=max_concurrency, secrets=location.secrets)
        self.location = location
        self.branch = branch or "main"
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
        self._commit_lock: asyncio.Lock | None = None
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
        first = str(exc).strip().splitlines()
        text = first[0].strip(" x") if first else type(exc).__name__
        return StoreError(self.redact(f"Icechunk refused {what} at {self.url}: {text}"))

    def repository(self, *, create: bool = False) -> Any:
        """The Icechunk repository (``None`` if there is none and ``create`` is false)."""
        if self._repo is not None:
            return self._repo
        import icechunk

        storage = self.location.storage
        try:
            if icechunk.Repository.exists(storage):
                self._repo = icechunk.Repository.open(storage)
            elif create:
                try:
                    self._repo = icechunk.Repository.create(storage)
                except Exception as exc:  # another process created it first
                    if not _is_icechunk_error(exc) or not icechunk.Repository.exists(storage):
                        raise
                    self._repo = icechunk.Repository.open(storage)
        except Exception as exc:
            if _is_icechunk_error(exc):
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
                return None  # a branch not made yet reads as an empty store
        except Exception as exc:
            if not _is_icechunk_error(exc):
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

    def _writable_session(self) -> Any:
        """A writable session on the tip of the branch (made, with the branch, if needed)."""
        if not self.writable:
            raise ReadOnlyBackendError(
                f"{self!r} reads a {'tag' if self.tag else 'snapshot'}, which cannot change; "
                "write to a branch (branch='main' or a new name) instead."
            )
        repo = self.repository(create=True)
        try:
            if self.branch not in repo.list_branches():
                repo.create_branch(self.branch, repo.lookup_branch("main"))
            session = repo.writable_session(self.branch)
        except Exception as exc:
            if _is_icechunk_error(exc):
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
            if _is_icechunk_error(exc):
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
                if not _is_icechunk_error(exc):
                    raise

    async def _change(self, change: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``change(store)`` inside the transaction, or commit it on its own."""
        if self._in_transaction:
            return await change(self._session.store)
        if self._commit_lock is None:
            self._commit_lock = asyncio.Lock()
        async with self._commit_lock:
            import icechunk

            session = await asyncio.to_thread(self._writable_session)
            try:
                result = await change(session.store)
                if session.has_uncommitted_changes:
                    await session.commit_async(
                        self.message or DEFAULT_MESSAGE, rebase_with=icechunk.ConflictDetector()
                    )
            except BaseException as exc:
                self._drop_session()
                if _is_icechunk_error(exc):
                    raise self._fail(exc, "a change") from None
                raise
            return result

    def _close(self) -> None:
        if self._in_transaction:
            self.abort_transaction()
        self._session = None
        self._repo = None

    async def _aclose(self) -> None:
        self._close()

    # -- native and foreign objects ---------------------------------------------------------
    async def _native_get(self, store: Any, key: str, byte_range: Any = None) -> bytes | None:
        from zarr.core.buffer import default_buffer_prototype

        try:
            found = await store.get(key, default_buffer_prototype(), byte_range=byte_range)
        except Exception as exc:
            if _is_icechunk_error(exc):
                return None  # not a key Icechunk holds (an array that is not there...)
            raise
        return None if found is None else bytes(found.to_bytes())

    async def _native_set(self, store: Any, key: str, data: bytes) -> bool:
        from zarr.core.buffer.cpu import Buffer

        try:
            await store.set(key, Buffer.from_bytes(data))
        except KeyError:
            return False  # a chunk of an array that is not there
        except Exception as exc:
            if _is_icechunk_error(exc):
                return False
            raise
        return True

    async def _native_exists(self, store: Any, key: str) -> bool:
        try:
            return bool(await store.exists(key))
        except Exception as exc:
            if _is_icechunk_error(exc) or isinstance(exc, KeyError):
                return False  # not a key Icechunk can hold here
            raise

    async def _native_under(self, store: Any, prefix: str) -> list[str]:
        """Every key Icechunk holds under ``prefix`` ('' or ending in '/'), hidden ones too.

        Icechunk lists under a node's path only; under any other prefix (a chunk
        folder, a path of no node) the whole repository is listed and filtered.
        """
        try:
            listed = [k async for k in store.list_prefix(prefix.rstrip("/"))]
        except Exception as exc:
            if not _is_icechunk_error(exc):
                raise
            listed = [k async for k in store.list()]
        return [k for k in listed if k.startswith(prefix)]

    async def _native_keys(self, store: Any, prefix: str) -> list[str]:
        return [k for k in await self._native_under(store, prefix) if not ks.is_reserved(k)]

    async def _foreign_index(self, store: Any) -> dict[str, str]:
        if self._foreign is None:
            chunks: list[str] = []
            if await store.exists(ks.KV_DOC_KEY):
                listed = [k async for k in store.list_prefix(ks.KV_ARRAY)]
                chunks = [k for k in listed if k.startswith(ks.KV_CHUNKS)]

            async def name_of(chunk: str) -> tuple[str, str] | None:
                blob = await self._native_get(store, chunk)
                return None if blob is None else (ks.unpack(blob, self.url)[0], chunk)

            named = await amap_bounded(name_of, chunks, self.max_concurrency)
            self._foreign = dict(n for n in named if n is not None)
        return self._foreign

    async def _foreign_get(self, store: Any, key: str) -> bytes | None:
        index = await self._foreign_index(store)
        chunk = index.get(key)
        if chunk is None:
            return None
        blob = await self._native_get(store, chunk)
        return None if blob is None else ks.unpack(blob, self.url)[1]

    async def _foreign_put(self, store: Any, key: str, data: bytes) -> None:
        index = await self._foreign_index(store)
        chunk = ks.chunk_of(key)
        holder = next((k for k, c in index.items() if c == chunk and k != key), None)
        if holder is not None:
            raise StoreError(f"{self.url}: keys {key!r} and {holder!r} hash alike; rename one.")
        if not await store.exists(ks.KV_DOC_KEY):
            await self._native_set(store, ks.KV_DOC_KEY, ks.kv_array_doc())
        if not await self._native_set(store, chunk, ks.pack(key, data)):
            raise StoreError(f"{self.url}: Icechunk refused the hidden key array's chunk {chunk}")
        index[key] = chunk

    async def _foreign_delete(self, store: Any, key: str) -> None:
        index = await self._foreign_index(store)
        chunk = index.pop(key, None)
        if chunk is not None:
            await store.delete(chunk)

    async def _native_delete(self, store: Any, key: str) -> None:
        """Delete one native key; a node's document without taking its descendants along.

        Icechunk deletes a node with everything under it; the protocol deletes one
        key. So the keys under a deleted document are read first and put back (a
        chunk of an array that is gone becomes a foreign key). Zarr-vectors itself
        deletes children before their parents, which never needs this.
        """
        if not await self._native_exists(store, key):
            return
        if key.rsplit("/", 1)[-1] != "zarr.json":
            await store.delete(key)
            return
        folder = key[: -len("zarr.json")]
        under = [k for k in await self._native_under(store, folder) if k != key]
        saved = {k: await self._native_get(store, k) for k in under}
        await store.delete(key)
        hidden = sorted(k for k in saved if ks.is_reserved(k))
        for k in sorted(hidden, key=lambda k: (not k.endswith("zarr.json"), k)):
            await self._native_set(store, k, saved[k] or b"")
        rest = sorted((k for k in saved if not ks.is_reserved(k)), key=_parents_first)
        for k in rest:
            await self._put_one(store, k, saved[k] or b"")

    async def _put_one(self, store: Any, key: str, data: bytes) -> None:
        if ks.is_native_candidate(key) and await self._native_set(store, key, data):
            index = await self._foreign_index(store)
            if key in index:
                await self._foreign_delete(store, key)
            if key.endswith("zarr.json") and index:
                await self._adopt_chunks(store, key[: -len("zarr.json")])
            return
        await self._foreign_put(store, key, data)
        if ks.is_native_candidate(key) and await self._native_exists(store, key):
            await self._native_delete(store, key)

    async def _adopt_chunks(self, store: Any, folder: str) -> None:
        """Chunks kept as foreign keys because their array was missing, now stored natively."""
        index = await self._foreign_index(store)
        for key in [k for k in index if k.startswith(folder + "c/")]:
            value = await self._foreign_get(store, key)
            if value is not None and await self._native_set(store, key, value):
                await self._foreign_delete(store, key)

    async def _delete_one(self, store: Any, key: str) -> None:
        if ks.is_native_candidate(key):
            await self._native_delete(store, key)
        await self._foreign_delete(store, key)

    # -- primitives ----------------------------------------------------------------------------
    async def _aget(self, key: str) -> bytes:
        found = await self._read(key)
        if found is None:
            raise missing_key(key, self.url)
        return found

    async def _session_for_reads(self) -> Any:
        if self._session is not None:
            return self._session
        return await asyncio.to_thread(self._reader)

    async def _read(
        self, key: str, start: int | None = None, length: int | None = None
    ) -> bytes | None:
        """``key``'s bytes (from ``start``, ``length`` of them), or ``None`` if missing."""
        session = await self._session_for_reads()
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
        found = await self._read(key, start, length)
        if found is None:
            raise missing_key(key, self.url)
        return found

    async def _ahead(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(await self._aget(key)))

    async def _aexists(self, key: str) -> bool:
        return await self._read(key) is not None

    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        async def one(key: str) -> tuple[str, bytes | None]:
            return key, await self._read(key)

        found = await amap_bounded(one, keys, self.max_concurrency)
        return {k: v for k, v in found if v is not None}

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
            for key, data in items:
                if not ks.is_native_candidate(key):
                    self.check_fence()
                    await self._put_one(store, key, data)

        await self._change(change)

    async def _adelete(self, key: str) -> None:
        await self._adelete_many([key])

    async def _adelete_many(self, keys: list[str]) -> None:
        async def change(store: Any) -> None:
            chunks = [k for k in keys if ks.is_native_candidate(k) and not k.endswith("zarr.json")]

            async def drop(key: str) -> None:
                self.check_fence()
                await self._delete_one(store, key)

            await amap_bounded(drop, chunks, self.max_concurrency)
            # Documents deepest first, so a node's children are gone before it is.
            for key in sorted(set(keys) - set(chunks), key=_parents_first, reverse=True):
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
            for key in sorted(docs, key=_parents_first, reverse=True):
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
        # One commit for the whole move: run it as a transaction of its own.
        await asyncio.to_thread(self.begin_transaction)
        try:
            await change(None)
        except BaseException:
            await asyncio.to_thread(self.abort_transaction)
            raise
        await asyncio.to_thread(self.commit_transaction, self.message or DEFAULT_MESSAGE)

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


def _parents_first(key: str) -> tuple[int, bool, str]:
    """Sort key: shallower keys first, a folder's document before its other keys."""
    return (key.count("/"), not key.endswith("zarr.json"), key)


def _item_order(item: tuple[str, bytes]) -> tuple[int, bool, str]:
    return _parents_first(item[0])


def run(coro: Awaitable[T]) -> T:
    """Run ``coro`` on the core's one I/O loop (for the helpers in this package)."""

    async def wrap() -> T:
        return await coro

    return run_sync(wrap())

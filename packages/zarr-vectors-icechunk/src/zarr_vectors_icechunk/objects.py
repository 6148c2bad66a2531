"""How the icechunk backend stores a key: as Icechunk's own node or chunk, or in the key array.

The rules are in :mod:`zarr_vectors_icechunk.keyspace`; this mixin applies them
to one Icechunk store (a session's ``store``): reads, puts and deletes of one key
wherever it lives, and the index of foreign keys, read once per session.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from zarr_vectors.exceptions import StoreError
from zarr_vectors.storage.concurrency import amap_bounded
from zarr_vectors_icechunk import keyspace as ks

__all__ = ["IcechunkObjects", "headline", "is_icechunk_error", "loop_lock", "parents_first"]

#: Words of an Icechunk error that come from its storage (a refused or failed request),
#: not from the key (a node that is not there, bad metadata).
_STORAGE_FAILURE = ("object store error", "storage error")


def is_icechunk_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from Icechunk (its errors have no common Python base)."""
    return type(exc).__module__.startswith("icechunk") or type(exc).__name__ == "IcechunkError"


def headline(report: str) -> str:
    """The first paragraph of an Icechunk error report, as one line.

    Icechunk's reports begin with the error (``x`` then the text, wrapped onto
    lines that start with ``|``) and go on with its context and causes; the
    server's answer is often on the wrapped lines, so they are kept.
    """
    parts: list[str] = []
    for line in report.strip().splitlines():
        text = line.strip().removeprefix("x").removeprefix("|").strip()
        if not text:
            break
        parts.append(text)
    return " ".join(parts)


def loop_lock(locks: weakref.WeakKeyDictionary[Any, asyncio.Lock]) -> asyncio.Lock:
    """The lock of ``locks`` for the running event loop (an asyncio lock serves one loop).

    A backend is used from the core's I/O loop (blocking calls) and from callers'
    own loops (``a``-methods) at once; each loop serialises its own calls.
    """
    loop = asyncio.get_running_loop()
    lock = locks.get(loop)
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    return lock


def parents_first(key: str) -> tuple[int, bool, str]:
    """Sort key: shallower keys first, a folder's document before its other keys."""
    return (key.count("/"), not key.endswith("zarr.json"), key)


class IcechunkObjects:
    """Objects of one Icechunk store, native or foreign (mixed into the backend)."""

    url: str
    max_concurrency: int
    #: Foreign key -> its chunk key, for the current session (None: not read yet).
    _foreign: dict[str, str] | None
    _index_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock]

    if TYPE_CHECKING:

        def check_fence(self) -> None:
            """Supplied by the backend's base class (the write fence)."""

        def redact(self, text: str) -> str:
            """Supplied by the backend's base class (credentials scrubbed)."""

    async def _native_get(self, store: Any, key: str, byte_range: Any = None) -> bytes | None:
        from zarr.core.buffer import default_buffer_prototype

        try:
            found = await store.get(key, default_buffer_prototype(), byte_range=byte_range)
        except Exception as exc:
            if is_icechunk_error(exc):
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
            if not is_icechunk_error(exc):
                raise
            text = headline(str(exc))
            if any(words in text for words in _STORAGE_FAILURE):
                # The storage refused the write (no permission, no space...): say so,
                # rather than keeping the key elsewhere and failing there, less clearly.
                raise StoreError(
                    self.redact(f"{self.url}: Icechunk could not write {key}: {text}")
                ) from None
            return False  # a key Icechunk does not hold as a node (bad metadata...)
        return True

    async def _native_exists(self, store: Any, key: str) -> bool:
        try:
            return bool(await store.exists(key))
        except Exception as exc:
            if is_icechunk_error(exc) or isinstance(exc, KeyError):
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
            if not is_icechunk_error(exc):
                raise
            listed = [k async for k in store.list()]
        return [k for k in listed if k.startswith(prefix)]

    async def _native_keys(self, store: Any, prefix: str) -> list[str]:
        return [k for k in await self._native_under(store, prefix) if not ks.is_reserved(k)]

    async def _foreign_index(self, store: Any) -> dict[str, str]:
        """Foreign key -> chunk, read once per session (one reader; the others wait for it)."""
        if self._foreign is not None:
            return self._foreign
        async with loop_lock(self._index_locks):
            if self._foreign is None:
                self._foreign = await self._read_index(store)
            return self._foreign

    async def _read_index(self, store: Any) -> dict[str, str]:
        chunks: list[str] = []
        if await store.exists(ks.KV_DOC_KEY):
            listed = [k async for k in store.list_prefix(ks.KV_ARRAY)]
            chunks = [k for k in listed if k.startswith(ks.KV_CHUNKS)]

        async def name_of(chunk: str) -> tuple[str, str] | None:
            blob = await self._native_get(store, chunk)
            return None if blob is None else (ks.unpack(blob, self.url)[0], chunk)

        named = await amap_bounded(name_of, chunks, self.max_concurrency)
        return dict(n for n in named if n is not None)

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

    async def _foreign_put_many(self, store: Any, items: list[tuple[str, bytes]]) -> None:
        """Foreign keys that Icechunk never holds itself, put concurrently."""
        for key, _ in items:
            await self._check_hash(store, key)
        if not await store.exists(ks.KV_DOC_KEY):
            await self._native_set(store, ks.KV_DOC_KEY, ks.kv_array_doc())
        index = await self._foreign_index(store)

        async def put(item: tuple[str, bytes]) -> None:
            self.check_fence()
            key, data = item
            chunk = ks.chunk_of(key)
            if not await self._native_set(store, chunk, ks.pack(key, data)):
                raise StoreError(f"{self.url}: Icechunk refused the key array's chunk {chunk}")
            index[key] = chunk

        await amap_bounded(put, items, self.max_concurrency)

    async def _check_hash(self, store: Any, key: str) -> None:
        index = await self._foreign_index(store)
        chunk = ks.chunk_of(key)
        holder = next((k for k, c in index.items() if c == chunk and k != key), None)
        if holder is not None:
            raise StoreError(f"{self.url}: keys {key!r} and {holder!r} hash alike; rename one.")

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
        rest = sorted((k for k in saved if not ks.is_reserved(k)), key=parents_first)
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

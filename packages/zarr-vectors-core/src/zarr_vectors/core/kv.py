"""Batched byte I/O on a zarr-python store, and turning ``path`` into one.

The point writers and readers move many small cells. Each batch here is one
``asyncio.gather`` over the store's own coroutines, bounded by a semaphore, run
on zarr-python's event loop; that is what lets a remote backend keep many
requests in flight.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from zarr_vectors.exceptions import ReadOnlyBackendError

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = [
    "KV",
    "resolve_store",
]

T = TypeVar("T")
DEFAULT_CONCURRENCY = 64


def resolve_store(
    path: Any, *, mode: str, backend: Any = None, backend_kwargs: Mapping[str, Any] | None = None
) -> Store:
    """A zarr store for ``path`` (str, Path, URL, backend or zarr store) opened for ``mode``.

    A zarr store is used as it is. Everything else goes through the project's
    one bridge, :func:`zarr_vectors.core.store_path.as_zarr_store`.
    """
    from zarr_vectors.core.store_path import as_zarr_store

    return as_zarr_store(path, mode=mode, backend=backend, **dict(backend_kwargs or {}))


def _sync(coro: Awaitable[T]) -> T:
    from zarr.core.sync import sync

    return sync(coro)  # type: ignore[arg-type]


class KV:
    """Bytes and JSON by key on one zarr store, with batched concurrent calls."""

    def __init__(self, store: Store, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.store = store
        self.concurrency = concurrency
        self._direct = _direct_io(store)
        from zarr.core.buffer import default_buffer_prototype

        self._proto = default_buffer_prototype()

    # -- async primitives ---------------------------------------------------
    async def _bounded(self, funcs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
        import asyncio

        if not getattr(self.store, "_is_open", True):
            await self.store._ensure_open()  # ZipStore and friends open lazily
        sem = asyncio.Semaphore(self.concurrency)

        async def one(f: Callable[[], Awaitable[T]]) -> T:
            async with sem:
                return await f()

        return list(await asyncio.gather(*(one(f) for f in funcs)))

    async def aget_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Values of the keys that exist (missing keys are left out)."""

        def getter(k: str) -> Callable[[], Awaitable[Any]]:
            return lambda: self.store.get(k, self._proto)

        bufs = await self._bounded([getter(k) for k in keys])
        return {k: b.to_bytes() for k, b in zip(keys, bufs, strict=True) if b is not None}

    async def aset_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Write every ``(key, bytes)`` pair."""
        self.check_writable()
        from zarr.core.buffer import default_buffer_prototype

        buf = default_buffer_prototype().buffer

        def setter(k: str, v: bytes) -> Callable[[], Awaitable[None]]:
            return lambda: self.store.set(k, buf.from_bytes(v))

        await self._bounded([setter(k, v) for k, v in items])

    async def adelete_many(self, keys: Iterable[str]) -> None:
        """Delete keys (missing keys are fine)."""
        self.check_writable()

        def deleter(k: str) -> Callable[[], Awaitable[None]]:
            return lambda: self.store.delete(k)

        await self._bounded([deleter(k) for k in keys])

    async def alist(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (recursively)."""
        if not getattr(self.store, "_is_open", True):
            await self.store._ensure_open()
        return [k async for k in self.store.list_prefix(prefix)]

    # -- sync conveniences --------------------------------------------------
    def check_writable(self) -> None:
        """Raise :class:`ReadOnlyBackendError` if the store cannot be written."""
        if self.store.read_only:
            raise ReadOnlyBackendError(
                f"{self.describe()} is open read-only; open it for writing to change it"
            )

    def describe(self) -> str:
        """A short, credential-free name of the store for messages."""
        from zarr_vectors.core.secrets import redact_text, redact_url

        text = str(self.store)
        return redact_url(text) if "://" in text else redact_text(text, ())

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Values of the keys that exist, fetched concurrently."""
        if self._direct is not None:
            return dict(self._direct.get_many(list(keys)))
        return _sync(self.aget_many(keys))

    def set_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Write every item, concurrently."""
        self.check_writable()
        if self._direct is not None:
            self._direct.put_many(list(items))
            return
        _sync(self.aset_many(list(items)))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete keys (missing keys are fine)."""
        self.check_writable()
        if self._direct is not None:
            for k in keys:
                self._direct.delete(k)
            return
        _sync(self.adelete_many(list(keys)))

    def list(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, recursively."""
        if self._direct is not None:
            return sorted(self._direct.list_prefix(prefix, recursive=True))
        return _sync(self.alist(prefix))

    def get(self, key: str) -> bytes | None:
        return self.get_many([key]).get(key)

    def get_json(self, key: str) -> dict[str, Any] | None:
        raw = self.get(key)
        return None if raw is None else dict(json.loads(raw))

    def get_jsons(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self.get_many(keys).items()}

    def set_json(self, key: str, doc: Mapping[str, Any]) -> None:
        self.set_many([(key, dump_json(doc))])

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix`` ("" = the whole store)."""
        self.check_writable()
        keys = self.list(prefix)
        if keys:
            self.delete_many(keys)

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine of this object to completion from sync code."""
        return _sync(coro)


def _direct_io(store: Store) -> Any:
    """The backend behind ``store``, whose batch calls skip zarr-python's event loop.

    A bridge store exposes its backend; a zarr ``LocalStore`` is served by a
    :class:`~zarr_vectors.core.backends.local.LocalBackend` on the same directory
    (the local backend batches its reads and resolves each directory once).
    Any other zarr store goes through its own coroutines.
    """
    from zarr.storage import LocalStore

    if isinstance(store, LocalStore):
        from zarr_vectors.core.backends.local import LocalBackend

        return LocalBackend(store.root)
    backend = getattr(store, "backend", None)
    if backend is not None and all(
        hasattr(backend, m) for m in ("get_many", "put_many", "delete", "list_prefix")
    ):
        return backend
    return None


def dump_json(doc: Mapping[str, Any]) -> bytes:
    """``zarr.json`` bytes (indented, like zarr-python writes them)."""
    return json.dumps(doc, indent=2, allow_nan=False).encode()

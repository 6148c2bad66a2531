"""A template for backends whose client is asynchronous: write the ``_a...`` primitives only."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from zarr_vectors.storage.base import MOVE_BATCH, Backend
from zarr_vectors.storage.protocol import ObjectInfo

__all__ = ["AsyncBackend"]

T = TypeVar("T")


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

    native_async = True

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

"""A byte-bounded cache of encoded chunks whose concurrent misses share one computation.

A browser asks for many chunks at once, and several viewers (or one viewer
after a pan back) ask for the same chunk again. Entries are keyed by the store
state they were read from (see :mod:`zarr_vectors.serve.source`), so a chunk
is never served from a state other than the request's. A miss starts the
computation once; every request for the same key that arrives while it runs
waits for that one result (a failure reaches all of them and is not cached).
Finished entries are kept, least recently used first out, while their bytes
fit in ``max_bytes``; a chunk larger than a quarter of the budget is served
but not kept, so one huge chunk cannot push out everything else.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["ChunkCache"]


class ChunkCache:
    """Encoded chunks by key, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._inflight: dict[Hashable, asyncio.Future[bytes]] = {}
        #: How many results were computed (misses), for tests and the benchmark.
        self.computed = 0

    @property
    def size(self) -> int:
        """Bytes held by finished entries."""
        return self._bytes

    def clear(self) -> None:
        """Drop every finished entry (computations in flight finish for their waiters)."""
        self._entries.clear()
        self._bytes = 0

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The bytes for ``key``: cached, shared with a computation in flight, or computed."""
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            return hit
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure nobody else waited for is not "unhandled"
            raise
        else:
            future.set_result(value)
            self.computed += 1
            self._keep(key, value)
            return value
        finally:
            del self._inflight[key]

    def _keep(self, key: Hashable, value: bytes) -> None:
        if len(value) * 4 > self.max_bytes:
            return
        self._entries[key] = value
        self._bytes += len(value)
        while self._bytes > self.max_bytes and self._entries:
            _, old = self._entries.popitem(last=False)
            self._bytes -= len(old)

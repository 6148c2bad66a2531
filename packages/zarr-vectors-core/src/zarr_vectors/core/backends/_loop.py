"""A private event loop on a daemon thread, for running coroutines from sync code.

Backends whose library is natively async (obstore, async fsspec file systems)
implement the sync protocol by submitting their coroutines here. Using one
long-lived loop instead of ``asyncio.run`` per call keeps connection pools
alive between calls and works even when the caller is itself inside a
running event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["get_loop", "run_sync"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the shared background loop, starting its thread on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="zarr-vectors-io", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the background loop and block until it finishes."""
    loop = get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError(
            "run_sync() was called from the zarr-vectors I/O loop itself; "
            "use the async method (a...) instead."
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()

"""The one event loop that runs coroutines for blocking callers, and its orderly end.

Backends whose library is natively async (obstore, async fsspec file systems)
implement the blocking protocol by submitting their coroutines here, and so does
the adapter that lets a zarr-python store be used as a backend. One long-lived
loop on one daemon thread, instead of ``asyncio.run`` per call, keeps connection
pools alive between calls and works when the caller is itself inside a running
event loop.

At interpreter exit (:mod:`atexit`) the loop is drained and stopped: pending
tasks are cancelled and awaited, async generators and the default executor shut
down, the thread joined and the loop closed. No request can then complete
against an interpreter that is tearing itself down, which is what made a process
that had written to S3 abort with SIGABRT instead of exiting 0.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["get_loop", "run_sync", "shutdown"]

T = TypeVar("T")

#: Threads the loop's default executor may use (``asyncio.to_thread`` calls of
#: thread-based backends); each backend's ``max_concurrency`` bounds its own share.
EXECUTOR_THREADS = 64
#: Seconds ``shutdown`` waits for cancelled work before giving up on it.
SHUTDOWN_TIMEOUT = 10.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_registered = False


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the shared background loop, starting its thread on first use."""
    global _loop, _thread, _registered
    with _lock:
        if _loop is None or _loop.is_closed():
            from concurrent.futures import ThreadPoolExecutor

            loop = asyncio.new_event_loop()
            loop.set_default_executor(
                ThreadPoolExecutor(EXECUTOR_THREADS, thread_name_prefix="zarr-vectors-io")
            )
            thread = threading.Thread(target=loop.run_forever, name="zarr-vectors-io", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
            if not _registered:
                atexit.register(shutdown)
                _registered = True
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


async def _drain() -> None:
    """Cancel and await every other task, then close generators and the executor."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


def shutdown() -> None:
    """Drain and stop the background loop (registered with :mod:`atexit`; safe to call twice).

    A later :func:`run_sync` starts a fresh loop.
    """
    global _loop, _thread
    with _lock:
        loop, thread = _loop, _thread
        _loop = _thread = None
    if loop is None or loop.is_closed():
        return
    if thread is not None and thread.is_alive():
        future = asyncio.run_coroutine_threadsafe(_drain(), loop)
        # Exiting: a drain that fails must not mask the process's own exit status.
        with contextlib.suppress(Exception):
            future.result(SHUTDOWN_TIMEOUT + 1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(SHUTDOWN_TIMEOUT)
    if not loop.is_running():
        loop.close()

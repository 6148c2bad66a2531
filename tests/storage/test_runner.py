"""The shared event loop for blocking callers (zarr_vectors.storage.runner).

``shutdown`` is not called here: it would end the loop other tests of this
process share; the subprocess tests of the plugins exit through it.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from zarr_vectors.storage.runner import get_loop, run_sync


def test_coroutines_run_on_one_background_thread_and_return_their_result() -> None:
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    assert run_sync(where()) == "zarr-vectors-io"
    assert get_loop() is get_loop()  # one loop, kept between calls

    async def caller_in_its_own_loop() -> str:
        return run_sync(where())  # asyncio.run() here would refuse: a loop is running

    assert asyncio.run(caller_in_its_own_loop()) == "zarr-vectors-io"


def test_an_exception_reaches_the_caller() -> None:
    async def broken() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        run_sync(broken())


def test_blocking_on_the_loop_from_the_loop_is_refused_not_deadlocked() -> None:
    async def inner() -> int:
        return 1

    async def reenter() -> str:
        coro = inner()
        try:
            run_sync(coro)
        except RuntimeError as exc:
            return str(exc)
        return "not refused"

    assert "use the async method" in run_sync(reenter())

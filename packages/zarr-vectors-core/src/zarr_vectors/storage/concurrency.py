"""The one way zarr-vectors keeps many storage calls in flight, with a bound.

Every batch call of every backend (``get_many``, ``put_many``, ``delete_many``,
prefix checks) goes through :func:`amap_bounded` (coroutines) or
:func:`map_bounded` (blocking callables on threads). Both run a fixed number
of workers that pull items from one shared iterator, instead of one task or
thread per item behind a semaphore: with thousands of small objects, waking
thousands of waiting tasks costs more than the requests themselves on a fast
store (measured in ``bench/bench_batch_io.py``).

The bound is each backend's ``max_concurrency`` option; the defaults per kind
of backend are documented in ``docs/storage.md`` and chosen by measurement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["amap_bounded", "check_concurrency", "check_flag", "map_bounded"]

T = TypeVar("T")
R = TypeVar("R")


def check_concurrency(limit: object, owner: str = "max_concurrency") -> int:
    """``limit`` as an int >= 1, or a :class:`~zarr_vectors.exceptions.BackendOptionError`.

    The message names the option, the value and its type, and what is expected.
    """
    import numbers

    from zarr_vectors.exceptions import BackendOptionError

    if isinstance(limit, numbers.Integral) and not isinstance(limit, bool):
        limit = int(limit)  # numpy integers too
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        if isinstance(limit, str) and limit.strip().isdigit() and int(limit) >= 1:
            fix = f"pass the number, not a string: {owner}={int(limit)}"
        else:
            fix = f"pass a whole number of calls in flight, e.g. {owner}=8"
        kind = "an int below 1" if type(limit) is int else f"a {type(limit).__name__}"
        raise BackendOptionError(f"{owner} must be an integer >= 1, got {limit!r} ({kind}); {fix}.")
    return limit


def check_flag(value: object, owner: str) -> bool:
    """``value`` as a bool, or a :class:`~zarr_vectors.exceptions.BackendOptionError`.

    A string such as ``"false"`` would be true for ``bool()``: it is refused.
    """
    from zarr_vectors.exceptions import BackendOptionError

    if not isinstance(value, bool):
        raise BackendOptionError(
            f"{owner} must be True or False, got {value!r} (a {type(value).__name__}); "
            f"pass {owner}=True or {owner}=False (on the command line: --option {owner}=true)."
        )
    return value


async def amap_bounded(
    func: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int
) -> list[R]:
    """``[await func(x) for x in items]`` with at most ``limit`` calls in flight.

    Results keep the order of ``items``. The first exception cancels the other
    workers and propagates, as :func:`asyncio.gather` does.
    """
    import asyncio

    if len(items) <= 1 or limit <= 1:
        return [await func(x) for x in items]
    results: list[R | None] = [None] * len(items)
    indices = iter(range(len(items)))

    async def worker() -> None:
        for i in indices:
            results[i] = await func(items[i])

    workers = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(items)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return results  # type: ignore[return-value]


def map_bounded(func: Callable[[T], R], items: Sequence[T], limit: int) -> list[R]:
    """``[func(x) for x in items]`` on at most ``limit`` threads, in order.

    One item, or a limit of one, runs in the calling thread: a pool's
    hand-offs cost more than they overlap for a single call.
    """
    if len(items) <= 1 or limit <= 1:
        return [func(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(limit, len(items)), thread_name_prefix="zarr-vectors") as pool:
        return list(pool.map(func, items))

"""Batches: large ones (over a thousand keys), and the write fence inside every batch.

A backend that pages its batches (100 keys per DELETE request, 1,000 per
listing page) can drop everything after the first page; the state machines
draw batches of a few keys and never see it. :func:`check_large_batches` puts,
moves and deletes :attr:`KitConfig.batch_keys` objects in one call each,
through both protocols, and compares every object afterwards.

A writer holding a store's lease fences its writes (``Backend.write_fence``):
every write checks the fence first, and a batch checks it again before each
object, so that a writer stalled past its lease stops at the next object
instead of overwriting the next writer's work. The base class does that in its
batch defaults; a backend that overrides ``_put_many``, ``_delete_many`` or
``_move_many`` must call ``self.check_fence()`` itself.
:func:`check_write_fences` closes the fence right after the call's own first
check and makes sure each batch stops there, having changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zarr_vectors.testing.common import close_driver, driver_for, kit_error
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import Driver
from zarr_vectors.testing.model import explain_keys
from zarr_vectors.testing.show import show, show_keys
from zarr_vectors.testing.strategies import value_of
from zarr_vectors.testing.target import KitTarget
from zarr_vectors.testing.ticks import tick

__all__ = ["FenceClosedError", "check_large_batches", "check_write_fences"]


# -- large batches --------------------------------------------------------------------------
def _compare(target: KitTarget, driver: Driver, call: str, want: dict[str, bytes]) -> None:
    """The whole store holds exactly ``want`` after ``call``."""
    listed = driver.ls("", True)
    if listed != sorted(want):
        raise kit_error(
            target,
            f"[{driver.name}] list_prefix('', recursive=True) after {call} on "
            f"{target.description} returned {len(listed)} keys, expected {len(want)}: "
            f"{explain_keys(listed, sorted(want))}. A batch must handle every key it is "
            "given, however many (a storage that takes 100 or 1,000 keys per request needs "
            "a loop over the pages).",
        )
    found = driver.get_many(list(want))
    wrong = [k for k in want if found.get(k) != want[k]]
    if wrong:
        raise kit_error(
            target,
            f"[{driver.name}] get_many after {call} on {target.description}: "
            f"{len(wrong)} of {len(want)} keys are missing or hold other values, e.g. "
            f"{show_keys(wrong)}.",
        )


def check_large_batches(target: KitTarget, config: KitConfig) -> None:
    """put_many, move_many and delete_many of more than a thousand keys, sync and async."""
    count = config.batch_keys
    for mode in ("sync", "async"):
        tick()
        backend = target.fresh()
        driver = driver_for(mode, backend)
        try:
            items = {f"batch/{mode}/{i:05d}": value_of(1 + i % 7, i) for i in range(count)}
            driver.put_many(list(items.items()))
            _compare(target, driver, f"put_many of {count} objects", items)
            moves = [(k, k.replace("batch/", "moved/", 1)) for k in items]
            driver.move_many(moves)
            moved = {dest: items[source] for source, dest in moves}
            _compare(target, driver, f"move_many of {count} pairs", moved)
            # a missing key among them changes nothing
            driver.delete_many([*moved, "batch/never-stored"])
            _compare(target, driver, f"delete_many of {count + 1} keys", {})
        finally:
            close_driver(target, driver, backend)


# -- write fences -----------------------------------------------------------------------------
class FenceClosedError(Exception):
    """Raised by the kit's write fence once it is closed (a stand-in for a lost lease)."""


class _Fence:
    """Lets the call's own first check through, then refuses every later one."""

    def __init__(self) -> None:
        self.checks = 0

    def __call__(self) -> None:
        self.checks += 1
        if self.checks > 1:
            raise FenceClosedError("the kit's write fence is closed")


def _stopped_by(exc: BaseException) -> bool:
    """Whether ``exc`` is (or was caused by, or groups) the kit's fence error."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, FenceClosedError):
            return True
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(getattr(current, "exceptions", ()))
    return False


_BATCHES: dict[str, tuple[str, Callable[[Driver, list[str]], Any]]] = {
    "put_many": (
        "_put_many",
        lambda d, keys: d.put_many([(f"fence/new-{i}", b"new") for i in range(len(keys))]),
    ),
    "delete_many": ("_delete_many", lambda d, keys: d.delete_many(keys)),
    "move_many": (
        "_move_many",
        lambda d, keys: d.move_many([(k, k.replace("fence/", "fence-moved/")) for k in keys]),
    ),
}


def check_write_fences(target: KitTarget, config: KitConfig) -> None:
    """Every batch stops at a closed write fence before touching an object, sync and async."""
    for mode in ("sync", "async"):
        for name, (hook, call) in _BATCHES.items():
            tick()
            backend = target.fresh()
            driver = driver_for(mode, backend)
            try:
                if getattr(backend, "write_fence", None) is None:
                    return  # not a Backend subclass: writers cannot fence it at all
                _fenced_batch(target, driver, backend, name, hook, call)
            finally:
                close_driver(target, driver, backend)


def _fenced_batch(
    target: KitTarget,
    driver: Driver,
    backend: Any,
    name: str,
    hook: str,
    call: Callable[[Driver, list[str]], Any],
) -> None:
    before = {f"fence/{i}": value_of(10 + i, i) for i in range(4)}
    driver.put_many(list(before.items()))
    fence = _Fence()
    where = f"[{driver.name}] {name} of {len(before)} objects on {target.description}"
    advice = (
        f"A batch checks the write fence before each object it writes: an override of "
        f"{hook} must call self.check_fence() before each object (or once before a single "
        "request that writes them all), as the base class does, so that a writer that "
        "lost its lease stops at once."
    )
    with backend.write_fence(fence):
        try:
            call(driver, list(before))
        except BaseException as exc:
            if not _stopped_by(exc):
                raise kit_error(
                    target,
                    f"{where}, with the write fence closed after the call's first check, "
                    f"raised {show(exc)} instead of the fence's error. {advice}",
                ) from exc
        else:
            raise kit_error(
                target,
                f"{where} succeeded although the write fence closed after the call's first "
                f"check (the fence was checked {fence.checks} time(s)). {advice}",
            )
    listed = driver.ls("", True)
    values = driver.get_many(list(before))
    if listed != sorted(before) or values != before:
        raise kit_error(
            target,
            f"{where} was stopped by the closed write fence but changed the store: it now "
            f"lists {show_keys(listed)} ({explain_keys(listed, sorted(before))}). {advice}",
        )

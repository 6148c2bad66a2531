"""Fixed scripts for the faults random examples find only sometimes.

The state machines find most faults, but some need one particular sequence of
calls, which a run of 40 random examples may or may not draw: ``exists("a")``
answered true when only ``a/b`` is stored, a range past the end that raises, a
listing under a sub-prefix that still shows a deleted key, a ranged read to
the end that loses the last byte, a prefix delete that takes a sibling
(``q/ab`` with ``q/a``), the ``.zv-`` keys the core writes hidden or refused.
:func:`check_edge_cases` makes those calls every time, through both
protocols, and compares each answer with the :class:`~.model.Model`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zarr_vectors.testing.common import close_driver, driver_for, hierarchical, kit_error
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import Driver
from zarr_vectors.testing.model import CORE_PRIVATE_KEYS, Model, explain_keys
from zarr_vectors.testing.show import show, show_call, show_key, show_keys
from zarr_vectors.testing.strategies import value_of
from zarr_vectors.testing.target import KitTarget
from zarr_vectors.testing.ticks import tick

__all__ = ["check_edge_cases"]


class _Script:
    """One driver and the model next to it; every answer is compared as it comes."""

    def __init__(self, target: KitTarget, driver: Driver, model: Model) -> None:
        self.target = target
        self.driver = driver
        self.model = model

    def fail(self, call: str, got: Any, want: Any, why: str) -> Exception:
        return kit_error(
            self.target,
            f"[{self.driver.name}] {call} on {self.target.description} returned {show(got)}, "
            f"the protocol says {show(want)} ({why}).",
        )

    def put(self, key: str, value: bytes) -> None:
        self.driver.put(key, value)
        self.model.put(key, value)

    def delete(self, key: str) -> None:
        self.driver.delete(key)
        self.model.delete(key)

    def absent(self, key: str, why: str) -> None:
        """``key`` is not stored: exists is False, get and head raise KeyError."""
        got = self.driver.exists(key)
        if got is not False:
            raise self.fail(show_call("exists", key), got, False, why)
        self.raises_key_error(show_call("get_bytes", key), lambda: self.driver.get(key), why)
        self.raises_key_error(show_call("head", key), lambda: self.driver.head(key), why)

    def raises_key_error(self, call: str, action: Callable[[], Any], why: str) -> None:
        try:
            got = action()
        except KeyError:
            return
        raise self.fail(call, got, "KeyError", why)

    def range(self, key: str, start: int, length: int | None, why: str) -> None:
        want = self.model.get_range(key, start, length)
        call = show_call("get_range", key, start, length)
        try:
            got = self.driver.get_range(key, start, length)
        except Exception as exc:
            raise kit_error(
                self.target,
                f"[{self.driver.name}] {call} on {self.target.description} raised {show(exc)}; "
                f"the protocol says {show(want)} ({why}).",
            ) from exc
        if got != want:
            detail = f"{len(got)} bytes instead of {len(want or b'')}"
            raise self.fail(call, got, want, f"{why}; {detail}")

    def listing(self, prefix: str, recursive: bool, why: str) -> None:
        got = self.driver.ls(prefix, recursive)
        want = self.model.ls(prefix, recursive)
        if got != want:
            call = f"list_prefix({show_key(prefix)}, recursive={recursive})"
            raise kit_error(
                self.target,
                f"[{self.driver.name}] {call} on {self.target.description} returned "
                f"{show_keys(got)}, the protocol says {show_keys(want)}: "
                f"{explain_keys(got, want)} ({why}).",
            )


def _parents_are_not_objects(script: _Script) -> None:
    """exists/get/head of a key that is only the parent of stored keys."""
    script.put("p/a/b", b"child")
    script.absent("p/a", "only 'p/a/b' is stored: a parent of stored keys is not an object")
    script.put("p/ab", b"sibling")
    script.absent("p/a", "'p/ab' and 'p/a/b' are stored, 'p/a' is not")
    script.absent("p", "only keys below 'p/' are stored")


def _ranges(script: _Script) -> None:
    """Ranges to the end, across the end, past the end, and of length zero."""
    for key, size in (("r/small", 1000), ("r/large", 70_001), ("r/empty", 0)):
        script.put(key, value_of(size, size))
        to_end = "a range without a length ends at the object's last byte"
        past = "a range starting at or after the end is b'', never an error"
        for start in {0, 1, size // 2, max(0, size - 1)}:
            script.range(key, start, None, to_end)
        if size:
            script.range(key, size - 10 if size > 10 else 0, 10, "a range ending at the end")
            script.range(key, size - 1, 1, "the last byte alone")
            script.range(key, max(0, size - 3), 100, "a range across the end is cut at the end")
        for start in (size, size + 1, size + 5000):
            script.range(key, start, None, past)
            script.range(key, start, 8, past)
        script.range(key, 0, 0, "a range of length zero is b''")
        script.range(key, size + 3, 0, "a range of length zero is b'', past the end too")


def _listings_after_deletes(script: _Script) -> None:
    """Listings of sub-prefixes after deletes below them (cached or lazy listings)."""
    for key in ("d/x/1", "d/x/2", "d/y/1", "d/z", "d/x/deep/1"):
        script.put(key, key.encode())
    script.listing("d/x", False, "before any delete")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("delete('d/x/1')", lambda: script.delete("d/x/1")),
        ("delete('d/x/deep/1')", lambda: script.delete("d/x/deep/1")),
        ("delete('d/x/2')", lambda: script.delete("d/x/2")),
        ("delete_many(['d/y/1'])", lambda: _delete_many(script, ["d/y/1"])),
    ]
    for done, step in steps:
        step()
        for prefix in ("d/x/", "d/x", "d/", "d", "d/x/deep", "d/y"):
            for recursive in (False, True):
                script.listing(prefix, recursive, f"after {done}: a deleted key is not listed")
        script.listing("", True, f"after {done}")
    script.absent("d/x/1", "it was deleted")


def _prefixes_are_directories(script: _Script) -> None:
    """A prefix is a directory: listing or deleting 'q/a' leaves 'q/ab' and 'q/a.b' alone."""
    for key in ("q/a/1", "q/a/2/3", "q/ab", "q/a.b", "q/a-b/1"):
        script.put(key, key.encode())
    why = "a prefix is a directory: 'q/a' is 'q/a/', never 'q/ab'"
    for prefix in ("q/a", "q/a/", "q"):
        for recursive in (False, True):
            script.listing(prefix, recursive, why)
    script.driver.delete_prefix("q/a")
    script.model.delete_prefix("q/a")
    script.listing("", True, f"after delete_prefix('q/a'): {why}")
    script.listing("q", False, f"after delete_prefix('q/a'): {why}")


def _delete_many(script: _Script, keys: list[str]) -> None:
    script.driver.delete_many(keys)
    script.model.delete_many(keys)


def _private_keys(script: _Script) -> None:
    """The ``.zv-`` keys the core writes are stored, listed and read like any other."""
    items = [(key, f"private {key}".encode()) for key in CORE_PRIVATE_KEYS]
    why = (
        "zarr-vectors writes commit records under .zv-log/, writers' claims under "
        ".zv-claims/ and a replace's staged copy under .zv-staged-*/; a backend stores and "
        "lists them like any other key (only '.zv-tmp-' segments are a backend's own)"
    )
    try:
        script.driver.put_many(items)
    except Exception as exc:
        raise kit_error(
            script.target,
            f"[{script.driver.name}] put_many of {show_keys(k for k, _ in items)} on "
            f"{script.target.description} raised {show(exc)}: {why}.",
        ) from exc
    script.model.put_many(items)
    for prefix in ("", ".zv-claims", ".zv-log/", ".zv-staged-0123456789ab"):
        for recursive in (False, True):
            script.listing(prefix, recursive, why)
    for key, value in items:
        got = script.driver.get(key)
        if got != value:
            raise script.fail(show_call("get_bytes", key), got, value, why)
    script.driver.delete_prefix(".zv-staged-0123456789ab")
    script.model.delete_prefix(".zv-staged-0123456789ab")
    script.listing("", True, "after delete_prefix('.zv-staged-0123456789ab')")


def check_edge_cases(target: KitTarget, config: KitConfig) -> None:
    """The fixed scripts above, through the sync and the async protocol."""
    for mode in ("sync", "async"):
        for part in (
            _parents_are_not_objects,
            _ranges,
            _listings_after_deletes,
            _prefixes_are_directories,
            _private_keys,
        ):
            tick()
            backend = target.fresh()
            driver = driver_for(mode, backend)
            try:
                part(_Script(target, driver, Model(hierarchical(backend))))
            finally:
                close_driver(target, driver, backend)

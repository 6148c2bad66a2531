"""Property tests: key validation, concurrent async calls, persistence across a reopen.

Each ``check_*`` function runs one hypothesis property against a
:class:`~.target.KitTarget` and raises (with hypothesis's minimal example
attached) when the backend breaks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zarr_vectors.exceptions import ConformanceError, InvalidKeyError
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.model import Model
from zarr_vectors.testing.stateful import show
from zarr_vectors.testing.strategies import INVALID_PREFIXES, invalid_keys, keys, value_of
from zarr_vectors.testing.target import KitTarget, close_quietly

__all__ = ["check_concurrent_async", "check_invalid_keys", "check_persistence"]

_SENTINELS = {"kit/sentinel": b"keep me", "kit/nested/sentinel": b"and me", "kit-sibling": b"x"}

_KEY_OPS: dict[str, Callable[[Driver, Any], Any]] = {
    "get_bytes": lambda d, k: d.get(k),
    "get_range": lambda d, k: d.get_range(k, 0, 1),
    "put_bytes": lambda d, k: d.put(k, b"must not be written"),
    "exists": lambda d, k: d.exists(k),
    "delete": lambda d, k: d.delete(k),
    "get_many": lambda d, k: d.get_many(["kit/sentinel", k]),
    "put_many": lambda d, k: d.put_many([("kit/new-before-bad", b"no"), (k, b"no")]),
}
_PREFIX_OPS: dict[str, Callable[[Driver, Any], Any]] = {
    "list_prefix": lambda d, p: d.ls(p, False),
    "list_prefix(recursive)": lambda d, p: d.ls(p, True),
    "delete_prefix": lambda d, p: d.delete_prefix(p),
}


def _unique_items(pairs: list[tuple[str, int, int]], hierarchical: bool) -> list[tuple[str, bytes]]:
    """Drop repeated keys (and, on file systems, keys that are parents of others)."""
    model = Model(hierarchical)
    out: list[tuple[str, bytes]] = []
    for key, size, seed in pairs:
        if key in model.data or model.conflicts(key):
            continue
        model.put(key, b"")
        out.append((key, value_of(size, seed)))
    return out


def _items(config: KitConfig, max_items: int) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    sizes = st.one_of(st.integers(0, 256), st.integers(0, min(256 * 1024, config.max_value_size)))
    return st.lists(
        st.tuples(keys, sizes, st.integers(0, 2**32 - 1)), min_size=1, max_size=max_items
    )


# -- invalid keys ---------------------------------------------------------------------------
def check_invalid_keys(target: KitTarget, config: KitConfig) -> None:
    """Every invalid key or prefix is refused with InvalidKeyError and nothing is touched."""
    backend = target.fresh()
    drivers: dict[str, Driver] = {"sync": SyncDriver(backend), "async": AsyncDriver(backend)}
    try:
        drivers["sync"].put_many(list(_SENTINELS.items()))
        before = drivers["sync"].ls("", True)

        def unchanged(call: str) -> None:
            after = drivers["sync"].ls("", True)
            if after != before or drivers["sync"].get_many(list(_SENTINELS)) != _SENTINELS:
                raise ConformanceError(
                    f"{call} on {target.description} was refused but changed the store: "
                    f"keys {before} became {after}. Validate keys before touching storage."
                )

        def attempt(mode: str, op: str, func: Callable[[Driver, Any], Any], bad: Any) -> None:
            call = f"[{mode}] {op}({bad!r})"
            try:
                result = func(drivers[mode], bad)
            except InvalidKeyError:
                unchanged(call)
                return
            except Exception as exc:
                raise ConformanceError(
                    f"{call} on {target.description} raised {type(exc).__name__}: {exc}; "
                    "an invalid key must raise zarr_vectors.exceptions.InvalidKeyError "
                    "before any storage is touched."
                ) from exc
            raise ConformanceError(
                f"{call} on {target.description} returned {show(result)}; an invalid key must "
                "raise zarr_vectors.exceptions.InvalidKeyError."
            )

        @config.settings()
        @given(
            bad=invalid_keys(),
            op=st.sampled_from(sorted(_KEY_OPS)),
            mode=st.sampled_from(["sync", "async"]),
        )
        def invalid_keys_are_refused(bad: Any, op: str, mode: str) -> None:
            attempt(mode, op, _KEY_OPS[op], bad)

        @config.settings()
        @given(
            bad=st.sampled_from(INVALID_PREFIXES),
            op=st.sampled_from(sorted(_PREFIX_OPS)),
            mode=st.sampled_from(["sync", "async"]),
        )
        def invalid_prefixes_are_refused(bad: Any, op: str, mode: str) -> None:
            attempt(mode, op, _PREFIX_OPS[op], bad)

        invalid_keys_are_refused()
        invalid_prefixes_are_refused()
    finally:
        try:
            drivers["async"].close()  # closes the backend too
        finally:
            close_quietly(backend)


# -- concurrency ----------------------------------------------------------------------------
def check_concurrent_async(target: KitTarget, config: KitConfig) -> None:
    """Concurrent async puts and gets neither lose, mix up nor tear objects."""

    @config.settings()
    @given(pairs=_items(config, 24), writers=st.integers(2, 8))
    def concurrent_puts_and_gets(pairs: list[tuple[str, int, int]], writers: int) -> None:
        backend = target.fresh()
        try:
            items = _unique_items(pairs, bool(getattr(backend, "hierarchical_keys", False)))
            asyncio.run(_concurrent(backend, items, writers, target.description))
        finally:
            close_quietly(backend)

    concurrent_puts_and_gets()


async def _concurrent(
    backend: Any, items: list[tuple[str, bytes]], writers: int, where: str
) -> None:
    half = len(items) // 2
    first, second = items[:half], items[half:]
    await asyncio.gather(*(backend.aput_bytes(k, v) for k, v in first))
    # read the first half while the second half is being written
    results = await asyncio.gather(
        *(backend.aget_bytes(k) for k, _ in first), *(backend.aput_bytes(k, v) for k, v in second)
    )
    for (key, value), got in zip(first, results[:half], strict=True):
        if bytes(got) != value:
            raise ConformanceError(
                f"aget_bytes({key!r}) during concurrent puts of other keys on {where} returned "
                f"{show(got)}, expected {show(value)}."
            )
    everything = dict(items)
    found = {k: bytes(v) for k, v in (await backend.aget_many(list(everything))).items()}
    if found != everything:
        missing = sorted(set(everything) - set(found))
        wrong = sorted(k for k in found if k in everything and found[k] != everything[k])
        raise ConformanceError(
            f"aget_many after concurrent aput_bytes on {where}: missing {missing}, "
            f"wrong values for {wrong}."
        )
    present = await asyncio.gather(*(backend.aexists(k) for k in everything))
    if not all(present):
        absent = [k for k, p in zip(everything, present, strict=True) if not p]
        raise ConformanceError(f"aexists is False for keys just written on {where}: {absent}.")
    # many writers race on one key: the survivor is one of the values, whole
    key = items[0][0]
    candidates = [value_of(1000 + 997 * i, i) for i in range(writers)]
    await asyncio.gather(*(backend.aput_bytes(key, v) for v in candidates))
    final = bytes(await backend.aget_bytes(key))
    if final not in candidates:
        raise ConformanceError(
            f"{writers} concurrent aput_bytes({key!r}) on {where} left {show(final)}, "
            "which is none of the values written (a torn or mixed object)."
        )
    listed = [k async for k in backend.alist_prefix("", recursive=True)]
    if listed != sorted(everything):
        raise ConformanceError(
            f"alist_prefix('', recursive=True) after concurrent puts on {where} gave "
            f"{listed}, expected {sorted(everything)}."
        )


# -- persistence ----------------------------------------------------------------------------
def check_persistence(target: KitTarget, config: KitConfig) -> None:
    """What was written is still there after close() and opening the same URL again."""

    @config.settings()
    @given(pairs=_items(config, 12))
    def contents_survive_reopen(pairs: list[tuple[str, int, int]]) -> None:
        backend = target.fresh()
        try:
            items = _unique_items(pairs, bool(getattr(backend, "hierarchical_keys", False)))
            backend.put_many(items[1:])
            asyncio.run(backend.aput_bytes(*items[0]))
        finally:
            backend.close()
        again = target.current()
        try:
            listed = list(again.list_prefix("", recursive=True))
            want = dict(items)
            if listed != sorted(want):
                raise ConformanceError(
                    f"After close() and reopening {target.description}, list_prefix('', "
                    f"recursive=True) gave {listed}, expected {sorted(want)}."
                )
            got = {k: bytes(v) for k, v in again.get_many(list(want)).items()}
            if got != want:
                wrong = sorted(k for k in want if got.get(k) != want[k])
                raise ConformanceError(
                    f"After close() and reopening {target.description}, these keys read back "
                    f"wrong or missing: {wrong}."
                )
        finally:
            close_quietly(again)

    contents_survive_reopen()

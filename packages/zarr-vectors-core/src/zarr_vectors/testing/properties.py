"""Property tests: concurrency, torn writes, conditional writes, persistence across a reopen.

Each ``check_*`` function runs one hypothesis property against a
:class:`~.target.KitTarget` and raises (with hypothesis's minimal example
attached) when the backend breaks it. Every backend call goes through the
target's guard (a time limit per call), and coroutines run on a
:class:`~.guard.LoopThread`, so no check can hang. The key contract and key
validation are in :mod:`~.contract`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zarr_vectors.exceptions import PreconditionFailedError, UnsupportedOperationError
from zarr_vectors.testing.common import hierarchical, item_lists, kit_error, unique_items
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.guard import run_coroutine
from zarr_vectors.testing.model import explain_keys
from zarr_vectors.testing.show import show, show_call, show_key, show_keys
from zarr_vectors.testing.strategies import CORE_KEYS, NFD, key_space, value_of
from zarr_vectors.testing.target import KitTarget, close_quietly
from zarr_vectors.testing.ticks import tick

__all__ = [
    "check_concurrent_async",
    "check_conditional_writes",
    "check_persistence",
    "check_torn_writes",
]


# -- concurrency ----------------------------------------------------------------------------
def check_concurrent_async(target: KitTarget, config: KitConfig) -> None:
    """Concurrent async puts and gets neither lose nor mix up objects.

    The keys put at once never include a key and one below it (``a/b`` with ``a/b/c``),
    on any backend: SeaweedFS's S3 loses one of such a pair put at the same moment (24
    of 300 tries here), a fault of folder-backed servers that no Zarr store meets (its
    keys never nest in objects). Nested keys are checked one call at a time by the
    state machines, ``edge-cases`` and ``key-contract``.
    """

    @config.seeded
    @config.settings()
    @given(pairs=item_lists(target, config, 24), writers=st.integers(2, 8))
    def concurrent_puts_and_gets(pairs: list[tuple[str, int, int]], writers: int) -> None:
        tick()
        backend = target.fresh()
        try:
            items = unique_items(pairs, hierarchical=True)  # no nested pair (see above)
            run_coroutine(lambda: _concurrent(target, backend, items, writers))
        finally:
            close_quietly(backend)

    concurrent_puts_and_gets()


async def _concurrent(
    target: KitTarget, backend: Any, items: list[tuple[str, bytes]], writers: int
) -> None:
    where = target.description
    half = len(items) // 2
    first, second = items[:half], items[half:]
    await asyncio.gather(*(backend.aput_bytes(k, v) for k, v in first))
    # read the first half while the second half is being written
    results = await asyncio.gather(
        *(backend.aget_bytes(k) for k, _ in first), *(backend.aput_bytes(k, v) for k, v in second)
    )
    for (key, value), got in zip(first, results[:half], strict=True):
        if bytes(got) != value:
            raise kit_error(
                target,
                f"aget_bytes({show_key(key)}) during concurrent puts of other keys on {where} "
                f"returned {show(got)}, expected {show(value)}.",
            )
    everything = dict(items)
    found = {k: bytes(v) for k, v in (await backend.aget_many(list(everything))).items()}
    if found != everything:
        missing = [k for k in everything if k not in found]
        wrong = [k for k in found if k in everything and found[k] != everything[k]]
        raise kit_error(
            target,
            f"aget_many after concurrent aput_bytes on {where}: missing {show_keys(missing)}, "
            f"wrong values for {show_keys(wrong)}.",
        )
    present = await asyncio.gather(*(backend.aexists(k) for k in everything))
    if not all(present):
        absent = [k for k, p in zip(everything, present, strict=True) if not p]
        raise kit_error(
            target, f"aexists is False for keys just written on {where}: {show_keys(absent)}."
        )
    # many writers race on one key: the survivor is one of the values, whole
    key = items[0][0]
    candidates = [value_of(1000 + 997 * i, i) for i in range(writers)]
    await asyncio.gather(*(backend.aput_bytes(key, v) for v in candidates))
    final = bytes(await backend.aget_bytes(key))
    if final not in candidates:
        raise kit_error(
            target,
            f"{writers} concurrent aput_bytes({show_key(key)}) on {where} left {show(final)}, "
            "which is none of the values written (a torn or mixed object).",
        )
    listed = [k async for k in backend.alist_prefix("", recursive=True)]
    if listed != sorted(everything):
        raise kit_error(
            target,
            f"alist_prefix('', recursive=True) after concurrent puts on {where} gave "
            f"{show_keys(listed)}: {explain_keys(listed, sorted(everything))}.",
        )


# -- torn writes ----------------------------------------------------------------------------
def _describe_mixture(got: bytes, written: list[bytes]) -> str:
    """Which written values the bytes of ``got`` come from, piece by piece."""
    if any(len(got) != len(v) for v in written):
        return f"{len(got)} bytes, while every value written is {len(written[0])} bytes"
    pieces: list[str] = []
    start = 0
    while start < len(got) and len(pieces) < 4:
        best, best_end = -1, start
        for i, value in enumerate(written):
            end = start
            while end < len(got) and got[end] == value[end]:
                end += 1
            if end > best_end:
                best, best_end = i, end
        if best < 0:
            pieces.append(f"byte {start} matches no value written")
            break
        pieces.append(f"bytes {start}-{best_end - 1} of value #{best}")
        start = best_end
    return ", ".join(pieces)


def check_torn_writes(target: KitTarget, config: KitConfig) -> None:
    """A read running while another task overwrites the key sees the old or the new value."""
    largest = max(16, min(512 * 1024, config.max_value_size))
    space = key_space(target.max_key_bytes)

    @config.seeded
    @config.settings(examples=max(4, config.max_examples // 4))
    @given(
        key=st.sampled_from([*CORE_KEYS, space.contract[-1], NFD]),
        size=st.integers(min(16, largest), largest),
        rounds=st.integers(2, 4),
        readers=st.integers(2, 4),
        ranged=st.booleans(),
        mode=st.sampled_from(["threads", "async"]),
        seed=st.integers(0, 2**16),
    )
    def reads_never_see_a_mixture(
        key: str, size: int, rounds: int, readers: int, ranged: bool, mode: str, seed: int
    ) -> None:
        tick()
        backend = target.fresh()
        try:
            written = [value_of(size, seed * 8 + i) for i in range(rounds + 1)]
            backend.put_bytes(key, written[0])
            if mode == "threads":
                seen = _race_threads(backend, key, written, readers, ranged)
            else:
                seen = run_coroutine(lambda: _race_tasks(backend, key, written, readers, ranged))
            _judge_reads(target, key, written, seen, ranged, mode)
        finally:
            close_quietly(backend)

    reads_never_see_a_mixture()


_RANGE = (3, 1000)  # offset and length of the ranged reads


def _race_threads(
    backend: Any, key: str, written: list[bytes], readers: int, ranged: bool
) -> list[bytes]:
    done = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write() -> None:
        try:
            for value in written[1:]:
                backend.put_bytes(key, value)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while True:
                finished = done.is_set()
                got = backend.get_range(key, *_RANGE) if ranged else backend.get_bytes(key)
                with lock:
                    seen.append(bytes(got))
                if finished:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, daemon=True) for _ in range(readers)]
    threads.append(threading.Thread(target=write, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return seen


async def _race_tasks(
    backend: Any, key: str, written: list[bytes], readers: int, ranged: bool
) -> list[bytes]:
    done = asyncio.Event()
    seen: list[bytes] = []

    async def write() -> None:
        try:
            for value in written[1:]:
                await backend.aput_bytes(key, value)
        finally:
            done.set()

    async def read() -> None:
        while True:
            finished = done.is_set()
            got = await (backend.aget_range(key, *_RANGE) if ranged else backend.aget_bytes(key))
            seen.append(bytes(got))
            if finished:
                return

    await asyncio.gather(write(), *(read() for _ in range(readers)))
    return seen


def _judge_reads(
    target: KitTarget, key: str, written: list[bytes], seen: list[bytes], ranged: bool, mode: str
) -> None:
    start, length = _RANGE
    allowed = [v[start : start + length] if ranged else v for v in written]
    call = show_call("get_range", key, start, length) if ranged else show_call("get_bytes", key)
    for got in seen:
        if got not in allowed:
            raise kit_error(
                target,
                f"{call} on {target.description}, run while other "
                f"{'threads' if mode == 'threads' else 'tasks'} overwrote the key "
                f"({len(written) - 1} puts of {len(written[0])} bytes), returned "
                f"{show(got)}: {_describe_mixture(got, allowed)} (value #0 was there first). "
                "A read must see the old value or the new one, never a mixture: publish a "
                "write at once (write a temporary object and rename it, or use a transaction).",
            )


# -- conditional writes -----------------------------------------------------------------------
def check_conditional_writes(target: KitTarget, config: KitConfig) -> None:
    """Racing put_if calls on one key: exactly one wins, the others change nothing.

    A backend without conditional writes must refuse put_if with
    UnsupportedOperationError (through both protocols) and change nothing.
    """
    space = key_space(target.max_key_bytes)
    probe = target.fresh()
    conditional = bool(getattr(probe, "conditional_writes", False))
    if not conditional:
        try:
            _unsupported(target, probe)
        finally:
            close_quietly(probe)
        return
    close_quietly(probe)

    @config.seeded
    @config.settings(examples=max(4, config.max_examples // 4))
    @given(
        key=st.sampled_from([*CORE_KEYS[:3], *space.contract[:2], space.contract[-1]]),
        writers=st.integers(2, 6),
        mode=st.sampled_from(["threads", "async"]),
        seed=st.integers(0, 2**16),
    )
    def one_writer_wins(key: str, writers: int, mode: str, seed: int) -> None:
        tick()
        backend = target.fresh()
        try:
            created = [value_of(100 + i, seed + i) for i in range(writers)]
            winner = _race_put_if(target, backend, key, created, None, mode)
            replaced = [value_of(200 + i, seed + 100 + i) for i in range(writers)]
            _race_put_if(target, backend, key, replaced, winner, mode)
        finally:
            close_quietly(backend)

    one_writer_wins()


def _unsupported(target: KitTarget, backend: Any) -> None:
    where = target.description

    def sync_call() -> Any:
        return backend.put_if("kit/never", b"x", expect=None)

    def async_call() -> Any:
        return run_coroutine(lambda: backend.aput_if("kit/never", b"x", expect=None))

    for mode, call in (("sync", sync_call), ("async", async_call)):
        tick()
        try:
            got = call()
        except UnsupportedOperationError:
            continue
        except Exception as exc:
            raise kit_error(
                target,
                f"[{mode}] put_if('kit/never', <1 bytes>, expect=None) on {where} raised "
                f"{show(exc)}; a backend with conditional_writes = False must raise "
                "UnsupportedOperationError (the base class does unless _put_if is overridden).",
            ) from exc
        raise kit_error(
            target,
            f"[{mode}] put_if('kit/never', ...) on {where} returned {show(got)} although the "
            "backend declares conditional_writes = False; set it to True if put_if works.",
        )
    left = list(backend.list_prefix("", recursive=True))
    if left:
        raise kit_error(target, f"a refused put_if on {where} left {show_keys(left)} in the store.")


def _race_put_if(
    target: KitTarget, backend: Any, key: str, values: list[bytes], expect: str | None, mode: str
) -> str:
    """Race put_if(key, v, expect) for every v; exactly one must win. Returns its version."""
    where = target.description
    outcomes: list[tuple[bytes, Any]]
    if mode == "threads":
        barrier = threading.Barrier(len(values))
        outcomes = []
        lock = threading.Lock()

        def attempt(value: bytes) -> None:
            try:
                barrier.wait(target.guard.timeout)
                result: Any = backend.put_if(key, value, expect=expect)
            except BaseException as exc:
                result = exc
            with lock:
                outcomes.append((value, result))

        threads = [threading.Thread(target=attempt, args=(v,), daemon=True) for v in values]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:

        async def race() -> list[Any]:
            return await asyncio.gather(
                *(backend.aput_if(key, v, expect=expect) for v in values),
                return_exceptions=True,
            )

        results = run_coroutine(race)
        outcomes = list(zip(values, results, strict=True))
    call = f"{len(values)} concurrent put_if({show_key(key)}, ..., expect={expect!r})"
    won = [(v, r) for v, r in outcomes if isinstance(r, str)]
    odd = [r for _, r in outcomes if not isinstance(r, str | PreconditionFailedError)]
    if odd:
        raise kit_error(
            target,
            f"{call} on {where}: a loser raised {show(odd[0])}; it must raise "
            "PreconditionFailedError.",
        )
    if len(won) != 1:
        raise kit_error(
            target,
            f"{call} on {where}: {len(won)} of them succeeded; exactly one may (the others "
            "raise PreconditionFailedError and change nothing), or two writers both believe "
            "they hold the lock.",
        )
    value, version = won[0]
    stored = bytes(backend.get_bytes(key))
    if stored != value:
        raise kit_error(
            target,
            f"{call} on {where}: the winner wrote {show(value)} but {show(stored)} is stored; "
            "a refused put_if must change nothing.",
        )
    now = backend.head(key).version
    if now != version:
        raise kit_error(
            target,
            f"{call} on {where}: the winner got version {version!r}, head() now says {now!r}.",
        )
    result: str = version
    return result


# -- persistence ----------------------------------------------------------------------------
def check_persistence(target: KitTarget, config: KitConfig) -> None:
    """What was written is still there after close() and opening the same URL again."""

    @config.seeded
    @config.settings()
    @given(pairs=item_lists(target, config, 12))
    def contents_survive_reopen(pairs: list[tuple[str, int, int]]) -> None:
        tick()
        backend = target.fresh()
        try:
            items = unique_items(pairs, hierarchical(backend))
            backend.put_many(items[1:])
            run_coroutine(lambda: backend.aput_bytes(*items[0]))
        finally:
            backend.close()
        again = target.current()
        try:
            listed = list(again.list_prefix("", recursive=True))
            want = dict(items)
            if listed != sorted(want):
                raise kit_error(
                    target,
                    f"After close() and reopening {target.description}, list_prefix('', "
                    f"recursive=True) gave {show_keys(listed)}: "
                    f"{explain_keys(listed, sorted(want))}.",
                )
            got = {k: bytes(v) for k, v in again.get_many(list(want)).items()}
            if got != want:
                wrong = [k for k in want if got.get(k) != want[k]]
                raise kit_error(
                    target,
                    f"After close() and reopening {target.description}, these keys read back "
                    f"wrong or missing: {show_keys(wrong)}.",
                )
        finally:
            close_quietly(again)

    contents_survive_reopen()

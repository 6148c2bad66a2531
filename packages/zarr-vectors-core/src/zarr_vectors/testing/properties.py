"""Property tests: the key contract, key validation, concurrency, torn writes, conditional
writes, persistence across a reopen.

Each ``check_*`` function runs one hypothesis property against a
:class:`~.target.KitTarget` and raises (with hypothesis's minimal example
attached) when the backend breaks it. Every backend call goes through the
target's guard (a time limit per call), and coroutines run on a
:class:`~.guard.LoopThread`, so no check can hang.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zarr_vectors.exceptions import (
    ConformanceError,
    InvalidKeyError,
    PreconditionFailedError,
    UnsupportedOperationError,
)
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.guard import run_coroutine
from zarr_vectors.testing.model import (
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    Model,
    explain_keys,
)
from zarr_vectors.testing.show import show, show_call, show_key, show_keys
from zarr_vectors.testing.strategies import (
    CORE_KEYS,
    INVALID_PREFIXES,
    NFD,
    invalid_keys,
    key_space,
    value_of,
)
from zarr_vectors.testing.target import KitTarget, close_quietly
from zarr_vectors.testing.ticks import tick

__all__ = [
    "check_concurrent_async",
    "check_conditional_writes",
    "check_invalid_keys",
    "check_key_contract",
    "check_persistence",
    "check_torn_writes",
]

_CONTRACT = (
    f"the key contract (docs/storage.md, 'The key contract'): every backend stores any key "
    f"of up to {MAX_KEY_BYTES:,} bytes of UTF-8 (counting the store's own prefix where the "
    f"storage counts it) with segments of up to {MAX_SEGMENT_BYTES} bytes, byte-exact (no "
    "Unicode normalisation, no percent-encoding), and lists keys sorted"
)


def _error(target: KitTarget, message: str) -> ConformanceError:
    """A failure carrying the backend calls made so far."""
    error = ConformanceError(message)
    target.guard.attach(error)
    return error


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


def _items(
    target: KitTarget, config: KitConfig, max_items: int
) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    sizes = st.one_of(st.integers(0, 256), st.integers(0, min(256 * 1024, config.max_value_size)))
    keys = key_space(target.max_key_bytes).keys
    return st.lists(
        st.tuples(keys, sizes, st.integers(0, 2**32 - 1)), min_size=1, max_size=max_items
    )


def _hierarchical(backend: Any) -> bool:
    return bool(getattr(backend, "hierarchical_keys", False))


def _driver(mode: str, backend: Any) -> Driver:
    return SyncDriver(backend) if mode == "sync" else AsyncDriver(backend)


# -- the key contract -------------------------------------------------------------------------
def _contract_round(target: KitTarget, driver: Driver, keys_: list[str]) -> None:
    """Store ``keys_`` one by one, then read, list, head, batch-read and batch-delete them."""

    def at(call: str) -> str:
        return f"[{driver.name}] {call} on {target.description}"

    items = [(key, value_of(8 + i % 5, i)) for i, key in enumerate(keys_)]
    model = Model()
    for key, value in items:
        call = show_call("put_bytes", key, value)
        try:
            driver.put(key, value)
        except ConformanceError:
            raise
        except Exception as exc:
            raise _error(
                target,
                f"{at(call)} raised {show(exc)}. The key is {len(key.encode())} bytes of "
                f"UTF-8 (the kit's longest here: {target.max_key_bytes}) and inside {_CONTRACT}.",
            ) from exc
        model.put(key, value)
    want = model.listing()
    listing = "list_prefix('', recursive=True)"
    got = driver.ls("", True)
    if got != want:
        raise _error(
            target,
            f"{at(listing)} after storing "
            f"{show_keys(want)} returned {show_keys(got)}: {explain_keys(got, want)}. "
            f"Required by {_CONTRACT}.",
        )
    for key, value in items:
        found = driver.get(key)
        if found != value:
            raise _error(
                target,
                f"{at(show_call('get_bytes', key))} returned {show(found)}, "
                f"not the {show(value)} stored under it: another key of this set "
                f"({show_keys(k for k, _ in items if k != key)}) was stored under the same "
                f"name. Required by {_CONTRACT}.",
            )
        info = driver.head(key)
        if info.size != len(value):
            raise _error(
                target,
                f"{at(show_call('head', key))}.size is {info.size}, the "
                f"object holds {len(value)} bytes.",
            )
    containers = ["", *sorted({k for k in model.ls("", True) for k in _parents(k)})]
    for prefix in containers[:8]:
        listed = driver.ls(prefix, False)
        expected = model.ls(prefix, False)
        if listed != expected:
            call = f"list_prefix({show_key(prefix)}, recursive=False)"
            raise _error(
                target,
                f"{at(call)} returned {show_keys(listed)}, the protocol says "
                f"{show_keys(expected)}: {explain_keys(listed, expected)} (only the immediate "
                "children: objects, and containers ending in '/', sorted).",
            )
    fetched = driver.get_many([k for k, _ in items])
    if fetched != dict(items):
        missing = [k for k, _ in items if k not in fetched]
        raise _error(
            target,
            f"{at(show_call('get_many', [k for k, _ in items]))} missed "
            f"{show_keys(missing)} or returned wrong values.",
        )
    driver.delete_many([k for k, _ in items])
    left = driver.ls("", True)
    if left:
        raise _error(
            target,
            f"{at(show_call('delete_many', [k for k, _ in items]))} left "
            f"{show_keys(left)} behind (delete_many removes every key it is given).",
        )


def _parents(key: str) -> list[str]:
    parts = key.split("/")
    return ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]


def check_key_contract(target: KitTarget, config: KitConfig) -> None:
    """The contract's edge keys, then generated ones, are stored, listed and read byte-exact."""
    space = key_space(target.max_key_bytes)
    for mode in ("sync", "async"):
        tick()
        backend = target.fresh()
        driver = _driver(mode, backend)
        try:
            _contract_round(target, driver, list(space.contract))
        finally:
            with target.guard.quiet():
                try:
                    driver.close()
                except Exception:
                    close_quietly(backend)

    @config.seeded
    @config.settings(examples=max(4, config.max_examples // 2))
    @given(
        drawn=st.lists(space.generated, min_size=1, max_size=8, unique=True),
        mode=st.sampled_from(["sync", "async"]),
    )
    def generated_keys_are_kept_exactly(drawn: list[str], mode: str) -> None:
        tick()
        backend = target.fresh()
        model = Model(_hierarchical(backend))
        chosen = []
        for key in drawn:
            if not model.conflicts(key):
                model.put(key, b"")
                chosen.append(key)
        driver = _driver(mode, backend)
        try:
            _contract_round(target, driver, chosen)
        finally:
            with target.guard.quiet():
                try:
                    driver.close()
                except Exception:
                    close_quietly(backend)

    generated_keys_are_kept_exactly()


# -- invalid keys ---------------------------------------------------------------------------
_SENTINELS = {"kit/sentinel": b"keep me", "kit/nested/sentinel": b"and me", "kit-sibling": b"x"}

_KEY_OPS: dict[str, Callable[[Driver, Any], Any]] = {
    "get_bytes": lambda d, k: d.get(k),
    "get_range": lambda d, k: d.get_range(k, 0, 1),
    "put_bytes": lambda d, k: d.put(k, b"must not be written"),
    "exists": lambda d, k: d.exists(k),
    "head": lambda d, k: d.head(k),
    "delete": lambda d, k: d.delete(k),
    "delete_many": lambda d, k: d.delete_many(["kit/sentinel", k]),
    "move_many": lambda d, k: d.move_many([("kit/sentinel", "kit/moved"), (k, "kit/moved-2")]),
    "move_many(to)": lambda d, k: d.move_many(
        [("kit/nested/sentinel", "kit/moved"), ("kit/sentinel", k)]
    ),
    "get_many": lambda d, k: d.get_many(["kit/sentinel", k]),
    "put_many": lambda d, k: d.put_many([("kit/new-before-bad", b"no"), (k, b"no")]),
}
_PREFIX_OPS: dict[str, Callable[[Driver, Any], Any]] = {
    "list_prefix": lambda d, p: d.ls(p, False),
    "list_prefix(recursive)": lambda d, p: d.ls(p, True),
    "delete_prefix": lambda d, p: d.delete_prefix(p),
}


def check_invalid_keys(target: KitTarget, config: KitConfig) -> None:
    """Every invalid key or prefix is refused with InvalidKeyError and nothing is touched."""
    backend = target.fresh()
    drivers: dict[str, Driver] = {"sync": SyncDriver(backend), "async": AsyncDriver(backend)}
    where = target.description
    try:
        drivers["sync"].put_many(list(_SENTINELS.items()))
        stored = drivers["sync"].get_many(list(_SENTINELS))
        if stored != _SENTINELS:
            missing = [k for k in _SENTINELS if k not in stored]
            raise _error(
                target,
                f"put_many({show_keys(_SENTINELS)}) on {where} did not store "
                f"{show_keys(missing) if missing else 'the values given'} (get_many found "
                f"{show(stored)}). The invalid-keys check needs those objects to see that "
                "refused calls change nothing; the state machines show the fault in detail.",
            )
        before = drivers["sync"].ls("", True)

        def unchanged(call: str) -> None:
            after = drivers["sync"].ls("", True)
            values = drivers["sync"].get_many(list(_SENTINELS))
            if after != before:
                raise _error(
                    target,
                    f"{call} on {where} was refused but changed the store: the listing is now "
                    f"{show_keys(after)} ({explain_keys(after, before)}). Validate every key "
                    "before touching storage.",
                )
            if values != _SENTINELS:
                changed = [k for k in _SENTINELS if values.get(k) != _SENTINELS[k]]
                raise _error(
                    target,
                    f"{call} on {where} was refused but changed the objects "
                    f"{show_keys(changed)}. Validate every key before touching storage.",
                )

        def attempt(mode: str, op: str, func: Callable[[Driver, Any], Any], bad: Any) -> None:
            tick()
            call = f"[{mode}] {op}({show_key(bad)})"
            try:
                result = func(drivers[mode], bad)
            except InvalidKeyError:
                unchanged(call)
                return
            except ConformanceError:
                raise
            except Exception as exc:
                raise _error(
                    target,
                    f"{call} on {where} raised {show(exc)}; an invalid key must raise "
                    "zarr_vectors.exceptions.InvalidKeyError before any storage is touched.",
                ) from exc
            raise _error(
                target,
                f"{call} on {where} returned {show(result)}; an invalid key must raise "
                "zarr_vectors.exceptions.InvalidKeyError.",
            )

        @config.seeded
        @config.settings()
        @given(
            bad=invalid_keys(),
            op=st.sampled_from(sorted(_KEY_OPS)),
            mode=st.sampled_from(["sync", "async"]),
        )
        def invalid_keys_are_refused(bad: Any, op: str, mode: str) -> None:
            attempt(mode, op, _KEY_OPS[op], bad)

        @config.seeded
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
        with target.guard.quiet():
            try:
                drivers["async"].close()  # closes the backend too
            except Exception:
                close_quietly(backend)


# -- concurrency ----------------------------------------------------------------------------
def check_concurrent_async(target: KitTarget, config: KitConfig) -> None:
    """Concurrent async puts and gets neither lose nor mix up objects."""

    @config.seeded
    @config.settings()
    @given(pairs=_items(target, config, 24), writers=st.integers(2, 8))
    def concurrent_puts_and_gets(pairs: list[tuple[str, int, int]], writers: int) -> None:
        tick()
        backend = target.fresh()
        try:
            items = _unique_items(pairs, _hierarchical(backend))
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
            raise _error(
                target,
                f"aget_bytes({show_key(key)}) during concurrent puts of other keys on {where} "
                f"returned {show(got)}, expected {show(value)}.",
            )
    everything = dict(items)
    found = {k: bytes(v) for k, v in (await backend.aget_many(list(everything))).items()}
    if found != everything:
        missing = [k for k in everything if k not in found]
        wrong = [k for k in found if k in everything and found[k] != everything[k]]
        raise _error(
            target,
            f"aget_many after concurrent aput_bytes on {where}: missing {show_keys(missing)}, "
            f"wrong values for {show_keys(wrong)}.",
        )
    present = await asyncio.gather(*(backend.aexists(k) for k in everything))
    if not all(present):
        absent = [k for k, p in zip(everything, present, strict=True) if not p]
        raise _error(
            target, f"aexists is False for keys just written on {where}: {show_keys(absent)}."
        )
    # many writers race on one key: the survivor is one of the values, whole
    key = items[0][0]
    candidates = [value_of(1000 + 997 * i, i) for i in range(writers)]
    await asyncio.gather(*(backend.aput_bytes(key, v) for v in candidates))
    final = bytes(await backend.aget_bytes(key))
    if final not in candidates:
        raise _error(
            target,
            f"{writers} concurrent aput_bytes({show_key(key)}) on {where} left {show(final)}, "
            "which is none of the values written (a torn or mixed object).",
        )
    listed = [k async for k in backend.alist_prefix("", recursive=True)]
    if listed != sorted(everything):
        raise _error(
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
            raise _error(
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
            raise _error(
                target,
                f"[{mode}] put_if('kit/never', <1 bytes>, expect=None) on {where} raised "
                f"{show(exc)}; a backend with conditional_writes = False must raise "
                "UnsupportedOperationError (the base class does unless _put_if is overridden).",
            ) from exc
        raise _error(
            target,
            f"[{mode}] put_if('kit/never', ...) on {where} returned {show(got)} although the "
            "backend declares conditional_writes = False; set it to True if put_if works.",
        )
    left = list(backend.list_prefix("", recursive=True))
    if left:
        raise _error(target, f"a refused put_if on {where} left {show_keys(left)} in the store.")


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
        raise _error(
            target,
            f"{call} on {where}: a loser raised {show(odd[0])}; it must raise "
            "PreconditionFailedError.",
        )
    if len(won) != 1:
        raise _error(
            target,
            f"{call} on {where}: {len(won)} of them succeeded; exactly one may (the others "
            "raise PreconditionFailedError and change nothing), or two writers both believe "
            "they hold the lock.",
        )
    value, version = won[0]
    stored = bytes(backend.get_bytes(key))
    if stored != value:
        raise _error(
            target,
            f"{call} on {where}: the winner wrote {show(value)} but {show(stored)} is stored; "
            "a refused put_if must change nothing.",
        )
    now = backend.head(key).version
    if now != version:
        raise _error(
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
    @given(pairs=_items(target, config, 12))
    def contents_survive_reopen(pairs: list[tuple[str, int, int]]) -> None:
        tick()
        backend = target.fresh()
        try:
            items = _unique_items(pairs, _hierarchical(backend))
            backend.put_many(items[1:])
            run_coroutine(lambda: backend.aput_bytes(*items[0]))
        finally:
            backend.close()
        again = target.current()
        try:
            listed = list(again.list_prefix("", recursive=True))
            want = dict(items)
            if listed != sorted(want):
                raise _error(
                    target,
                    f"After close() and reopening {target.description}, list_prefix('', "
                    f"recursive=True) gave {show_keys(listed)}: "
                    f"{explain_keys(listed, sorted(want))}.",
                )
            got = {k: bytes(v) for k, v in again.get_many(list(want)).items()}
            if got != want:
                wrong = [k for k in want if got.get(k) != want[k]]
                raise _error(
                    target,
                    f"After close() and reopening {target.description}, these keys read back "
                    f"wrong or missing: {show_keys(wrong)}.",
                )
        finally:
            close_quietly(again)

    contents_survive_reopen()

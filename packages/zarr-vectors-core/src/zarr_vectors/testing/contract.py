"""The key contract and key validation: what a backend does with the keys it is given.

:func:`check_key_contract` stores the contract's edge keys (and generated ones)
through both protocols and reads, lists, heads, batch-reads and batch-deletes
them; among them are the ``.zv-`` keys the core itself writes (commit records,
writers' claims, a replace's staged copy), which a backend must keep like any
other. :func:`check_invalid_keys` makes sure every invalid key or prefix is
refused with :class:`~zarr_vectors.exceptions.InvalidKeyError` before anything
is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from zarr_vectors.exceptions import ConformanceError, InvalidKeyError
from zarr_vectors.testing.common import close_driver, driver_for, hierarchical, kit_error
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.model import (
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    PRIVATE_SEGMENT_PREFIX,
    RESERVED_SEGMENT_PREFIX,
    Model,
    explain_keys,
)
from zarr_vectors.testing.show import show, show_call, show_key, show_keys
from zarr_vectors.testing.strategies import INVALID_PREFIXES, invalid_keys, key_space, value_of
from zarr_vectors.testing.target import KitTarget, close_quietly
from zarr_vectors.testing.ticks import tick

__all__ = ["check_invalid_keys", "check_key_contract"]

_CONTRACT = (
    f"the key contract (docs/storage.md, 'The key contract'): every backend stores any key "
    f"of up to {MAX_KEY_BYTES:,} bytes of UTF-8 (counting the store's own prefix where the "
    f"storage counts it) with segments of up to {MAX_SEGMENT_BYTES} bytes, byte-exact (no "
    "Unicode normalisation, no percent-encoding), and lists keys sorted"
)


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
            raise kit_error(
                target,
                f"{at(call)} raised {show(exc)}. The key is {len(key.encode())} bytes of "
                f"UTF-8 (the kit's longest here: {target.max_key_bytes}) and inside {_CONTRACT}."
                f"{private_hint([key])}",
            ) from exc
        model.put(key, value)
    want = model.listing()
    listing = "list_prefix('', recursive=True)"
    got = driver.ls("", True)
    if got != want:
        raise kit_error(
            target,
            f"{at(listing)} after storing "
            f"{show_keys(want)} returned {show_keys(got)}: {explain_keys(got, want)}. "
            f"Required by {_CONTRACT}.{private_hint([k for k in want if k not in got])}",
        )
    for key, value in items:
        found = driver.get(key)
        if found != value:
            raise kit_error(
                target,
                f"{at(show_call('get_bytes', key))} returned {show(found)}, "
                f"not the {show(value)} stored under it: another key of this set "
                f"({show_keys(k for k, _ in items if k != key)}) was stored under the same "
                f"name. Required by {_CONTRACT}.",
            )
        info = driver.head(key)
        if info.size != len(value):
            raise kit_error(
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
            raise kit_error(
                target,
                f"{at(call)} returned {show_keys(listed)}, the protocol says "
                f"{show_keys(expected)}: {explain_keys(listed, expected)} (only the immediate "
                "children: objects, and containers ending in '/', sorted).",
            )
    fetched = driver.get_many([k for k, _ in items])
    if fetched != dict(items):
        missing = [k for k, _ in items if k not in fetched]
        raise kit_error(
            target,
            f"{at(show_call('get_many', [k for k, _ in items]))} missed "
            f"{show_keys(missing)} or returned wrong values.",
        )
    driver.delete_many([k for k, _ in items])
    left = driver.ls("", True)
    if left:
        raise kit_error(
            target,
            f"{at(show_call('delete_many', [k for k, _ in items]))} left "
            f"{show_keys(left)} behind (delete_many removes every key it is given).",
        )


def private_hint(keys: list[str]) -> str:
    """What to say when keys with a ``.zv-`` segment went missing or were refused."""
    private = [k for k in keys if any(p.startswith(PRIVATE_SEGMENT_PREFIX) for p in k.split("/"))]
    if not private:
        return ""
    return (
        f" {show_keys(private)}: zarr-vectors itself writes keys like these (commit records "
        "under .zv-log/, writers' claims under .zv-claims/, a replace's staged copy under "
        ".zv-staged-*/); a backend must store, list and read them like any other key. "
        f"Only segments starting with {RESERVED_SEGMENT_PREFIX!r} are a backend's own."
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
        driver = driver_for(mode, backend)
        try:
            _contract_round(target, driver, list(space.contract))
        finally:
            close_driver(target, driver, backend)

    @config.seeded
    @config.settings(examples=max(4, config.max_examples // 2))
    @given(
        drawn=st.lists(space.generated, min_size=1, max_size=8, unique=True),
        mode=st.sampled_from(["sync", "async"]),
    )
    def generated_keys_are_kept_exactly(drawn: list[str], mode: str) -> None:
        tick()
        backend = target.fresh()
        model = Model(hierarchical(backend))
        chosen = []
        for key in drawn:
            if not model.conflicts(key):
                model.put(key, b"")
                chosen.append(key)
        driver = driver_for(mode, backend)
        try:
            _contract_round(target, driver, chosen)
        finally:
            close_driver(target, driver, backend)

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
            raise kit_error(
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
                raise kit_error(
                    target,
                    f"{call} on {where} was refused but changed the store: the listing is now "
                    f"{show_keys(after)} ({explain_keys(after, before)}). Validate every key "
                    "before touching storage.",
                )
            if values != _SENTINELS:
                changed = [k for k in _SENTINELS if values.get(k) != _SENTINELS[k]]
                raise kit_error(
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
                raise kit_error(
                    target,
                    f"{call} on {where} raised {show(exc)}; an invalid key must raise "
                    "zarr_vectors.exceptions.InvalidKeyError before any storage is touched.",
                ) from exc
            raise kit_error(
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

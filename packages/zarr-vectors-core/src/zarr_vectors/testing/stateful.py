"""The state machines: a backend driven step by step next to a :class:`~.model.Model`.

Each step is one protocol call with arguments drawn to hit the hard cases
(existing keys, siblings, nested prefixes, overwrites, MiB values). The answer
of the backend is compared with the model's at that step, and after every step
the full recursive listing of both must agree. When they disagree hypothesis
shrinks the run to the shortest sequence of calls that still shows it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from zarr_vectors.exceptions import ConformanceError, KeyConflictError
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.model import Model
from zarr_vectors.testing.strategies import KEYS, PREFIXES, keys, value_of
from zarr_vectors.testing.target import KitTarget, close_quietly

__all__ = ["machine_class", "run_machine", "show"]


def show(value: Any) -> str:
    """A short description of a value for a failure message."""
    if isinstance(value, bytes | bytearray) and len(value) > 48:
        return f"<{len(value)} bytes starting {bytes(value[:16])!r}>"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def _first_difference(got: bytes, want: bytes) -> str:
    if len(got) != len(want):
        return f"{len(got)} bytes instead of {len(want)}"
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        if a != b:
            return f"byte {i} differs"
    return "equal"


def machine_class(target: KitTarget, config: KitConfig, mode: str) -> type[RuleBasedStateMachine]:
    """A state machine class testing ``target`` through the ``"sync"`` or ``"async"`` protocol."""
    make_driver = SyncDriver if mode == "sync" else AsyncDriver
    sizes = st.one_of(
        st.integers(0, 300),
        st.integers(0, 300),
        st.integers(0, min(64 * 1024, config.max_value_size)),
        st.integers(0, config.max_value_size),
    )
    seeds = st.integers(0, 2**16)
    prefixes = st.one_of(st.sampled_from(PREFIXES), keys, keys.map(lambda k: k + "/"))
    key_lists = st.lists(keys, max_size=6)

    class BackendMachine(RuleBasedStateMachine):
        """Protocol calls on the backend and on the model, compared call by call."""

        def __init__(self) -> None:
            super().__init__()
            backend = target.fresh()
            self.driver: Driver = make_driver(backend)
            self.model = Model(bool(getattr(backend, "hierarchical_keys", False)))
            self.written: set[str] = set()

        def teardown(self) -> None:
            # Delete every key written one by one, not only by delete_prefix(''): on a
            # broken backend a listing or prefix delete may miss some, and a key left
            # behind would make the next run differ from this one.
            backend: Any = getattr(self.driver, "backend", None)
            for key in self.written:
                with contextlib.suppress(Exception):
                    backend.delete(key)
            try:
                self.driver.close()
            except Exception:
                close_quietly(getattr(self.driver, "backend", None))

        def _fail(self, call: str, got: Any, want: Any, why: str = "") -> ConformanceError:
            detail = f" ({why})" if why else ""
            return ConformanceError(
                f"[{self.driver.name}] {call} on {target.description} returned {show(got)}, "
                f"the protocol says {show(want)}{detail}."
            )

        def _expect_missing(self, call: str, action: Any) -> None:
            try:
                got = action()
            except KeyError:
                return
            raise self._fail(call, got, "KeyError", "the key is not stored")

        # -- rules ------------------------------------------------------------------------
        @initialize(
            batch=st.lists(
                st.tuples(st.sampled_from(KEYS), st.integers(0, 300)),
                max_size=8,
                unique_by=lambda t: t[0],
            )
        )
        def seed(self, batch: list[tuple[str, int]]) -> None:
            """Start from a few objects, so that most runs read, list and delete real keys."""
            for i, (key, size) in enumerate(batch):
                if not self.model.conflicts(key):
                    self._store(key, value_of(size, i))

        def _store(self, key: str, value: bytes) -> None:
            """put_bytes, then the get right after it must see exactly that value."""
            call = f"put_bytes({key!r}, <{len(value)} bytes>)"
            self.written.add(key)
            self.driver.put(key, value)
            self.model.put(key, value)
            try:
                got = self.driver.get(key)
            except KeyError:
                raise self._fail(
                    f"get_bytes({key!r}) right after {call}",
                    "KeyError",
                    value,
                    "a put must be visible to the next get",
                ) from None
            if got != value:
                raise self._fail(
                    f"get_bytes({key!r}) right after {call}",
                    got,
                    value,
                    "a put must be visible to the next get; " + _first_difference(got, value),
                )

        @rule(key=keys, size=sizes, seed=seeds)
        def put(self, key: str, size: int, seed: int) -> None:
            value = value_of(size, seed)
            if self.model.conflicts(key):
                self.written.add(key)
                try:
                    self.driver.put(key, value)
                except KeyConflictError:
                    return
                raise ConformanceError(
                    f"[{self.driver.name}] put_bytes({key!r}, <{size} bytes>) on "
                    f"{target.description} succeeded although the backend has "
                    "hierarchical_keys=True and the key is also a parent or child of a stored "
                    "key; it must raise KeyConflictError."
                )
            self._store(key, value)

        @rule(key=keys)
        def get(self, key: str) -> None:
            want = self.model.get(key)
            call = f"get_bytes({key!r})"
            if want is None:
                self._expect_missing(call, lambda: self.driver.get(key))
                return
            got = self.driver.get(key)
            if got != want:
                raise self._fail(call, got, want, _first_difference(got, want))

        @rule(
            key=keys,
            start=st.integers(0, 16) | st.integers(0, 400),
            length=st.none() | st.integers(0, 16) | st.integers(0, 400),
        )
        def get_range(self, key: str, start: int, length: int | None) -> None:
            want = self.model.get_range(key, start, length)
            call = f"get_range({key!r}, {start}, {length})"
            if want is None:
                self._expect_missing(call, lambda: self.driver.get_range(key, start, length))
                return
            got = self.driver.get_range(key, start, length)
            if got != want:
                raise self._fail(call, got, want, _first_difference(got, want))

        @rule(key=keys)
        def exists(self, key: str) -> None:
            got = self.driver.exists(key)
            want = self.model.get(key) is not None
            if got is not want:
                raise self._fail(f"exists({key!r})", got, want)

        @rule(key=keys)
        def delete(self, key: str) -> None:
            self.driver.delete(key)
            self.model.delete(key)
            if self.driver.exists(key):
                raise self._fail(f"exists({key!r}) after delete", True, False)

        @rule(prefix=prefixes)
        def delete_prefix(self, prefix: str) -> None:
            self.driver.delete_prefix(prefix)
            self.model.delete_prefix(prefix)
            got = self.driver.ls("", True)
            if got != self.model.listing():
                raise self._fail(
                    f"list_prefix('', recursive=True) after delete_prefix({prefix!r})",
                    got,
                    self.model.listing(),
                    "delete_prefix removes exactly the keys under the directory "
                    f"{prefix.rstrip('/') + '/' if prefix else '(the root)'}",
                )

        @rule(prefix=prefixes, recursive=st.booleans())
        def list_prefix(self, prefix: str, recursive: bool) -> None:
            got = self.driver.ls(prefix, recursive)
            want = self.model.ls(prefix, recursive)
            if got != want:
                raise self._fail(
                    f"list_prefix({prefix!r}, recursive={recursive})",
                    got,
                    want,
                    "sorted full keys; containers end in '/'" if not recursive else "sorted",
                )

        @rule(wanted=key_lists)
        def get_many(self, wanted: list[str]) -> None:
            got = self.driver.get_many(wanted)
            want = {k: v for k in wanted if (v := self.model.get(k)) is not None}
            if got != want:
                raise self._fail(f"get_many({wanted!r})", got, want, "missing keys are left out")

        @rule(
            batch=st.lists(st.tuples(keys, sizes), max_size=6, unique_by=lambda t: t[0]),
        )
        def put_many(self, batch: list[tuple[str, int]]) -> None:
            chosen: list[tuple[str, int]] = []
            for key, size in batch:
                taken = [k for k, _ in chosen]
                if self.model.conflicts(key) or self.model.conflicts(key, taken):
                    continue  # a batch that conflicts has no single right outcome
                chosen.append((key, size))
            items = [(k, value_of(size, i)) for i, (k, size) in enumerate(chosen)]
            self.written.update(k for k, _ in items)
            self.driver.put_many(items)
            for key, value in items:
                self.model.put(key, value)
            found = self.driver.get_many([k for k, _ in items])
            want = dict(items)
            if found != want:
                raise self._fail(
                    f"get_many of the keys just written by put_many({[k for k, _ in items]!r})",
                    found,
                    want,
                )

        @invariant()
        def listing_matches(self) -> None:
            got = self.driver.ls("", True)
            if got != self.model.listing():
                raise self._fail("list_prefix('', recursive=True)", got, self.model.listing())

    BackendMachine.__name__ = BackendMachine.__qualname__ = f"{mode.capitalize()}BackendMachine"
    return BackendMachine


def run_machine(target: KitTarget, config: KitConfig, mode: str) -> None:
    """Run the ``mode`` state machine; raises with hypothesis's minimal run on a failure."""
    machine = machine_class(target, config, mode)
    run_state_machine_as_test(machine, settings=config.settings(stateful=True))

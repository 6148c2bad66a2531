"""The state machines: a backend driven step by step next to a :class:`~.model.Model`.

Each step is one protocol call with arguments drawn to hit the hard cases
(existing keys, siblings, nested prefixes, overwrites, MiB values). The answer
of the backend is compared with the model's at that step, and after every step
the full recursive listing of both must agree. When they disagree hypothesis
shrinks the run to the shortest sequence of calls that still shows it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from zarr_vectors.exceptions import ConformanceError, KeyConflictError
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.model import Model
from zarr_vectors.testing.strategies import keys, prefixes_of, value_of
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
        st.integers(0, 64),
        st.integers(0, 64),
        st.integers(0, min(64 * 1024, config.max_value_size)),
        st.integers(0, config.max_value_size),
    )
    seeds = st.integers(0, 2**32 - 1)

    class BackendMachine(RuleBasedStateMachine):
        """Protocol calls on the backend and on the model, compared call by call."""

        def __init__(self) -> None:
            super().__init__()
            backend = target.fresh()
            self.driver: Driver = make_driver(backend)
            self.model = Model(bool(getattr(backend, "hierarchical_keys", False)))

        def teardown(self) -> None:
            try:
                self.driver.close()
            except Exception:
                close_quietly(getattr(self.driver, "backend", None))

        # -- drawing arguments ------------------------------------------------------------
        def _key(self, data: st.DataObject) -> str:
            known = self.model.listing()
            pick = st.one_of(st.sampled_from(known), keys) if known else keys
            key: str = data.draw(pick, label="key")
            return key

        def _prefix(self, data: st.DataObject) -> str:
            pool = sorted({p for k in self.model.listing() for p in prefixes_of(k)})
            choices = [st.just(""), keys, keys.map(lambda k: k + "/")]
            if pool:
                choices += [st.sampled_from(pool), st.sampled_from(pool)]
            prefix: str = data.draw(st.one_of(*choices), label="prefix")
            return prefix

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
        @rule(data=st.data(), size=sizes, seed=seeds)
        def put(self, data: st.DataObject, size: int, seed: int) -> None:
            key = self._key(data)
            value = value_of(size, seed)
            call = f"put_bytes({key!r}, <{size} bytes>)"
            if self.model.conflicts(key):
                try:
                    self.driver.put(key, value)
                except KeyConflictError:
                    return
                raise ConformanceError(
                    f"[{self.driver.name}] {call} on {target.description} succeeded although "
                    "the backend has hierarchical_keys=True and the key is also a parent or "
                    "child of a stored key; it must raise KeyConflictError."
                )
            self.driver.put(key, value)
            self.model.put(key, value)
            got = self.driver.get(key)
            if got != value:
                raise self._fail(
                    f"get_bytes({key!r}) right after {call}",
                    got,
                    value,
                    "a put must be visible to the next get; " + _first_difference(got, value),
                )

        @rule(data=st.data())
        def get(self, data: st.DataObject) -> None:
            key = self._key(data)
            want = self.model.get(key)
            call = f"get_bytes({key!r})"
            if want is None:
                self._expect_missing(call, lambda: self.driver.get(key))
                return
            got = self.driver.get(key)
            if got != want:
                raise self._fail(call, got, want, _first_difference(got, want))

        @rule(
            data=st.data(),
            start=st.integers(0, 70_000),
            length=st.one_of(st.none(), st.integers(0, 70_000)),
            near=st.booleans(),
        )
        def get_range(
            self, data: st.DataObject, start: int, length: int | None, near: bool
        ) -> None:
            key = self._key(data)
            want = self.model.get_range(key, start, length)
            stored = self.model.get(key)
            if near and stored is not None:  # ranges around the object's own size
                start = start % (len(stored) + 3)
                length = None if length is None else length % (len(stored) + 3)
                want = self.model.get_range(key, start, length)
            call = f"get_range({key!r}, {start}, {length})"
            if want is None:
                self._expect_missing(call, lambda: self.driver.get_range(key, start, length))
                return
            got = self.driver.get_range(key, start, length)
            if got != want:
                raise self._fail(call, got, want, _first_difference(got, want))

        @rule(data=st.data())
        def exists(self, data: st.DataObject) -> None:
            key = self._key(data)
            got = self.driver.exists(key)
            want = self.model.get(key) is not None
            if got is not want:
                raise self._fail(f"exists({key!r})", got, want)

        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            key = self._key(data)
            self.driver.delete(key)
            self.model.delete(key)
            if self.driver.exists(key):
                raise self._fail(f"exists({key!r}) after delete", True, False)

        @rule(data=st.data())
        def delete_prefix(self, data: st.DataObject) -> None:
            prefix = self._prefix(data)
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

        @rule(data=st.data(), recursive=st.booleans())
        def list_prefix(self, data: st.DataObject, recursive: bool) -> None:
            prefix = self._prefix(data)
            got = self.driver.ls(prefix, recursive)
            want = self.model.ls(prefix, recursive)
            if got != want:
                raise self._fail(
                    f"list_prefix({prefix!r}, recursive={recursive})",
                    got,
                    want,
                    "sorted full keys; containers end in '/'" if not recursive else "sorted",
                )

        @rule(data=st.data(), count=st.integers(0, 6))
        def get_many(self, data: st.DataObject, count: int) -> None:
            wanted = [self._key(data) for _ in range(count)]
            got = self.driver.get_many(wanted)
            want = {k: v for k in wanted if (v := self.model.get(k)) is not None}
            if got != want:
                raise self._fail(f"get_many({wanted!r})", got, want, "missing keys are left out")

        @rule(
            data=st.data(), count=st.integers(0, 6), lengths=st.lists(sizes, min_size=6, max_size=6)
        )
        def put_many(self, data: st.DataObject, count: int, lengths: list[int]) -> None:
            chosen: list[str] = []
            for _ in range(count):
                key = self._key(data)
                if key in chosen or self.model.conflicts(key) or self.model.conflicts(key, chosen):
                    continue  # a batch that conflicts has no single right outcome
                chosen.append(key)
            items = [(k, value_of(lengths[i], i + 7 * len(k))) for i, k in enumerate(chosen)]
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

"""The state machine's steps: one protocol call on the backend and on the model, compared.

:class:`MachineBase` holds every step and the checks they share; which steps a
run draws from, and with what arguments, is decided in :mod:`~.stateful`,
which makes a machine class per target and protocol from it. Steps compare the
backend's answer with the :class:`~.model.Model`'s at once, and after every
step the full recursive listing and the root's non-recursive listing of both
must agree (:meth:`MachineBase.listings_match`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, multiple

from zarr_vectors.exceptions import (
    ConformanceError,
    KeyConflictError,
    PreconditionFailedError,
    UnsupportedOperationError,
)
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.model import Model, explain_keys
from zarr_vectors.testing.show import show, show_call, show_key, show_keys
from zarr_vectors.testing.strategies import value_of
from zarr_vectors.testing.target import KitTarget, close_quietly
from zarr_vectors.testing.ticks import tick

__all__ = ["Draws", "MachineBase"]


class Draws:
    """The strategies of one machine class (set by :func:`~.stateful.machine_class`)."""

    keys: st.SearchStrategy[str]
    writes: st.SearchStrategy[str]


def _first_difference(got: bytes, want: bytes) -> str:
    if len(got) != len(want):
        return f"{len(got)} bytes instead of {len(want)}"
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        if a != b:
            return f"byte {i} differs"
    return "equal"


def _dict_difference(got: dict[str, bytes], want: dict[str, bytes]) -> str:
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [k for k in want if k in got and got[k] != want[k]]
    parts = []
    if missing:
        parts.append(f"missing {show_keys(missing)}")
    if extra:
        parts.append(f"unexpected {show_keys(extra)}")
    if wrong:
        first = wrong[0]
        parts.append(
            f"wrong value for {show_keys(wrong)} ({show_key(first)}: "
            f"{_first_difference(got[first], want[first])})"
        )
    return "; ".join(parts)


class MachineBase(RuleBasedStateMachine):
    """Protocol calls on the backend and on the model, compared call by call.

    The class attributes are set per target by :func:`~.stateful.machine_class`.
    """

    kit_target: ClassVar[KitTarget]
    where: ClassVar[str]
    make_driver: ClassVar[type[SyncDriver] | type[AsyncDriver]]
    hierarchical: ClassVar[bool] = False
    conditional: ClassVar[bool] = False
    draws: ClassVar[Draws]

    def __init__(self) -> None:
        super().__init__()
        tick()
        backend = self.kit_target.fresh()
        self.driver: Driver = self.make_driver(backend)
        self.model = Model(self.hierarchical)
        self.written: set[str] = set()

    def teardown(self) -> None:
        # Delete every key written one by one, not only by delete_prefix(''): on a
        # broken backend a listing or prefix delete may miss some, and a key left
        # behind would make the next run differ from this one.
        backend: Any = getattr(self.driver, "backend", None)
        with self.kit_target.guard.quiet():
            for key in self.written:
                with contextlib.suppress(Exception):
                    backend.delete(key)
            try:
                self.driver.close()
            except Exception:
                close_quietly(backend)

    def _error(self, message: str) -> ConformanceError:
        """A failure carrying the calls made so far (not the cleanup after it)."""
        error = ConformanceError(message)
        self.kit_target.guard.attach(error)
        return error

    def _fail(self, call: str, got: Any, want: Any, why: str = "") -> ConformanceError:
        detail = f" ({why})" if why else ""
        return self._error(
            f"[{self.driver.name}] {call} on {self.where} returned {show(got)}, "
            f"the protocol says {show(want)}{detail}."
        )

    def _raised(self, call: str, exc: BaseException, want: str) -> ConformanceError:
        return self._error(
            f"[{self.driver.name}] {call} on {self.where} raised {show(exc)}; {want}."
        )

    def _expect_missing(self, call: str, action: Callable[[], Any]) -> None:
        try:
            got = action()
        except KeyError:
            return
        raise self._fail(call, got, "KeyError", "the key is not stored")

    def _call(self, call: str, action: Callable[[], Any]) -> Any:
        """Run a call that must succeed; any exception is reported as the backend's fault."""
        try:
            return action()
        except (ConformanceError, KeyConflictError):
            raise
        except Exception as exc:
            raise self._raised(call, exc, "the protocol says it succeeds here") from exc

    def _check_listing(self, call: str, got: list[str], want: list[str], why: str) -> None:
        if got != want:
            raise self._error(
                f"[{self.driver.name}] {call} on {self.where} returned {show_keys(got)}, the "
                f"protocol says {show_keys(want)}: {explain_keys(got, want)} ({why})."
            )

    # -- rules ------------------------------------------------------------------------
    def seed(self, batch: list[tuple[str, int]]) -> Any:
        """Start from a few objects, so that most runs read, list and delete real keys."""
        for i, (key, size) in enumerate(batch):
            if not self.model.conflicts(key):
                self._store(key, value_of(size, i))
        return multiple(*(k for k, _ in batch))

    def _store(self, key: str, value: bytes) -> None:
        """put_bytes, then the get right after it must see exactly that value."""
        call = show_call("put_bytes", key, value)
        self.written.add(key)
        self._call(call, lambda: self.driver.put(key, value))
        self.model.put(key, value)
        self._must_read(key, value, f"right after {call}", "a put must be visible to the next get")
        self._head(key, f"head({show_key(key)}) right after {call}")

    def _must_read(self, key: str, value: bytes, when: str, why: str) -> None:
        call = f"get_bytes({show_key(key)}) {when}"
        try:
            got = self.driver.get(key)
        except KeyError:
            raise self._fail(call, "KeyError", value, why) from None
        if got != value:
            raise self._fail(call, got, value, f"{why}; {_first_difference(got, value)}")

    def put(self, key: str, size: int, seed: int) -> str:
        value = value_of(size, seed)
        if self.model.conflicts(key):
            self.written.add(key)
            try:
                self.driver.put(key, value)
            except KeyConflictError:
                return key
            raise self._error(
                f"[{self.driver.name}] {show_call('put_bytes', key, value)} on {self.where} "
                "succeeded although the backend has hierarchical_keys=True and the key is "
                "also a parent or child of a stored key; it must raise KeyConflictError."
            )
        self._store(key, value)
        return key

    def get(self, key: str) -> None:
        want = self.model.get(key)
        call = show_call("get_bytes", key)
        if want is None:
            self._expect_missing(call, lambda: self.driver.get(key))
            return
        got = self._call(call, lambda: self.driver.get(key))
        if got != want:
            raise self._fail(call, got, want, _first_difference(got, want))

    def get_range(self, key: str, start: int, length: int | None) -> None:
        self._range(key, start, length)

    def get_range_past_the_end(self, key: str, beyond: int, length: int | None) -> None:
        """A range starting at or after the end of the object is b'' (never an error)."""
        size = self.model.head(key)
        self._range(key, (size or 0) + beyond, length)

    def get_range_inside(self, key: str, start: int, length: int) -> None:
        """A range ending before the object does: exactly ``length`` bytes come back.

        ``start`` and ``length`` are folded into the object's size, so that the
        range starts inside it and ends at least one byte before its end.
        """
        size = self.model.head(key) or 0
        if size < 2:
            self._range(key, start % 4, length % 4)
            return
        begin = start % (size - 1)
        self._range(key, begin, 1 + length % (size - 1 - begin))

    def _range(self, key: str, start: int, length: int | None) -> None:
        want = self.model.get_range(key, start, length)
        call = show_call("get_range", key, start, length)
        if want is None:
            self._expect_missing(call, lambda: self.driver.get_range(key, start, length))
            return
        got = self._call(call, lambda: self.driver.get_range(key, start, length))
        if got != want:
            raise self._fail(call, got, want, _first_difference(got, want))

    def exists(self, key: str) -> None:
        got = self.driver.exists(key)
        want = self.model.get(key) is not None
        if got is not want:
            raise self._fail(show_call("exists", key), got, want)

    def head(self, key: str) -> None:
        self._head(key, show_call("head", key))

    def _head(self, key: str, call: str) -> str | None:
        """head(key) against the model: KeyError, or the size and a consistent version."""
        size = self.model.head(key)
        if size is None:
            self._expect_missing(call, lambda: self.driver.head(key))
            return None
        info = self._call(call, lambda: self.driver.head(key))
        if info.size != size:
            raise self._fail(f"{call}.size", info.size, size, "the object's length in bytes")
        if info.key != key:
            raise self._fail(f"{call}.key", info.key, key, "the key asked for")
        if info.version is None and self.conditional:
            raise self._fail(
                f"{call}.version",
                None,
                "a version token",
                "a backend with conditional_writes=True reports versions",
            )
        problem = self.model.version_problem(key, info.version)
        if problem:
            raise self._error(
                f"[{self.driver.name}] {call} on {self.where} returned version "
                f"{info.version!r}: {problem}."
            )
        version: str | None = info.version
        return version

    def delete(self, key: str) -> None:
        self.driver.delete(key)
        self.model.delete(key)
        if self.driver.exists(key):
            raise self._fail(f"exists({show_key(key)}) after delete", True, False)

    def delete_many(self, wanted: list[str]) -> None:
        """Missing and repeated keys are fine; exactly those keys are gone after."""
        call = show_call("delete_many", wanted)
        self._call(call, lambda: self.driver.delete_many(wanted))
        self.model.delete_many(wanted)
        got = self.driver.ls("", True)
        self._check_listing(
            f"list_prefix('', recursive=True) after {call}",
            got,
            self.model.listing(),
            "delete_many removes exactly the keys given",
        )

    def move_many(self, data: st.DataObject, count: int) -> Any:
        """Each destination gets its source's value and the source is gone; a missing
        source is skipped (moved already). A second run of the same moves is a no-op."""
        # Sources: mostly objects stored now, sometimes a key that is not (moved already).
        present = sorted(self.model.data)
        keys = self.draws.keys
        sources = st.one_of(*[st.sampled_from(present)] * 3, keys) if present else keys
        moves = data.draw(
            st.lists(st.tuples(sources, self.draws.writes), min_size=count, max_size=count),
            label="moves",
        )
        chosen: list[tuple[str, str]] = []
        used: set[str] = set()
        for source, dest in moves:
            if source == dest and source not in used:
                chosen.append((source, dest))  # a move onto itself changes nothing
                continue
            if source in used or dest in used:
                continue  # a key is the source or destination of one move only
            # Every key stored now or moved to earlier in the batch (a file system
            # moves one pair at a time, so a source still stands while others move).
            after = set(self.model.data).union(d for _, d in chosen)
            if self.model.conflicts(dest, after):
                continue  # an object that would also be a parent: no single outcome
            used.update((source, dest))
            chosen.append((source, dest))
        self.written.update(k for pair in chosen for k in pair)
        call = show_call("move_many", chosen)
        for when in ("", " again"):  # a re-run after a crash finds the moves done
            self._call(call + when, lambda: self.driver.move_many(chosen))
            self.model.move_many(chosen)
            self._check_listing(
                f"list_prefix('', recursive=True) after {call}{when}",
                self.driver.ls("", True),
                self.model.listing(),
                "move_many leaves each destination and removes each source that was stored",
            )
        want = {d: self.model.data[d] for _, d in chosen if d in self.model.data}
        found = self.driver.get_many(list(want))
        if found != want:
            raise self._fail(
                f"get_many of the destinations of {call}",
                found,
                want,
                _dict_difference(found, want) + "; a destination holds its source's value",
            )
        for dest in want:
            self._head(dest, f"head({show_key(dest)}) after {call}")
        return multiple(*want)

    def delete_prefix(self, prefix: str) -> None:
        call = show_call("delete_prefix", prefix)
        self._call(call, lambda: self.driver.delete_prefix(prefix))
        self.model.delete_prefix(prefix)
        got = self.driver.ls("", True)
        directory = prefix.rstrip("/") + "/" if prefix else "(the root)"
        self._check_listing(
            f"list_prefix('', recursive=True) after {call}",
            got,
            self.model.listing(),
            f"delete_prefix removes exactly the keys under the directory {show_key(directory)}",
        )

    def list_prefix(self, prefix: str, recursive: bool) -> None:
        call = f"list_prefix({show_key(prefix)}, recursive={recursive})"
        got = self._call(call, lambda: self.driver.ls(prefix, recursive))
        why = (
            "sorted full keys of objects below"
            if recursive
            else ("sorted immediate children: objects, and containers ending in '/'")
        )
        self._check_listing(call, got, self.model.ls(prefix, recursive), why)

    def get_many(self, wanted: list[str]) -> None:
        call = show_call("get_many", wanted)
        got = self._call(call, lambda: self.driver.get_many(wanted))
        want = {k: v for k in wanted if (v := self.model.get(k)) is not None}
        if got != want:
            raise self._fail(
                call, got, want, _dict_difference(got, want) + "; missing keys are left out"
            )

    def put_many_small(self, batch: list[tuple[str, int, int]]) -> Any:
        """An empty batch, or one of a single item."""
        return self.put_many(batch)

    # A rule of its own for batches of several items, so that they are drawn
    # often whatever other rules the machine has (a backend that drops an item of a
    # batch is caught only by such a batch).
    def put_many(self, batch: list[tuple[str, int, int]]) -> Any:
        """A batch may repeat a key: the last value given for it wins."""
        chosen: list[tuple[str, int, int]] = []
        for key, size, seed in batch:
            taken = {k for k, _, _ in chosen if k != key}
            if self.model.conflicts(key) or self.model.conflicts(key, taken):
                continue  # a batch that conflicts has no single right outcome
            chosen.append((key, size, seed))
        items = [(k, value_of(size, seed)) for k, size, seed in chosen]
        self.written.update(k for k, _ in items)
        call = show_call("put_many", items)
        self._call(call, lambda: self.driver.put_many(items))
        self.model.put_many(items)
        want = {k: self.model.data[k] for k, _ in items}
        found = self.driver.get_many(list(want))
        if found != want:
            raise self._fail(
                f"get_many of the keys just written by {call}",
                found,
                want,
                _dict_difference(found, want)
                + (
                    "; a key repeated in a batch keeps its last value"
                    if len(want) < len(items)
                    else ""
                ),
            )
        return multiple(*want)

    # -- conditional writes -------------------------------------------------------------

    def put_if_absent(self, key: str, size: int, seed: int) -> str:
        """expect=None: create only; refused with PreconditionFailedError if it exists."""
        self._put_if(key, value_of(size, seed), None, key not in self.model.data)
        return key

    def put_if_match(self, key: str, size: int, seed: int, stale: bool) -> None:
        """expect=version: replace only that version; a stale one is refused."""
        expect: str | None = None
        if not stale and key in self.model.data:
            expect = self._head(key, show_call("head", key))
        if expect is None:  # missing key, stale asked for, or no version to match
            self._put_if(key, value_of(size, seed), self.model.stale_version(key), False)
        else:
            self._put_if(key, value_of(size, seed), expect, True)

    def _put_if(self, key: str, value: bytes, expect: str | None, matches: bool) -> None:
        call = show_call("put_if", key, value, expect=expect)
        self.written.add(key)
        current = self.model.get(key)
        if self.model.conflicts(key):
            try:
                self.driver.put_if(key, value, expect)
            except (KeyConflictError, PreconditionFailedError):
                return
            raise self._error(
                f"[{self.driver.name}] {call} on {self.where} succeeded although the key is "
                "also a parent or child of a stored key on a backend with "
                "hierarchical_keys=True; it must raise KeyConflictError."
            )
        if matches and expect is None and self._is_directory(key):
            # Stores with real folders (SeaweedFS) refuse to create an object named
            # like a folder; plain S3 takes it. Either is allowed, a refusal must
            # change nothing (the listings after this step check that).
            try:
                version = self.driver.put_if(key, value, expect)
            except PreconditionFailedError:
                return
            self._created(key, value, call, version)
            return
        if not matches:
            try:
                got = self.driver.put_if(key, value, expect)
            except PreconditionFailedError:
                if current is not None:
                    self._must_read(
                        key,
                        current,
                        f"after the refused {call}",
                        "a refused put_if changes nothing",
                    )
                return
            except Exception as exc:
                raise self._raised(call, exc, "the protocol says PreconditionFailedError") from exc
            if expect is None:
                why = "expect=None writes only where no object is stored"
            elif current is None:
                why = "the key is not stored, so no version matches"
            else:
                why = "that version belongs to earlier contents of the key"
            raise self._fail(call, got, "PreconditionFailedError", why)
        version = self._call(call, lambda: self.driver.put_if(key, value, expect))
        self._created(key, value, call, version)

    def _is_directory(self, key: str) -> bool:
        return any(k.startswith(key + "/") for k in self.model.data)

    def _created(self, key: str, value: bytes, call: str, version: Any) -> None:
        """put_if succeeded: the value is there and the version is head()'s."""
        self.model.put(key, value)
        if not isinstance(version, str) or not version:
            raise self._fail(call, version, "the new version (a non-empty str)")
        self._must_read(
            key, value, f"right after {call}", "a put_if must be visible to the next get"
        )
        after = self._head(key, f"head({show_key(key)}) right after {call}")
        if after != version:
            raise self._fail(call, version, after, "put_if returns the version head() reports next")

    def put_if_unsupported(self, key: str) -> None:
        """conditional_writes=False: UnsupportedOperationError, nothing changed."""
        call = show_call("put_if", key, b"x", expect=None)
        try:
            got = self.driver.put_if(key, b"x", None)
        except UnsupportedOperationError:
            return
        except Exception as exc:
            raise self._raised(
                call,
                exc,
                "a backend with conditional_writes=False raises "
                "UnsupportedOperationError (the base class does, unless _put_if is "
                "overridden without setting conditional_writes=True)",
            ) from exc
        self.written.add(key)
        raise self._fail(
            call,
            got,
            "UnsupportedOperationError",
            "the backend says conditional_writes=False; set it to True if put_if works",
        )

    @invariant()
    def listings_match(self) -> None:
        got = self.driver.ls("", True)
        self._check_listing(
            "list_prefix('', recursive=True)",
            got,
            self.model.listing(),
            "every object key, sorted",
        )
        top = self.driver.ls("", False)
        self._check_listing(
            "list_prefix('', recursive=False)",
            top,
            self.model.ls("", False),
            "only the root's immediate children; containers end in '/'",
        )

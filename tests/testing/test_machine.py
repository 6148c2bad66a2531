"""The state machine's steps (machine.py), called one by one outside a hypothesis run.

Each step makes one protocol call on the backend and on the model and compares
the answers; a correct backend passes every step and leaves nothing behind, and
each step fails a faulty backend with a message saying what the protocol says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from tests.helpers.kit_expected import FEWER, fault_target
from tests.helpers.kit_faulty import FAULTY, DictBackend, VersionedDictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.machine import MachineBase, _dict_difference, _first_difference
from zarr_vectors.testing.stateful import machine_class


def _machine(cls: type[DictBackend], mode: str = "sync") -> Any:
    target = fault_target(cls)
    machine = cast(MachineBase, machine_class(target, FEWER, mode)())
    return machine, target


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_correct_backend_passes_every_step_and_is_emptied(mode: str) -> None:
    machine, target = _machine(VersionedDictBackend, mode)
    machine.seed([("a", 5), ("b/c", 0)])
    machine.put("big", 70_000, 1)
    machine.get("a")
    machine.get("missing")
    machine.get_range("big", 10, 5)
    machine.get_range_past_the_end("big", 3, None)
    machine.get_range_inside("big", 123, 456)
    machine.exists("b/c")
    machine.head("big")
    machine.put_if_absent("new", 10, 2)
    machine.put_if_match("new", 11, 3, stale=False)
    machine.put_if_match("new", 12, 4, stale=True)
    machine.put_many([("d/1", 3, 1), ("d/2", 4, 2), ("d/1", 5, 3)])
    machine.get_many(["d/1", "d/2", "missing"])
    machine.list_prefix("d", recursive=False)
    machine.delete_many(["d/1", "missing"])
    machine.delete_prefix("d")
    machine.delete("a")
    machine.listings_match()
    machine.teardown()
    assert list(target.open().list_prefix("", recursive=True)) == []


# fault -> the step that shows it, and what its message says
STEPS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "head-wrong-size": (
        lambda m: m.put("k", 70_000, 1),
        r"head\('k'\) right after put_bytes\('k', <70000 bytes>\)\.size .*returned 65536",
    ),
    "missing-get-empty": (lambda m: m.get("nothing"), r"get_bytes\('nothing'\).*'KeyError'"),
    "put-not-visible": (lambda m: m.put("k", 3, 1), r"right after put_bytes\('k', <3 bytes>\)"),
    "put-many-drops-item": (
        lambda m: m.put_many([("x", 1, 1), ("y", 1, 2)]),
        r"get_many of the keys just written by put_many.*missing \['y'\]",
    ),
    "range-off-by-one": (
        lambda m: (m.put("k", 10, 1), m.get_range("k", 2, 3)),
        r"get_range\('k', 2, 3\) .*4 bytes instead of 3",
    ),
    "lists-recursively": (
        lambda m: (m.put("a/b", 1, 1), m.listings_match()),
        r"list_prefix\('', recursive=False\) .*returned \['a/b'\]",
    ),
}


@pytest.mark.parametrize("fault", sorted(STEPS))
def test_each_step_fails_a_faulty_backend_saying_why(fault: str) -> None:
    machine, _ = _machine(FAULTY[fault])
    step, pattern = STEPS[fault]
    with pytest.raises(ConformanceError, match=pattern) as caught:
        step(machine)
    assert caught.value.kit_calls  # type: ignore[attr-defined]
    machine.teardown()


def test_put_if_where_the_backend_says_it_has_none_is_refused() -> None:
    class PutIfAnyway(DictBackend):
        def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
            self.put_bytes(key, data)
            return "v1"

    machine, _ = _machine(PutIfAnyway)
    with pytest.raises(ConformanceError, match=r"'UnsupportedOperationError'.*conditional_writes"):
        machine.put_if_unsupported("k")
    machine.teardown()


def test_differences_are_described_by_what_differs() -> None:
    assert _first_difference(b"abc", b"abd") == "byte 2 differs"
    assert _first_difference(b"ab", b"abc") == "2 bytes instead of 3"
    assert _first_difference(b"ab", b"ab") == "equal"
    described = _dict_difference({"a": b"1", "c": b"x"}, {"a": b"2", "b": b"0"})
    assert (
        described == "missing ['b']; unexpected ['c']; wrong value for ['a'] ('a': byte 0 differs)"
    )

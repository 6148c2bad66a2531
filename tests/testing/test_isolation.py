"""Each check in a child process the kit can end (isolation.py): stuck C code and crashes.

A backend call stuck in C code holding the GIL and one that crashes the process
end the check with a clear failure naming the call; what the child reports
survives the trip to the parent; in the kit's own process a check passes, is
skipped with its reason, or fails with the calls of its example. What the checks
import is imported once where the children start from, not in each child.
"""

from __future__ import annotations

import re
import time
from multiprocessing import forkserver
from pathlib import Path

import pytest

from tests.helpers.kit_expected import FEWER, fault_target
from tests.helpers.kit_faulty import FAULTY, DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing import KitTarget, checks, isolation, run_check
from zarr_vectors.testing.isolation import _context, _last_call, _portable, run_here


@pytest.mark.slow
def test_a_call_holding_the_gil_ends_the_check_within_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The C call never gives the GIL back: the kit's process-level watchdog ends it."""
    # the silence counted as frozen is the call limit plus GRACE (5 s, for a heartbeat a
    # loaded machine delays); 1 s here: the frozen child is silent for good either way
    monkeypatch.setattr(isolation, "GRACE", 1.0)
    config = FEWER.with_changes(call_timeout=5.0, seed=1)
    target = fault_target(FAULTY["get-holds-the-gil"])
    started = time.monotonic()
    result = run_check("edge-cases", target, config)
    took = time.monotonic() - started
    assert result.status == "failed"
    assert re.search(r"get_bytes\('p/a'\) on GetHoldsTheGil at dict://kit-\d+ did not "
                     r"return within 5 s.*holds Python's GIL", result.message)  # fmt: skip
    assert took < 120, took
    # a later check does not call get_bytes on it again, and ends at once
    again = run_check("sync-state-machine", target, config)
    assert again.status == "failed" and "was not attempted" in again.message


def test_a_crash_in_native_code_fails_the_check_naming_the_call() -> None:
    result = run_check(
        "edge-cases", fault_target(FAULTY["get-crashes"]), FEWER.with_changes(seed=1)
    )
    assert result.status == "failed"
    assert re.search(r"killed by signal 11 during get_bytes\('p/a'\)", result.message)


def test_in_this_process_a_check_passes_is_skipped_or_fails_with_its_calls() -> None:
    ticks: list[int] = []
    passed = run_here("write-fences", fault_target(DictBackend), FEWER, lambda: ticks.append(1))
    assert passed.status == "passed" and len(ticks) == 6
    skipped = run_here("two-processes", fault_target(DictBackend), FEWER, lambda: None)
    assert skipped.status == "skipped" and "in this process" in skipped.message
    failed = run_here(
        "edge-cases", fault_target(FAULTY["exists-sees-children"]), FEWER, lambda: None
    )
    assert failed.status == "failed" and isinstance(failed.error, ConformanceError)
    assert failed.calls[-1] == "exists('p/a') -> True"


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a} and {b}")


def test_what_cannot_travel_to_the_parent_is_replaced_by_its_text() -> None:
    kept = ConformanceError("plain")
    assert _portable(kept) is kept and _portable(None) is None
    odd = Unpicklable(1, 2)
    odd.add_note("minimal example: ...")
    stand_in = _portable(odd)
    assert isinstance(stand_in, ConformanceError)
    assert str(stand_in) == "Unpicklable: 1 and 2"
    assert stand_in.__notes__ == ["minimal example: ..."]


def test_the_last_call_is_read_back_from_shared_memory() -> None:
    assert _last_call(bytearray(16)) is None
    assert _last_call(bytearray(b"backend\tget_bytes\tget_bytes('a\tb')\0junk")) == (
        "backend",
        "get_bytes",
        "get_bytes('a\tb')",
    )


def test_what_a_child_imports_is_imported_where_it_is_started_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded: list[list[str]] = []
    monkeypatch.setattr(checks, "preload", lambda names: loaded.append(list(names)))
    # a lambda's target: the child is forked from this process, which imports them first
    assert _context(fault_target(DictBackend), "edge-cases").get_start_method() == "fork"
    assert loaded == [["edge-cases"]]
    # a picklable target: the forkserver imports every check's modules before it forks
    monkeypatch.setattr(forkserver._forkserver, "_preload_modules", [])
    target = KitTarget.from_name("local", str(tmp_path / "kit"))
    assert _context(target, "edge-cases").get_start_method() == "forkserver"
    assert set(checks.check_modules()) <= set(vars(forkserver._forkserver)["_preload_modules"])
    assert loaded == [["edge-cases"]]

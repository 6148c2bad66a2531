"""The faults the kit used to miss or catch only sometimes (issue 18) are caught every time.

Each broken backend of the second half of ``tests/helpers/kit_faulty.py`` must
fail the check named for it in every seed, with a message naming what went
wrong; the checks that catch them are fixed scripts (edge-cases), large batches,
write fences, two instances and two processes of one URL. A backend call stuck
in C code holding the GIL, and one that crashes the process, end the check with
a clear failure (each check runs in a child process the kit can end), and the
search for a minimal example stops after ``KitConfig.shrink_seconds``.
"""

from __future__ import annotations

import itertools
import re
import time

import pytest

from tests.helpers.kit_faulty import FAULTY, DictBackend
from zarr_vectors.testing import KitConfig, KitTarget, run_check

COUNTER = itertools.count()
SEEDS = (1, 2, 3)
FEWER = KitConfig.local().with_changes(max_examples=10, shrink=False)

#: fault -> the checks that must catch it and what their message must say
NEW_EXPECTED: dict[str, list[tuple[str, str]]] = {
    "get-returns-bytearray": [
        ("edge-cases", r"returned a bytearray, not bytes"),
        ("sync-state-machine", r"returned a bytearray, not bytes"),
    ],
    "exists-sees-children": [("edge-cases", r"exists\('p/a'\) .*returned True.*only 'p/a/b'")],
    "range-past-end-raises": [
        ("edge-cases", r"get_range\('r/small', 1001, None\) .*raised StoreError")
    ],
    "lists-deleted-under-prefix": [
        ("edge-cases", r"list_prefix\('d/x/?', .*unexpected \['d/x/1'\].*after delete\('d/x/1'\)")
    ],
    "range-to-end-short": [
        ("edge-cases", r"get_range\('r/small', 0, None\) .*999 bytes instead of 1000")
    ],
    "hides-zv-keys": [
        ("edge-cases", r"list_prefix\(''.*missing \['\.zv-claims/"),
        ("key-contract", r"zarr-vectors itself writes keys like these"),
    ],
    "refuses-zv-keys": [
        ("edge-cases", r"put_many of .*'\.zv-log/.*raised InvalidKeyError"),
        ("key-contract", r"zarr-vectors itself writes keys like these"),
    ],
    # the default move_many deletes its sources with delete_many, so it shows there first
    "delete-many-first-page": [
        ("large-batches", r"after (move_many of 1100 pairs|delete_many of 1101 keys)")
    ],
    "put-many-first-page": [("large-batches", r"after put_many of 1100 objects .*expected 1100")],
    "move-many-first-page": [("large-batches", r"after move_many of 1100 pairs")],
    "put-many-ignores-fence": [
        ("write-fences", r"put_many of 4 objects .*succeeded although the write fence closed")
    ],
    "delete-many-ignores-fence": [
        ("write-fences", r"delete_many of 4 objects .*succeeded although the write fence closed")
    ],
    "move-many-ignores-fence": [
        ("write-fences", r"move_many of 4 objects .*succeeded although the write fence closed")
    ],
    "private-snapshot": [("two-instances", r"second instance|another instance of the same URL")],
}
#: faults that stop a call (tested one by one below, with a short time limit)
STOPPING = {"one-instance-at-a-time", "get-holds-the-gil", "get-crashes"}


def _target(cls: type[DictBackend], in_process: bool = True) -> KitTarget:
    url = f"dict://faults-{next(COUNTER)}"
    return KitTarget(lambda: cls(url), f"{cls.__name__} at {url}", url=url, in_process=in_process)


#: checks whose calls do not depend on the seed: one seed shows what every seed would
FIXED = {"edge-cases", "large-batches", "write-fences", "two-instances"}


def _caught(fault: str, seeds: tuple[int, ...]) -> None:
    for check, pattern in NEW_EXPECTED[fault]:
        for seed in seeds[:1] if check in FIXED else seeds:
            result = run_check(check, _target(FAULTY[fault]), FEWER.with_changes(seed=seed))
            assert result.status == "failed", f"{fault} not caught by {check} in seed {seed}"
            assert re.search(pattern, result.message), result.message
            assert result.calls, "the failure lists the backend calls of its example"


@pytest.mark.parametrize("fault", sorted(NEW_EXPECTED))
def test_each_new_fault_is_caught(fault: str) -> None:
    _caught(fault, SEEDS[:1])


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(NEW_EXPECTED))
def test_each_new_fault_is_caught_in_other_seeds(fault: str) -> None:
    _caught(fault, SEEDS[1:])


def test_two_processes_sees_a_store_that_lives_in_one_process() -> None:
    """A dict in process memory is not shared: the two-processes check can fail."""
    result = run_check("two-processes", _target(DictBackend, in_process=False), FEWER)
    assert result.status == "failed"
    assert "did not read what another instance of the same URL wrote" in result.message
    skipped = run_check("two-processes", _target(DictBackend), FEWER)
    assert skipped.status == "skipped" and "keeps its objects in this process" in skipped.message


def test_a_second_instance_that_waits_for_the_first_is_a_timeout() -> None:
    # 5 s: a limit an innocent call cannot reach on a loaded machine (see test_timeouts.py)
    config = FEWER.with_changes(call_timeout=5.0, seed=1)
    result = run_check("two-instances", _target(FAULTY["one-instance-at-a-time"]), config)
    assert result.status == "failed"
    assert re.search(r"open\(dict://faults-\d+\) .*did not return within 5 s", result.message)


@pytest.mark.slow
def test_a_call_holding_the_gil_ends_the_check_within_the_time_limit() -> None:
    """The C call never gives the GIL back: the kit's process-level watchdog ends it."""
    config = FEWER.with_changes(call_timeout=5.0, seed=1)
    target = _target(FAULTY["get-holds-the-gil"])
    started = time.monotonic()
    result = run_check("edge-cases", target, config)
    took = time.monotonic() - started
    assert result.status == "failed"
    assert re.search(r"get_bytes\('p/a'\) on GetHoldsTheGil at dict://faults-\d+ did not "
                     r"return within 5 s.*holds Python's GIL", result.message)  # fmt: skip
    assert took < 120, took
    # a later check does not call get_bytes on it again, and ends at once
    again = run_check("sync-state-machine", target, config)
    assert again.status == "failed" and "was not attempted" in again.message


def test_a_crash_in_native_code_fails_the_check_naming_the_call() -> None:
    result = run_check("edge-cases", _target(FAULTY["get-crashes"]), FEWER.with_changes(seed=1))
    assert result.status == "failed"
    assert re.search(r"killed by signal 11 during get_bytes\('p/a'\)", result.message)


def test_shrinking_stops_after_its_time_and_reports_the_example_as_found() -> None:
    config = FEWER.with_changes(seed=2, shrink=True, shrink_seconds=0.01)
    result = run_check("sync-state-machine", _target(FAULTY["put-many-drops-item"]), config)
    assert result.status == "failed"
    assert "the search for a smaller example was stopped after" in result.message
    assert "state = SyncBackendMachine()" in result.example and "put_many(" in result.example

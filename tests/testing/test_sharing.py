"""Two instances and two processes of one URL (sharing.py).

A private snapshot per instance and a store that lives in one process are
caught; a second instance that waits for the first fails by the time limit; an
in-process store skips the two-processes check with the reason.
"""

from __future__ import annotations

import re

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import FAULTY, DictBackend
from zarr_vectors.testing import KitTarget, run_check
from zarr_vectors.testing.sharing import check_two_instances, in_process_store


class TestFaultsCaught(FaultsCaught):
    module = "sharing"


def test_two_processes_sees_a_store_that_lives_in_one_process() -> None:
    """A dict in process memory is not shared: the two-processes check can fail."""
    result = run_check("two-processes", fault_target(DictBackend, in_process=False), FEWER)
    assert result.status == "failed"
    assert "did not read what another instance of the same URL wrote" in result.message
    skipped = run_check("two-processes", fault_target(DictBackend), FEWER)
    assert skipped.status == "skipped" and "keeps its objects in this process" in skipped.message


def test_a_second_instance_that_waits_for_the_first_is_a_timeout() -> None:
    # 5 s: a limit an innocent call cannot reach on a loaded machine (see test_guard.py)
    config = FEWER.with_changes(call_timeout=5.0, seed=1)
    result = run_check("two-instances", fault_target(FAULTY["one-instance-at-a-time"]), config)
    assert result.status == "failed"
    assert re.search(r"open\(dict://kit-\d+\) .*did not return within 5 s", result.message)


def test_a_correct_backend_passes_two_instances() -> None:
    check_two_instances(fault_target(DictBackend), FEWER)


def test_memory_urls_and_in_process_targets_live_in_one_process() -> None:
    assert in_process_store(KitTarget(lambda: None, url="memory://x"))
    assert in_process_store(KitTarget(lambda: None, url="dict://x", in_process=True))
    assert not in_process_store(KitTarget(lambda: None, url="/tmp/x"))

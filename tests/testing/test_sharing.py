"""Two instances and two processes of one URL (sharing.py).

A private snapshot per instance and a store that lives in one process are
caught; a second instance that waits for the first fails by the time limit; an
in-process store skips the two-processes check with the reason. A worker process
of two-processes refuses an operation that overran earlier in the run and
reports it as a timeout; the kit kills the workers that did not end (stuck, or
waiting for the other) at once, and one that died is named without waiting.
"""

from __future__ import annotations

import queue
import re
from typing import Any

import pytest

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import FAULTY, DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing import KitTarget, KitTimeoutError, run_check
from zarr_vectors.testing.guard import hung_calls, record_hung
from zarr_vectors.testing.sharing import (
    _await,
    _end,
    _judge,
    _process_work,
    check_two_instances,
    in_process_store,
)


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


def test_two_processes_does_not_wait_again_for_an_operation_that_overran() -> None:
    """Earlier in the run get_many overran: the workers refuse it at once, and the check
    fails as a timeout (which is not run again to shrink)."""
    target = fault_target(DictBackend, in_process=False)
    record_hung(target.description, "get_many", "get_many(['x'])")
    result = run_check("two-processes", target, FEWER.with_changes(call_timeout=5.0))
    assert result.status == "failed" and isinstance(result.error, KitTimeoutError)
    assert re.search(r"Process p[12], .*get_many\(.* was not attempted", result.message)


class Event:
    def __init__(self) -> None:
        self.waited = False

    def wait(self, timeout: float) -> bool:
        self.waited = True
        return True


def test_a_worker_refuses_an_operation_that_overran_before_as_a_timeout() -> None:
    """The kit's process already saw get_many overrun: the worker does not wait for it again."""
    target = fault_target(DictBackend)
    target.configure(5.0)
    out: queue.Queue[Any] = queue.Queue()
    hung = [(target.description, "get_many", "get_many(['x'])")]
    _process_work(target, "p1", "p2", hung, Event(), out)
    assert out.get_nowait() == ("written", "p1", None)
    kind, name, (message, entries) = out.get_nowait()
    assert (kind, name) == ("timeout", "p1")
    assert "get_many(['shared/p2/000'" in message and "was not attempted" in message
    assert (target.description, "get_many", "get_many(['x'])") in entries


class Worker:
    """A stand-in for a worker process: records what the kit does to it."""

    def __init__(self, alive: bool, exitcode: int | None = None) -> None:
        self.alive, self.exitcode = alive, exitcode
        self.done: list[str] = []

    def is_alive(self) -> bool:
        return self.alive

    def kill(self) -> None:
        self.done.append("kill")
        self.alive = False

    def join(self, timeout: float | None = None) -> None:
        self.done.append("join")


def test_workers_that_did_not_end_are_killed_at_once_and_the_others_joined() -> None:
    stuck, waiting, ended = Worker(True), Worker(True), Worker(False)
    _end({"p1": stuck, "p2": waiting, "p3": ended}, done={"p3"})
    assert stuck.done == waiting.done == ["kill", "join"]  # no wait before the kill
    assert ended.done == ["join", "join"]


def test_a_worker_that_died_is_reported_without_waiting_for_the_limit() -> None:
    out: queue.Queue[Any] = queue.Queue()
    out.put(("written", "p1", None))
    workers = {"p1": Worker(True), "p2": Worker(False, exitcode=-11)}
    waiting = {"p1", "p2"}
    reports = _await(out, workers, waiting, limit=600)
    assert reports == [("written", "p1", None), ("died", "p2", -11)] and not waiting
    with pytest.raises(ConformanceError, match=r"Process p2, .*ended \(exit code -11\)"):
        _judge(fault_target(DictBackend), reports, waiting, "writing", 600)


def test_a_worker_timeout_or_silence_fails_as_a_timeout_and_is_remembered() -> None:
    target = fault_target(DictBackend)
    hung = [(target.description, "get_many", "get_many(['q'])")]
    report = ("timeout", "p2", ("get_many(['q']) did not return within 5 s.", hung))
    with pytest.raises(KitTimeoutError, match=r"Process p2, .*get_many\(\['q'\]\) did not"):
        _judge(target, [("written", "p1", None), report], set(), "reading", 15)
    assert f"get_many(['q']) on {target.description}" in hung_calls()
    with pytest.raises(KitTimeoutError, match="p1 and p2 sent nothing for 70 s while writing"):
        _judge(target, [], {"p1", "p2"}, "writing", 70)

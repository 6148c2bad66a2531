"""The kit never hangs (guard.py): every backend call has a time limit and a place in a log.

A backend whose ``get`` never returns must fail the checks that read, with a
message naming the call, the key and the backend, within a bounded time; later
calls of that operation fail at once. The guard's log keeps the calls of the
current example, and not the cleanup after a failure. (That the ``check-backend``
command and the pytest route then end by themselves is tested with them, in
test_kit.py and test_pytest_plugin.py.)
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time

import pytest

from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.testing import KitConfig, KitTarget, KitTimeoutError, run_kit
from zarr_vectors.testing.guard import (
    Guard,
    _op,
    hung_calls,
    outstanding_calls,
    run_coroutine,
    watch,
)

COUNTER = itertools.count()


def test_a_call_that_never_returns_fails_each_check_quickly_and_by_name() -> None:
    release = threading.Event()

    class Blocking(DictBackend):
        def _get(self, key: str) -> bytes:
            release.wait()
            return super()._get(key)

    url = f"dict://hang-{next(COUNTER)}"
    target = KitTarget(lambda: Blocking(url), f"Blocking at {url}", url=url, in_process=True)
    # 5 s, not 1: on a loaded machine an innocent call (a close()) once took over 1 s and
    # was named instead of the hanging get; the hang is caught at any limit.
    config = KitConfig.local().with_changes(call_timeout=5.0, max_examples=5, seed=1)
    started = time.monotonic()
    try:
        results = run_kit(target, config)
        took = time.monotonic() - started
    finally:
        release.set()
    failed = {r.name: r for r in results if r.status == "failed"}
    # Reading checks fail; each waits for the limit at most once per operation.
    assert {"sync-state-machine", "async-state-machine", "key-contract"} <= set(failed)
    first = failed["sync-state-machine"].message
    assert re.search(rf"get_bytes\('[^']+'\) on Blocking at {url} did not return within 5 s", first)
    assert "--timeout SECONDS" in first and "--zv-timeout" in first
    later = failed["key-contract"].message
    assert "was not attempted" in later and "did not return within 5 s earlier" in later
    # bounded (each operation waits for the limit once), whatever the machine's load
    assert took < 300, took
    # once released, the stuck calls end and nothing keeps the process from exiting
    deadline = time.monotonic() + 10
    while outstanding_calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outstanding_calls() == []


def test_a_slow_backend_passes_within_the_default_limit() -> None:
    class Slow(DictBackend):
        def _get(self, key: str) -> bytes:
            time.sleep(0.02)
            return super()._get(key)

    url = f"dict://slow-{next(COUNTER)}"
    target = KitTarget(lambda: Slow(url), f"Slow at {url}", url=url)
    results = run_kit(target, KitConfig.local().with_changes(max_examples=3), ["key-contract"])
    assert results[0].status == "passed", results[0].describe()
    assert KitConfig.local().call_timeout == 30 and KitConfig.remote().call_timeout == 120


def _unique(name: str) -> Guard:
    return Guard(f"{name} at dict://guard-{next(COUNTER)}", 5.0)


def test_a_call_that_overruns_is_named_and_its_operation_refused_afterwards() -> None:
    guard = _unique("Stuck")
    release = threading.Event()
    renewed: list[bool] = []

    def check() -> None:
        call = guard.start("get_bytes", "get_bytes('k')")
        call.started -= 100  # as if it had been running for 100 s: no waiting for the limit
        release.wait(60)
        guard.end(call, b"late")

    try:
        with pytest.raises(KitTimeoutError, match=r"get_bytes\('k'\) on Stuck at .* within 5 s"):
            watch(lambda: guard, check, renew=lambda: renewed.append(True))
        assert renewed == [True] and guard.abandoned
        assert f"get_bytes('k') on {guard.description}" in hung_calls()
        assert "get_bytes('k')" in outstanding_calls()
        # the async twin is the same operation: not attempted again on this backend
        again = Guard(guard.description, 5.0)
        with pytest.raises(KitTimeoutError, match=r"aget_bytes\('j'\) .*was not attempted"):
            again.start("aget_bytes", "aget_bytes('j')")
        again.start("put_bytes", "put_bytes('j', <1 bytes>)")  # another operation is fine
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while "get_bytes('k')" in outstanding_calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "get_bytes('k')" not in outstanding_calls()  # it returned: nothing left stuck


def test_the_log_keeps_the_calls_of_the_example_and_not_the_cleanup() -> None:
    guard = _unique("Logged")
    assert guard.run("get_bytes", "get_bytes('a')", lambda: b"1") == b"1"
    with pytest.raises(KeyError):
        guard.run("head", "head('b')", lambda: {"a": b""}["b"])
    with guard.quiet():
        guard.run("close", "close()", lambda: None)
    running = guard.start("exists", "exists('c')")
    assert guard.calls() == [
        "get_bytes('a') -> b'1'",
        "head('b') -> KeyError: 'b'",
        "exists('c') -> (still running)",
    ]
    assert guard.calls(last=1) == ["exists('c') -> (still running)"]
    error = guard.attach(ValueError("x"))
    guard.end(running, True)
    assert error.kit_calls[-1] == "exists('c') -> (still running)"  # type: ignore[attr-defined]
    guard.reset_log()
    assert guard.calls() == [] and guard.overdue() is None


def test_the_oldest_overdue_call_is_reported() -> None:
    guard = _unique("Slow")
    young, old, older = (guard.start("get_bytes", f"get_bytes('{k}')") for k in "abc")
    old.started -= 10
    older.started -= 20
    assert guard.overdue() is older
    for call in (young, old, older):
        guard.end(call)
    assert guard.overdue() is None


def test_async_twins_are_one_operation_with_their_sync_method() -> None:
    assert _op("aget_bytes") == _op("get_bytes") == "get_bytes"
    assert _op("aclose") == "close" and _op("append") == "append"


def test_coroutines_run_with_daemon_worker_threads() -> None:
    async def work() -> tuple[str, bool]:
        def where() -> tuple[str, bool]:
            thread = threading.current_thread()
            return thread.name, thread.daemon

        return await asyncio.to_thread(where)

    name, daemon = run_coroutine(work)
    assert name.startswith("zv-kit-") and daemon

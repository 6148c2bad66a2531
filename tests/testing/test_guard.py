"""The kit never hangs: every backend call has a time limit, and the run ends on its own.

A backend whose ``get`` never returns must fail the checks that read, with a
message naming the call, the key and the backend, within a bounded time; the
``check-backend`` command and the pytest route must then end by themselves
(the stuck thread cannot be stopped, so they do not wait for it at exit).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from pathlib import Path

from tests.helpers.kit_faulty import DictBackend
from tests.testing.test_kit import _cli, _faulty_dist, _own_suite, _pytest
from zarr_vectors.testing import CHECK_NAMES, KitConfig, KitTarget, run_kit
from zarr_vectors.testing.guard import outstanding_calls

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


def test_check_backend_ends_on_its_own_when_get_never_returns(tmp_path: Path) -> None:
    env = _faulty_dist(tmp_path / "site", "get-blocks-forever", local=True)
    started = time.monotonic()
    run = _cli(
        "check-backend", "faulty", "--url", "dict://hang", "--timeout", "2",
        "--max-examples", "5",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    took = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert took < 400, took
    # Which read hangs first (get_bytes, or get_many of the kit's sentinels) depends on
    # the seed and on which check gets there first.
    assert re.search(r"get_(bytes|many)\(.+?\) on faulty backend at dict://hang did not "
                     r"return within 2 s", run.stdout)  # fmt: skip
    assert "RUNNING sync-state-machine" in run.stdout
    assert run.stdout.count("FAILED ") + run.stdout.count("PASSED ") == len(CHECK_NAMES)
    # the stuck calls were in the checks' child processes, which the kit ended


def test_the_pytest_route_ends_on_its_own_when_get_never_returns(tmp_path: Path) -> None:
    env = _faulty_dist(tmp_path / "site", "get-blocks-forever", local=True)
    suite = _own_suite(tmp_path / "suite")
    started = time.monotonic()
    run = _pytest(
        "--zv-backend", "faulty", "--zv-url", "dict://hang", "--zv-timeout", "2",
        "--zv-max-examples", "5", "-k", "test_sync_state_machine or key_contract or own",
        env=env, cwd=suite,
    )  # fmt: skip
    took = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert took < 300, took
    assert "2 failed, 1 passed" in run.stdout
    assert "did not return within 2 s" in run.stdout
    # (the stuck calls were in child processes the kit ended: nothing is left to wait for)

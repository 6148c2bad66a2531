"""Running the checks (runner.py): results, reports as the run goes, seeds and replays.

A correct backend passes every check and the local backend too; a failure shows
the minimal run hypothesis found, the backend calls it made, the seed and the
command that replays it, never a secret; the same seed replays the same failure;
a reporter hears each check start and end; the search for a smaller example
stops after its time, and is not made for a timeout or a check without a search.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.helpers.kit_expected import FEWER, fault_target
from tests.helpers.kit_faulty import FAULTY, DictBackend, VersionedDictBackend
from zarr_vectors.exceptions import ConformanceError, ValidationError
from zarr_vectors.testing import CHECK_NAMES, KitConfig, KitTarget, run_check, run_kit, runner
from zarr_vectors.testing.guard import KitTimeoutError
from zarr_vectors.testing.isolation import Attempt
from zarr_vectors.testing.runner import CheckResult, _kit_failure, _planned, new_seed

COUNTER = itertools.count()
QUICK = KitConfig(
    max_examples=8, stateful_step_count=15, derandomize=True, max_value_size=512 * 1024
)


def test_a_failure_shows_the_minimal_run_the_calls_and_the_replay() -> None:
    result = run_check(
        "sync-state-machine",
        fault_target(FAULTY["put-many-drops-item"]),
        FEWER.with_changes(seed=2, shrink=True),
        replay=lambda name, seed: f"replay {name} {seed}",
    )
    text = result.describe()
    assert text.startswith("FAILED  sync-state-machine")
    assert "state = SyncBackendMachine()" in text and "state.put_many(" in text
    assert "backend calls of that example, oldest first:" in text
    assert re.search(r"put_many\(\[.*\]\) -> None", text)
    assert "seed: 2" in text and "replay: replay sync-state-machine 2" in text
    # the minimal run ends with the put_many; the cleanup after it is not listed
    assert "state.teardown()" in text and not result.calls[-1].startswith("delete(")


def test_the_same_seed_replays_the_same_failure() -> None:
    one = run_check(
        "sync-state-machine", fault_target(FAULTY["head-wrong-size"]), FEWER.with_changes(seed=5)
    )
    two = run_check(
        "sync-state-machine", fault_target(FAULTY["head-wrong-size"]), FEWER.with_changes(seed=5)
    )
    assert one.status == two.status == "failed"
    strip = re.compile(r"dict://kit-\d+")
    assert strip.sub("", one.message) == strip.sub("", two.message)
    assert strip.sub("", one.example) == strip.sub("", two.example)


@pytest.mark.parametrize("cls", [DictBackend, VersionedDictBackend])
def test_correct_backends_pass_every_check(cls: type[DictBackend]) -> None:
    results = run_kit(fault_target(cls), QUICK)
    assert [r.name for r in results] == list(CHECK_NAMES)
    assert all(r.ok for r in results), [r.describe() for r in results if not r.ok]
    # a dict in this process cannot be shared with another process
    assert {r.name for r in results if r.status == "skipped"} == {"two-processes"}


def test_the_local_backend_passes_every_check(tmp_path: Path) -> None:
    target = KitTarget.from_name("local", str(tmp_path / "scratch"))
    results = run_kit(target, QUICK)
    assert all(r.status == "passed" for r in results), [r.describe() for r in results]
    assert list(target.open().list_prefix("", recursive=True)) == []  # emptied afterwards


def test_a_run_reports_each_check_as_it_starts_and_ends() -> None:
    events: list[tuple[str, str]] = []

    class Recorder:
        def started(self, name: str, planned: int) -> None:
            events.append(("start", name))

        def example(self, name: str, count: int) -> None:
            if ("example", name) not in events:
                events.append(("example", name))

        def finished(self, result: object) -> None:
            events.append(("end", getattr(result, "name", "")))

    checks = ["key-contract", "invalid-keys", "persistence"]
    run_kit(fault_target(DictBackend), QUICK, checks, reporter=Recorder())
    expected = [(kind, name) for name in checks for kind in ("start", "example", "end")]
    assert events == expected


def test_skipped_checks_are_reported_and_unknown_ones_refused() -> None:
    results = run_kit(fault_target(DictBackend), QUICK.with_changes(skip=frozenset(CHECK_NAMES)))
    assert {r.status for r in results} == {"skipped"}
    with pytest.raises(ValidationError, match="persistance"):
        KitConfig(skip=frozenset({"persistance"}))
    with pytest.raises(ValidationError, match="Unknown kit check"):
        run_kit(fault_target(DictBackend), QUICK, ["nope"])
    with pytest.raises(ValidationError, match="call_timeout"):
        KitConfig(call_timeout=0)


def test_a_failure_never_shows_a_secret_option() -> None:
    secret = "zv-Kit-Secret-91c2"

    class Leaky(FAULTY["missing-get-empty"]):  # type: ignore[misc, valid-type]
        def __init__(self, url: str) -> None:
            super().__init__(url)
            self._url = f"dict://user:{secret}@kit"  # a careless backend echoing its secret

    url = f"dict://runner-{next(COUNTER)}"
    target = KitTarget(lambda: Leaky(url), "Leaky", {"secret_key": secret})
    result = run_check("sync-state-machine", target, FEWER.with_changes(seed=1))
    assert result.status == "failed"
    assert secret not in result.describe()


def test_shrinking_stops_after_its_time_and_reports_the_example_as_found() -> None:
    config = FEWER.with_changes(seed=2, shrink=True, shrink_seconds=0.01)
    result = run_check("sync-state-machine", fault_target(FAULTY["put-many-drops-item"]), config)
    assert result.status == "failed"
    assert "the search for a smaller example was stopped after" in result.message
    assert "state = SyncBackendMachine()" in result.example and "put_many(" in result.example


@pytest.mark.parametrize(
    ("name", "error", "runs"),
    [
        ("key-contract", ConformanceError("listed wrong"), 2),  # found, then shrunk
        ("edge-cases", ConformanceError("listed wrong"), 1),  # a fixed script: nothing to shrink
        ("key-contract", KitTimeoutError("get_bytes('a') did not return"), 1),
        ("key-contract", ExceptionGroup("flaky", [KitTimeoutError("get_bytes('a')")]), 1),
    ],
)
def test_a_failure_is_run_again_only_to_look_for_a_smaller_example(
    name: str, error: Exception, runs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    children: list[bool] = []

    def child(name: str, target: object, config: KitConfig, *args: object, **kw: object) -> Attempt:
        children.append(config.shrink)
        return Attempt("failed", error)

    monkeypatch.setattr(runner, "run_in_child", child)
    config = FEWER.with_changes(shrink=True, isolate=True)
    result = run_check(name, fault_target(DictBackend), config)
    assert result.status == "failed" and children == [False, True][:runs]


def test_a_result_describes_itself_by_status() -> None:
    passed = CheckResult("persistence", "passed", seconds=1.25)
    assert passed.ok and passed.describe() == (
        "PASSED  persistence: contents survive close() and reopening the URL (1.2 s)"
    )
    skipped = CheckResult("two-processes", "skipped", "in this process only")
    assert skipped.ok and skipped.describe().endswith("URL at once\n        in this process only")
    failed = CheckResult("edge-cases", "failed", "it broke", calls=["get_bytes('a') -> b''"])
    assert not failed.ok
    assert failed.describe().splitlines()[1:] == [
        "        it broke",
        "        backend calls of that example, oldest first:",
        "            get_bytes('a') -> b''",
    ]


def test_the_kits_own_failure_is_found_inside_a_group() -> None:
    mine = ConformanceError("the backend broke")
    assert _kit_failure(mine) is mine
    assert _kit_failure(ExceptionGroup("flaky", [ValueError("x"), mine])) is mine
    assert _kit_failure(ValueError("x")) is None


def test_progress_plans_follow_the_config_and_seeds_are_fresh() -> None:
    config = KitConfig(max_examples=40, roundtrip_examples=3)
    assert _planned("sync-state-machine", config) == 40
    assert _planned("zarr-array", config) == 3 and _planned("invalid-keys", config) == 80
    assert len({new_seed() for _ in range(5)}) > 1 and 0 <= new_seed() < 2**32


def test_a_run_without_a_seed_draws_one_for_every_check() -> None:
    config = QUICK.with_changes(derandomize=False, max_examples=2, isolate=False)
    results = run_kit(fault_target(DictBackend), config, ["edge-cases", "write-fences"])
    seeds = {r.seed for r in results}
    assert len(seeds) == 1 and None not in seeds

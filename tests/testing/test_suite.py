"""The pytest base class (suite.py): the kit's checks as test methods of an author's suite.

Called here in-process, without a pytest run of their own: the switches are read
from the pytest options, a failure fails the test with the whole report and a
command that replays it, a skipped check skips it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.kit_expected import FEWER, fault_target
from tests.helpers.kit_faulty import FAULTY, DictBackend
from tests.helpers.pytest_standins import FakeConfig, FakeRequest
from zarr_vectors.testing import KitConfig
from zarr_vectors.testing.suite import BackendConformance, _replay_switches, config_from_options

HERE = FEWER.with_changes(isolate=False)  # in this process: no child per check


def test_the_switches_given_change_the_config_and_are_repeated_in_a_replay() -> None:
    options = FakeConfig(zv_max_examples=3, zv_timeout=45.0, zv_seed=None)
    config = config_from_options(KitConfig.local(), options)  # type: ignore[arg-type]
    assert (config.max_examples, config.call_timeout) == (3, 45.0)
    assert config.stateful_step_count == KitConfig.local().stateful_step_count
    assert _replay_switches(options) == ["--zv-max-examples", "3", "--zv-timeout", "45.0"]  # type: ignore[arg-type]


def test_a_suite_without_a_location_is_told_how_to_give_one(tmp_path: Path) -> None:
    class TestNoWhere(BackendConformance):
        backend_name = "local"

    with pytest.raises(pytest.UsageError, match=r"set backend_url = '\.\.\.' or override make_url"):
        TestNoWhere().make_url(tmp_path)


def test_the_target_and_config_follow_the_class_attributes(tmp_path: Path) -> None:
    class TestMine(BackendConformance):
        backend_name = "local"
        in_process = True

        def make_url(self, tmp_path: Path) -> str:
            return str(tmp_path / "kit")

    suite = TestMine()
    target = suite.make_target(FakeRequest(FakeConfig()), tmp_path)  # type: ignore[arg-type]
    assert target.in_process and target.backend_name == "local"
    assert suite.make_config(target) == KitConfig.local()
    TestMine.kit_config = FEWER
    assert suite.make_config(target) is FEWER
    command = suite.replay_command(FakeRequest(FakeConfig(zv_steps=5)), 42)  # type: ignore[arg-type]
    assert command == "pytest tests/test_mine.py::TestMine::test_x --zv-steps 5 --zv-seed 42"


def _suite_with(request: FakeRequest) -> BackendConformance:
    suite = BackendConformance()
    # (set by the zv_kit fixture in a pytest run)
    suite._zv_request = request  # type: ignore[assignment]
    return suite


def test_a_failing_check_fails_the_test_with_the_report_and_the_replay() -> None:
    suite = _suite_with(FakeRequest(FakeConfig()))
    target = fault_target(FAULTY["exists-sees-children"])
    with pytest.raises(pytest.fail.Exception) as failed:
        suite.test_edge_cases((target, HERE.with_changes(seed=9)))
    text = str(failed.value)
    assert text.startswith("FAILED  edge-cases") and "exists('p/a')" in text
    assert "replay: pytest tests/test_mine.py::TestMine::test_x --zv-seed 9" in text


def test_skipped_checks_skip_the_test() -> None:
    suite = _suite_with(FakeRequest(FakeConfig()))
    config = HERE.with_changes(skip=frozenset({"persistence"}))
    with pytest.raises(pytest.skip.Exception, match=r"persistence is in kit_config\.skip"):
        suite.test_persistence((fault_target(DictBackend), config))
    with pytest.raises(pytest.skip.Exception, match="keeps its objects in this process"):
        suite.test_two_processes((fault_target(DictBackend), HERE))
    suite.test_write_fences((fault_target(DictBackend), HERE))  # passes: nothing raised

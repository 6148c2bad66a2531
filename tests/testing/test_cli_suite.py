"""The tests ``pytest --zv-backend NAME --zv-url URL`` collects (_cli_suite.py).

In an author's own suite (a real pytest in a child process) the kit's checks
run next to the suite's tests and pass a correct backend; on a faulty one the
failure names the property and prints a replay command. In-process: the
options are converted as ``check-backend --option`` converts them, and the replay
command hides secrets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.helpers.kit_faulty import STORES
from tests.helpers.kit_routes import faulty_dist, own_suite, run_pytest
from tests.helpers.pytest_standins import FakeConfig, FakeRequest
from zarr_vectors.testing import (
    CHECK_NAMES,
    KitConfig,
    _cli_suite,  # not its class: pytest would collect it here
)


def test_pytest_plugin_runs_the_kit_in_an_authors_suite(tmp_path: Path) -> None:
    suite = own_suite(tmp_path / "suite")
    # every check is collected; two run (that the local backend passes them all is
    # test_runner's, in-process with the same child processes), one is skipped as asked
    run = run_pytest(
        "--zv-backend", "local", "--zv-url", str(tmp_path / "scratch"), "--zv-max-examples", "4",
        "--zv-steps", "10", "--zv-timeout", "60", "--zv-skip", "point-cloud",
        "-k", "own or two_processes or persistence or point_cloud",
        env=dict(os.environ), cwd=suite,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    deselected = len(CHECK_NAMES) + 1 - 4  # every check and the author's test, less four
    assert f"3 passed, 1 skipped, {deselected} deselected" in run.stdout


def test_pytest_plugin_fails_on_a_faulty_backend_with_a_replay(tmp_path: Path) -> None:
    env = faulty_dist(tmp_path / "site", "put-not-visible")
    suite = own_suite(tmp_path / "suite")
    run = run_pytest(
        "--zv-backend", "faulty", "--zv-url", "dict://plugin", "--zv-max-examples", "10",
        "--zv-seed", "7", "-k", "test_sync_state_machine or own",
        env=env, cwd=suite,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "TestBackendFromCommandLine::test_sync_state_machine" in run.stdout
    assert "right after put_bytes" in run.stdout or "just written by put_many" in run.stdout
    assert "minimal example found by hypothesis" in run.stdout
    assert "seed: 7" in run.stdout
    assert re.search(
        r"replay: pytest --zv-backend faulty --zv-url dict://plugin --zv-max-examples 10 "
        r"-k test_sync_state_machine --zv-seed 7",
        run.stdout,
    )
    STORES.clear()


def test_the_command_lines_options_make_the_target_and_a_replay_without_secrets(
    tmp_path: Path,
) -> None:
    options = FakeConfig(
        zv_backend="local",
        zv_url=str(tmp_path / "kit"),
        zv_option=["fsync=true", "secret_access_key=zv-Hidden-1"],
        zv_max_examples=3,
        zv_skip=["persistence"],
    )
    suite = _cli_suite.TestBackendFromCommandLine()
    request = FakeRequest(options, "tests/x.py::TestBackendFromCommandLine::test_key_contract")
    target = suite.make_target(request, tmp_path)  # type: ignore[arg-type]
    assert target.options == {"fsync": True, "secret_access_key": "zv-Hidden-1"}
    assert "zv-Hidden-1" not in target.description
    # (set by its autouse fixture in a pytest run)
    suite.request_config = options  # type: ignore[assignment]
    config = suite.make_config(target)
    assert config.skip == frozenset({"persistence"}) and config == KitConfig.local().with_changes(
        skip=frozenset({"persistence"})
    )
    command = suite.replay_command(request, 11)  # type: ignore[arg-type]
    assert "zv-Hidden-1" not in command
    assert command.startswith(f"pytest --zv-backend local --zv-url {tmp_path / 'kit'} ")
    assert command.endswith("--zv-max-examples 3 -k test_key_contract --zv-seed 11")
    assert "--zv-option fsync=True --zv-option 'secret_access_key=***'" in command

"""The ``check-backend`` command, the author's one command to run the kit (in child processes).

A faulty backend installed as a plugin fails with the property named, reported as
it goes, and a replay command that finds the same failure; a correct one passes;
a hanging one ends on its own within the time limit; against a real S3 server the
credentials given as options are never printed. The kit's own modules are tested
in the test files named after them (test_runner.py, test_guard.py, ...).

The command's own in-process tests are in tests/cli/test_check_backend_cmd.py;
these run it end to end as an author does, the kit's child processes included
(the helpers are in ``tests/helpers/kit_routes.py``).
"""

from __future__ import annotations

import os
import re
import shlex
import time
from pathlib import Path

import pytest

from tests.helpers.kit_routes import faulty_dist, run_cli
from tests.helpers.servers import procs
from zarr_vectors.testing import CHECK_NAMES


def test_check_backend_command_fails_naming_the_property_and_replays_it(tmp_path: Path) -> None:
    env = faulty_dist(tmp_path / "site", "missing-get-empty", local=True)
    args = ("check-backend", "faulty", "--url", "dict://cli", "--check", "sync-state-machine",
            "--check", "invalid-keys", "--max-examples", "10", "--steps", "20")  # fmt: skip
    run = run_cli(*args, env=env, cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout
    # reported as it goes: each check starts before it ends, in order
    order = [out.index(s) for s in ("RUNNING sync-state-machine", "FAILED  sync-state-machine",
                                    "RUNNING invalid-keys", "PASSED  invalid-keys")]  # fmt: skip
    assert order == sorted(order)
    assert "minimal example found by hypothesis" in out and "state.teardown()" in out
    assert "the protocol says 'KeyError'" in out
    assert "1 of 2 checks failed: sync-state-machine" in run.stderr
    seed = re.search(r"seed: (\d+)", out)
    replay = re.search(r"replay: (.*)", out)
    assert seed and replay
    command = replay.group(1)
    assert command.startswith("zarr-vectors check-backend faulty --url dict://cli")
    assert f"--seed {seed.group(1)}" in command and "--check sync-state-machine" in command
    assert "--max-examples 10 --steps 20" in command
    # the replay command finds the same failure
    again = run_cli(*shlex.split(command)[1:], env=env, cwd=tmp_path)
    message = re.search(r"ConformanceError: (.*)", out)
    assert message and message.group(1) in again.stdout


def test_check_backend_command_passes_a_correct_backend(tmp_path: Path) -> None:
    # three checks: that the local backend passes every check is test_runner's (in-process,
    # with the same child processes); here, that the command runs, skips and passes them
    run = run_cli(
        "check-backend", "local", "--url", str(tmp_path / "scratch"), "--max-examples", "5",
        "--option", "fsync=true", "--check", "two-processes", "--check", "persistence",
        "--check", "point-cloud", "--skip", "point-cloud", "--timeout", "60",
        env=dict(os.environ), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED  two-processes" in run.stdout and "PASSED  persistence" in run.stdout
    assert "SKIPPED point-cloud" in run.stdout and "All 3 checks passed." in run.stdout
    assert "60 s per call" in run.stdout
    bad = run_cli("check-backend", "local", "--url", str(tmp_path), "--check", "nope",
               env=dict(os.environ), cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "'nope' is not a check" in bad.stderr


def test_check_backend_ends_on_its_own_when_get_never_returns(tmp_path: Path) -> None:
    env = faulty_dist(tmp_path / "site", "get-blocks-forever", local=True)
    started = time.monotonic()
    run = run_cli(
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
    # get_many overran in invalid-keys: the two processes of two-processes (started from
    # a forkserver, which knows nothing of it) are told, and refuse it at once
    assert re.search(r"FAILED  two-processes: .*\n\s+KitTimeoutError: Process p[12], one of two "
                     r"using .* get_many\(.* was not attempted", run.stdout)  # fmt: skip
    # the stuck calls were in the checks' child processes, which the kit ended


@pytest.mark.servers
def test_check_backend_command_on_s3_never_prints_the_secret(
    s3_server: procs.S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """The author's one command against a real S3 server, credentials as --option."""
    run = run_cli(
        "check-backend", "obstore", "--url", f"s3://{s3_bucket}/kit",
        "--option", f"endpoint={s3_server.endpoint}", "--option", f"region={s3_server.region}",
        "--option", f"access_key_id={s3_server.access_key}",
        "--option", f"secret_access_key={s3_server.secret_key}",
        "--option", "verify_prefixes=true",
        "--check", "invalid-keys", "--check", "persistence", "--check", "zarr-array",
        "--max-examples", "3", "--derandomize",
        env=dict(os.environ), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All 3 checks passed." in run.stdout
    assert s3_server.secret_key not in run.stdout + run.stderr

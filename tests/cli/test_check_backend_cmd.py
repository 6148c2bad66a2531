"""``zarr-vectors check-backend`` in-process: the report as it goes, refusals, the replay command.

The kit's own behaviour (failures, time limits, child processes) is tested in
``tests/testing``; here is what the command adds around it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import run_apart
from zarr_vectors.cli.check_backend_cmd import _replay

pytest.importorskip("hypothesis")


def test_a_check_is_reported_when_it_starts_and_when_it_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr_vectors.testing.runner as runner

    monkeypatch.setattr(runner, "can_isolate", lambda: False)  # in this process: no child
    code, out, err = run_apart(
        "check-backend", "local", "--url", tmp_path / "scratch", "--check", "key-contract",
        "--max-examples", "2", "--derandomize",
    )  # fmt: skip
    assert code == 0, out + err
    assert out.startswith("Checking the local backend at ")
    assert "(derandomized; 2 examples, 30 steps, 30 s per call)" in out
    assert out.index("RUNNING key-contract") < out.index("PASSED  key-contract")
    assert out.rstrip().endswith("All 1 checks passed.")


def test_an_unknown_check_is_a_usage_error_listing_the_checks(tmp_path: Path) -> None:
    code, out, err = run_apart("check-backend", "local", "--url", tmp_path, "--skip", "nope")
    assert code == 2
    assert "'nope' is not a check; the checks are: sync-state-machine," in err
    assert "Checking" not in out  # refused before anything runs


def test_an_unknown_backend_or_option_is_one_line(tmp_path: Path) -> None:
    code, _, err = run_apart("check-backend", "nosuch", "--url", tmp_path)
    assert code == 1 and "Unknown zarr-vectors backend 'nosuch'" in err
    code, out, err = run_apart(
        "check-backend", "local", "--url", tmp_path, "--option", "password=hunter22"
    )
    assert code == 1 and "does not accept the option(s) password" in err
    assert "hunter22" not in out + err


def test_the_replay_command_hides_secrets_and_keeps_the_effort() -> None:
    replay = _replay(
        "obstore",
        "s3://bucket/kit?X-Amz-Signature=SIGNED123",
        ("region=eu", "secret_access_key=S3CRET"),
        {"--max-examples": 5, "--steps": None, "--timeout": 60.0},
    )
    seeded = shlex.split(replay("torn-writes", 42))
    assert seeded[:4] == ["zarr-vectors", "check-backend", "obstore", "--url"]
    assert "SIGNED123" not in seeded[4]
    assert seeded[5:9] == ["--option", "region=eu", "--option", "secret_access_key=***"]
    assert seeded[9:] == ["--check", "torn-writes", "--max-examples", "5", "--timeout", "60.0",
                          "--seed", "42"]  # fmt: skip
    assert replay("torn-writes", None).endswith("--derandomize")


def test_without_the_kits_dependencies_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "zarr_vectors.testing.config", None)
    code, _, err = run_apart("check-backend", "local", "--url", tmp_path)
    assert code == 1
    assert 'pip install "zarr-vectors-core[testing]"' in err

"""The conformance kit can fail: each deliberately broken backend is caught, a correct one passes.

The broken backends are in ``tests/kit_faulty.py``. For every fault the kit
must fail with a message naming the call that went wrong and hypothesis's
minimal run; the same kit passes a correct in-memory backend and the local
backend. The kit on obstore and fsspec (memory, S3, Azure) runs in
test_obstore_backend.py and test_fsspec_backend.py; the SQLite example plugin
in test_kit_sqlite_example.py.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.testing import CHECK_NAMES, KitConfig, KitTarget, run_check, run_kit

from tests.kit_faulty import FAULTY, STORES, DictBackend
from tests.plugin_dists import write_dist
from tests.servers import procs

REPO = Path(__file__).resolve().parents[1]
COUNTER = itertools.count()
# Enough examples to find every fault on a fixed seed; small values keep shrinking quick.
FIND = KitConfig(
    max_examples=40,
    stateful_step_count=15,
    derandomize=True,
    max_value_size=64 * 1024,
    deadline=None,
)
QUICK = KitConfig(
    max_examples=8, stateful_step_count=15, derandomize=True, max_value_size=512 * 1024
)


def _target(cls: type[DictBackend]) -> KitTarget:
    url = f"dict://kit-{next(COUNTER)}"
    return KitTarget(lambda: cls(url), f"{cls.__name__} at {url}")


# machines run -> which must fail, and what the failure must name. A fault of a sync
# method shows in both machines (the async twins default to the sync methods); running
# one of them keeps the suite quick.
EXPECTED = {
    "list-misses-nested": ({"sync": True}, r"list_prefix"),
    "delete-prefix-sibling": ({"sync": True}, r"delete_prefix"),
    "range-off-by-one": ({"async": True}, r"get_range\(.*\d+ bytes instead of"),
    "missing-get-empty": ({"sync": True, "async": True}, r"the protocol says 'KeyError'"),
    "put-not-visible": ({"sync": True}, r"right after put_bytes|just written by put_many"),
    "async-twin-disagrees": ({"sync": False, "async": True}, r"\[async\] get_range"),
}


@pytest.mark.parametrize("fault", sorted(FAULTY))
def test_each_fault_is_caught_with_a_minimal_example(fault: str) -> None:
    machines, pattern = EXPECTED[fault]
    for mode, must_fail in machines.items():
        result = run_check(f"{mode}-state-machine", _target(FAULTY[fault]), FIND)
        if not must_fail:
            assert result.status == "passed", result.describe()
            continue
        assert result.status == "failed", f"{fault} was not caught by the {mode} machine"
        assert re.search(pattern, result.message), result.message
        # hypothesis's minimal run, as calls a reader can replay
        assert "state = " in result.example and "state.teardown()" in result.example
        assert result.describe().startswith(f"FAILED  {mode}-state-machine")


def test_a_correct_backend_passes_every_check() -> None:
    results = run_kit(_target(DictBackend), QUICK)
    assert [r.name for r in results] == list(CHECK_NAMES)
    assert all(r.status == "passed" for r in results), [r.describe() for r in results]


def test_the_local_backend_passes_every_check(tmp_path: Path) -> None:
    target = KitTarget.from_name("local", str(tmp_path / "scratch"))
    results = run_kit(target, QUICK)
    assert all(r.status == "passed" for r in results), [r.describe() for r in results]
    assert list(target.open().list_prefix("", recursive=True)) == []  # emptied afterwards


def test_a_location_holding_objects_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "precious").write_bytes(b"data")
    with pytest.raises(StoreError, match="already holds objects"):
        run_kit(KitTarget.from_name("local", str(tmp_path)), QUICK)
    assert (tmp_path / "precious").read_bytes() == b"data"


def test_skipped_checks_are_reported_and_unknown_ones_refused() -> None:
    results = run_kit(_target(DictBackend), QUICK.with_changes(skip=frozenset(CHECK_NAMES)))
    assert {r.status for r in results} == {"skipped"}
    with pytest.raises(ValidationError, match="persistance"):
        KitConfig(skip=frozenset({"persistance"}))
    with pytest.raises(ValidationError, match="Unknown kit check"):
        run_kit(_target(DictBackend), QUICK, ["nope"])


def test_remote_defaults_are_gentler_and_adjustable() -> None:
    local, remote = KitConfig.for_url("/tmp/x"), KitConfig.for_url("s3://bucket/x")
    assert remote.max_examples < local.max_examples
    assert remote.deadline is not None and local.deadline is not None
    assert remote.deadline > local.deadline
    assert KitConfig.for_url("memory://x") == local
    tuned = remote.with_changes(max_examples=3, deadline=timedelta(minutes=5))
    assert (tuned.max_examples, tuned.deadline) == (3, timedelta(minutes=5))
    assert tuned.settings().max_examples == 3


def test_a_failure_never_shows_a_secret_option() -> None:
    secret = "zv-Kit-Secret-91c2"

    class Leaky(FAULTY["missing-get-empty"]):
        def __init__(self, url: str) -> None:
            super().__init__(url)
            self._url = f"dict://user:{secret}@kit"  # a careless backend echoing its secret

    url = f"dict://kit-{next(COUNTER)}"
    target = KitTarget(lambda: Leaky(url), "Leaky", {"secret_key": secret})
    result = run_check("sync-state-machine", target, FIND)
    assert result.status == "failed"
    assert secret not in result.describe()


# -- the two ways an author runs it ----------------------------------------------------------
def _faulty_dist(site: Path, fault: str) -> dict[str, str]:
    """Install a backend plugin named 'faulty' (served for dict://) and return an environment."""
    write_dist(
        site,
        "zv-faulty-plugin",
        "1.0",
        {"zarr_vectors.backends": {"faulty": "zv_faulty_info:INFO"}},
        {
            "zv_faulty_info": f"""
                from zarr_vectors.core.backends.info import BackendInfo
                INFO = BackendInfo(name="faulty", schemes=("dict",),
                                   factory="tests.kit_faulty:{FAULTY[fault].__name__}")
            """
        },
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    return env


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from zarr_vectors.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=cwd, capture_output=True, text=True
    )


def test_check_backend_command_fails_naming_the_property(tmp_path: Path) -> None:
    env = _faulty_dist(tmp_path / "site", "missing-get-empty")
    run = _cli(
        "check-backend", "faulty", "--url", "dict://cli", "--check", "sync-state-machine",
        "--check", "invalid-keys", "--max-examples", "40", "--derandomize",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAILED  sync-state-machine" in run.stdout
    assert "PASSED  invalid-keys" in run.stdout
    assert "minimal example found by hypothesis" in run.stdout
    assert "the protocol says 'KeyError'" in run.stdout and "state.teardown()" in run.stdout
    assert "1 of 2 checks failed: sync-state-machine" in run.stderr


def test_check_backend_command_passes_a_correct_backend(tmp_path: Path) -> None:
    run = _cli(
        "check-backend", "local", "--url", str(tmp_path / "scratch"), "--max-examples", "5",
        "--option", "fsync=true", "--skip", "point-cloud",
        env=dict(os.environ), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SKIPPED point-cloud" in run.stdout and "All 7 checks passed." in run.stdout
    bad = _cli("check-backend", "local", "--url", str(tmp_path), "--check", "nope",
               env=dict(os.environ), cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "'nope' is not a check" in bad.stderr


def _pytest(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def _own_suite(path: Path) -> Path:
    path.mkdir()
    (path / "test_own.py").write_text(
        "import sys\n"
        "def test_own():\n"
        "    # the kit plugin imports nothing of the kit unless --zv-backend is given\n"
        "    kit = [m for m in sys.modules if m.startswith('zarr_vectors.testing.')]\n"
        "    if '--zv-backend' not in sys.argv:\n"
        "        assert kit in ([], ['zarr_vectors.testing.pytest_plugin']), kit\n",
        encoding="utf-8",
    )
    return path


def test_pytest_plugin_is_inert_without_its_option(tmp_path: Path) -> None:
    suite = _own_suite(tmp_path / "suite")
    run = _pytest(env=dict(os.environ), cwd=suite)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    wrong = _pytest("--zv-url", "/tmp/x", env=dict(os.environ), cwd=suite)
    assert wrong.returncode != 0 and "--zv-backend" in wrong.stderr


def test_pytest_plugin_runs_the_kit_in_an_authors_suite(tmp_path: Path) -> None:
    suite = _own_suite(tmp_path / "suite")
    run = _pytest(
        "--zv-backend", "local", "--zv-url", str(tmp_path / "scratch"), "--zv-max-examples", "4",
        "--zv-skip", "point-cloud",
        env=dict(os.environ), cwd=suite,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "7 passed, 1 skipped" in run.stdout


def test_pytest_plugin_fails_on_a_faulty_backend(tmp_path: Path) -> None:
    env = _faulty_dist(tmp_path / "site", "put-not-visible")
    suite = _own_suite(tmp_path / "suite")
    run = _pytest(
        "--zv-backend", "faulty", "--zv-url", "dict://plugin", "--zv-max-examples", "40",
        "-k", "state_machine or own",
        env=env, cwd=suite,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert "TestBackendFromCommandLine::test_sync_state_machine" in run.stdout
    assert "right after put_bytes" in run.stdout or "just written by put_many" in run.stdout
    assert "minimal example found by hypothesis" in run.stdout
    STORES.clear()


def test_urls_of_unknown_schemes_keep_their_slashes() -> None:
    """A plugin's URL (sqlite:///file.db) is shown as given, with secrets still hidden."""
    from zarr_vectors.core.backends.secrets import redact_url

    assert redact_url("sqlite:///data/x.db") == "sqlite:///data/x.db"
    assert redact_url("sqlite:///data/x.db?token=abc") == "sqlite:///data/x.db?token=***"
    assert KitTarget.from_name("local", "sqlite:///data/x.db").url == "sqlite:///data/x.db"


@pytest.mark.servers
def test_check_backend_command_on_s3_never_prints_the_secret(
    s3_server: procs.S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """The author's one command against a real S3 server, credentials as --option."""
    run = _cli(
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

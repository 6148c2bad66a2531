"""The conformance kit can fail: each deliberately broken backend is caught, a correct one passes.

The broken backends are in ``tests/helpers/kit_faulty.py``. For every fault the kit
must fail, in several seeds, with a message naming the call that went wrong;
the same kit passes correct in-memory backends and the local backend. The kit
on obstore and fsspec (memory, S3, Azure, GCS) runs in test_obstore_backend.py
and test_fsspec_backend.py; the SQLite example plugin in
test_kit_sqlite_example.py; hangs and time limits in test_kit_timeouts.py.

The fault tests use the default local settings with fewer examples (10 instead
of 40) and no shrinking, to stay quick; ``tests/helpers/kit_fault_matrix.py`` runs them
at the full default settings.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers.kit_faulty import FAULTY, STORES, DictBackend, VersionedDictBackend
from tests.helpers.plugin_dists import write_dist
from tests.helpers.servers import procs
from zarr_vectors.exceptions import StoreError, ValidationError
from zarr_vectors.testing import CHECK_NAMES, KitConfig, KitTarget, run_check, run_kit

REPO = Path(__file__).resolve().parents[2]
COUNTER = itertools.count()
#: Seeds every fault must be caught in.
SEEDS = (1, 2, 3)
#: The default local settings, with fewer examples and without the search for the smallest
#: failing example (test_a_failure_shows_the_minimal_run... checks that search).
FEWER = KitConfig.local().with_changes(max_examples=10, shrink=False)
QUICK = KitConfig(
    max_examples=8, stateful_step_count=15, derandomize=True, max_value_size=512 * 1024
)


def _target(cls: type[DictBackend]) -> KitTarget:
    url = f"dict://kit-{next(COUNTER)}"
    return KitTarget(lambda: cls(url), f"{cls.__name__} at {url}", url=url, in_process=True)


#: fault -> the checks that must catch it and what their message must say. A fault of a
#: sync method shows in both machines (the async twins default to the sync methods);
#: running one of them keeps the suite quick.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "list-misses-nested": [("sync-state-machine", r"list_prefix")],
    # the machines find it in most seeds; the fixed script every time
    "delete-prefix-sibling": [("edge-cases", r"missing \[.*after delete_prefix\('q/a'\)")],
    "range-off-by-one": [("sync-state-machine", r"get_range\(.*\d+ bytes instead of")],
    # a get of a missing key, or a get_many that reports missing keys as empty values
    "missing-get-empty": [
        (
            "async-state-machine",
            r"the protocol says 'KeyError'|get_many.*returned.*b''.*unexpected \[",
        )
    ],
    "put-not-visible": [("sync-state-machine", r"right after put_bytes|just written by put_many")],
    "async-twin-disagrees": [("async-state-machine", r"\[async\] get_range")],
    "lists-recursively": [
        ("sync-state-machine", r"list_prefix\(.*recursive=False\)"),
        ("key-contract", r"recursive=False"),
    ],
    "normalises-nfc": [("key-contract", r"'cafe\\u0301'.*NFC normalisation")],
    "spaces-as-%20": [("key-contract", r"'a b'.*came back as 'a%20b'.*'%20'")],
    "refuses-long-keys": [("key-contract", r"put_bytes\('long/k+\.\.\.k+a' \(1024 bytes\)")],
    "torn-writes": [("torn-writes", r"bytes 0-\d+ of value #\d+, bytes \d+-\d+ of value #\d+")],
    # the dropped item is missing, or still holds the value it had before the batch
    "put-many-drops-item": [
        ("sync-state-machine", r"just written by put_many.*(missing|wrong value for) \[")
    ],
    "head-wrong-size": [("sync-state-machine", r"head\(.*\.size .*returned 65536")],
    # the default move_many deletes its sources with delete_many, so it shows there too
    "delete-many-leaves-key": [
        ("sync-state-machine", r"after (delete_many|delete_prefix|move_many)")
    ],
    "move-many-leaves-source": [
        ("sync-state-machine", r"after move_many\(.*unexpected \["),
        ("async-state-machine", r"\[async\].*after move_many\(.*unexpected \["),
    ],
    "move-many-drops-pair": [("large-batches", r"after move_many of 1100 pairs")],
    "put-if-ignores-expect": [
        ("sync-state-machine", r"put_if\(.*the protocol says 'PreconditionFailedError'"),
        ("conditional-writes", r"concurrent put_if.*succeeded"),
    ],
}
#: Faults caught through a time limit (test_kit_timeouts.py).
TIMED = {"get-blocks-forever"}


def test_every_fault_has_an_expectation() -> None:
    from tests.testing.test_kit_faults import NEW_EXPECTED, STOPPING

    assert set(EXPECTED) | TIMED | set(NEW_EXPECTED) | STOPPING == set(FAULTY)


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_fault_is_caught_in_several_seeds(fault: str) -> None:
    for check, pattern in EXPECTED[fault]:
        for seed in SEEDS:
            result = run_check(check, _target(FAULTY[fault]), FEWER.with_changes(seed=seed))
            assert result.status == "failed", f"{fault} not caught by {check} in seed {seed}"
            assert re.search(pattern, result.message), result.message
            assert result.seed == seed and f"seed={seed}" in result.replay
            assert result.calls, "the failure lists the backend calls of its example"


def test_a_failure_shows_the_minimal_run_the_calls_and_the_replay() -> None:
    result = run_check(
        "sync-state-machine",
        _target(FAULTY["put-many-drops-item"]),
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
        "sync-state-machine", _target(FAULTY["head-wrong-size"]), FEWER.with_changes(seed=5)
    )
    two = run_check(
        "sync-state-machine", _target(FAULTY["head-wrong-size"]), FEWER.with_changes(seed=5)
    )
    assert one.status == two.status == "failed"
    strip = re.compile(r"dict://kit-\d+")
    assert strip.sub("", one.message) == strip.sub("", two.message)
    assert strip.sub("", one.example) == strip.sub("", two.example)


@pytest.mark.parametrize("cls", [DictBackend, VersionedDictBackend])
def test_correct_backends_pass_every_check(cls: type[DictBackend]) -> None:
    results = run_kit(_target(cls), QUICK)
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
    run_kit(_target(DictBackend), QUICK, checks, reporter=Recorder())
    expected = [(kind, name) for name in checks for kind in ("start", "example", "end")]
    assert events == expected


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
    with pytest.raises(ValidationError, match="call_timeout"):
        KitConfig(call_timeout=0)


def test_remote_defaults_are_gentler_and_adjustable() -> None:
    local, remote = KitConfig.for_url("/tmp/x"), KitConfig.for_url("s3://bucket/x")
    assert remote.max_examples < local.max_examples
    assert remote.deadline is not None and local.deadline is not None
    assert remote.deadline > local.deadline
    assert remote.call_timeout > local.call_timeout
    assert KitConfig.for_url("memory://x") == local == KitConfig.for_url("file:///x")
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
    result = run_check("sync-state-machine", target, FEWER.with_changes(seed=1))
    assert result.status == "failed"
    assert secret not in result.describe()


def test_a_read_only_backend_is_refused_with_a_reason() -> None:
    class ReadOnly(DictBackend):
        writable = False

    result = run_check("key-contract", _target(ReadOnly), QUICK)
    assert result.status == "failed" and "read-only (writable = False)" in result.message


# -- the ways an author runs it --------------------------------------------------------------
def _faulty_dist(site: Path, fault: str | None, local: bool = False) -> dict[str, str]:
    """Install a backend plugin named 'faulty' (served for dict://) and return an environment."""
    cls = FAULTY[fault] if fault else DictBackend
    write_dist(
        site,
        "zv-faulty-plugin",
        "1.0",
        {"zarr_vectors.backends": {"faulty": "zv_faulty_info:INFO"}},
        {
            "zv_faulty_info": f"""
                from zarr_vectors.storage.info import BackendInfo
                INFO = BackendInfo(name="faulty", schemes=("dict",),
                                   local_schemes={("dict",) if local else ()},
                                   factory="tests.helpers.kit_faulty:{cls.__name__}")
            """
        },
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    return env


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from zarr_vectors.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_effort_follows_the_schemes_a_plugin_declares_local(tmp_path: Path) -> None:
    code = (
        "from zarr_vectors.testing import KitConfig\n"
        "print(KitConfig.for_url('dict://x') == KitConfig.local())"
    )
    for local, expected in ((True, "True"), (False, "False")):
        env = _faulty_dist(tmp_path / f"site-{local}", None, local=local)
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert run.stdout.strip() == expected


def test_check_backend_command_fails_naming_the_property_and_replays_it(tmp_path: Path) -> None:
    env = _faulty_dist(tmp_path / "site", "missing-get-empty", local=True)
    args = ("check-backend", "faulty", "--url", "dict://cli", "--check", "sync-state-machine",
            "--check", "invalid-keys", "--max-examples", "10", "--steps", "20")  # fmt: skip
    run = _cli(*args, env=env, cwd=tmp_path)
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
    again = _cli(*shlex.split(command)[1:], env=env, cwd=tmp_path)
    message = re.search(r"ConformanceError: (.*)", out)
    assert message and message.group(1) in again.stdout


def test_check_backend_command_passes_a_correct_backend(tmp_path: Path) -> None:
    run = _cli(
        "check-backend", "local", "--url", str(tmp_path / "scratch"), "--max-examples", "5",
        "--option", "fsync=true", "--skip", "point-cloud", "--timeout", "60",
        env=dict(os.environ), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        "SKIPPED point-cloud" in run.stdout
        and f"All {len(CHECK_NAMES)} checks passed." in run.stdout
    )
    assert "60 s per call" in run.stdout
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
        timeout=600,
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
        "--zv-steps", "10", "--zv-timeout", "60", "--zv-skip", "point-cloud",
        env=dict(os.environ), cwd=suite,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(CHECK_NAMES)} passed, 1 skipped" in run.stdout


def test_pytest_plugin_fails_on_a_faulty_backend_with_a_replay(tmp_path: Path) -> None:
    env = _faulty_dist(tmp_path / "site", "put-not-visible")
    suite = _own_suite(tmp_path / "suite")
    run = _pytest(
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


def test_urls_of_unknown_schemes_keep_their_slashes() -> None:
    """A plugin's URL (sqlite:///file.db) is shown as given, with secrets still hidden."""
    from zarr_vectors.storage.secrets import redact_url

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

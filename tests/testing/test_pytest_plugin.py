"""The pytest11 plugin (pytest_plugin.py): inert without --zv-backend, and never stuck at exit.

The runs of a real pytest in a child process show that the plugin adds nothing to
an author's suite unless asked and that a run ends on its own when a backend call
never returns; the hooks themselves are called here with stand-ins.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.kit_routes import faulty_dist, own_suite, run_pytest
from tests.helpers.pytest_standins import FakeConfig
from zarr_vectors.testing import guard, pytest_plugin


def test_pytest_plugin_is_inert_without_its_option(tmp_path: Path) -> None:
    """The author's own test asserts the plugin is loaded and has imported nothing else
    (its options' checks are called in-process below)."""
    import os

    suite = own_suite(tmp_path / "suite")
    run = run_pytest(env=dict(os.environ), cwd=suite)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_the_pytest_route_ends_on_its_own_when_get_never_returns(tmp_path: Path) -> None:
    env = faulty_dist(tmp_path / "site", "get-blocks-forever", local=True)
    suite = own_suite(tmp_path / "suite")
    started = time.monotonic()
    run = run_pytest(
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


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"zv_url": "/tmp/x"}, "--zv-url is used with --zv-backend NAME"),
        ({"zv_backend": "local"}, "--zv-backend needs --zv-url URL"),
        ({}, None),
        ({"zv_backend": "local", "zv_url": "/tmp/x"}, None),
    ],
)
def test_the_backend_and_the_url_come_together(options: dict[str, str], error: str | None) -> None:
    if error is None:
        pytest_plugin.pytest_configure(FakeConfig(**options))  # type: ignore[arg-type]
        return
    with pytest.raises(pytest.UsageError, match=re.escape(error)):
        pytest_plugin.pytest_configure(FakeConfig(**options))  # type: ignore[arg-type]


def test_every_option_is_declared_in_its_group() -> None:
    declared: dict[str, dict[str, Any]] = {}

    class Group:
        def addoption(self, name: str, **kwargs: Any) -> None:
            declared[name] = kwargs

    class Parser:
        def getgroup(self, name: str, description: str) -> Group:
            assert name == "zarr-vectors"
            return Group()

    pytest_plugin.pytest_addoption(Parser())  # type: ignore[arg-type]
    assert sorted(declared) == sorted(
        f"--zv-{n}"
        for n in ("backend", "url", "option", "max-examples", "steps", "timeout", "seed", "skip")
    )
    assert declared["--zv-timeout"]["type"] is float and declared["--zv-seed"]["type"] is int
    assert declared["--zv-option"]["action"] == declared["--zv-skip"]["action"] == "append"


def test_nothing_is_collected_without_a_backend() -> None:
    items: list[Any] = []
    pytest_plugin.pytest_collection_modifyitems(None, FakeConfig(), items)  # type: ignore[arg-type]
    assert items == []


def test_a_stuck_call_ends_the_process_with_the_runs_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Exited(Exception):
        pass

    def exit_now(status: int) -> None:
        raise Exited(status)

    monkeypatch.setattr("os._exit", exit_now)
    # nothing stuck: nothing happens
    pytest_plugin.pytest_unconfigure(FakeConfig())  # type: ignore[arg-type]
    monkeypatch.setattr(guard, "outstanding_calls", lambda: ["get_bytes('k')"])
    pytest_plugin.pytest_sessionfinish(None, 1)  # type: ignore[arg-type]
    with pytest.raises(Exited) as exited:
        pytest_plugin.pytest_unconfigure(FakeConfig())  # type: ignore[arg-type]
    assert exited.value.args == (1,)
    assert "1 backend call(s) never returned (get_bytes('k'))" in capsys.readouterr().err
    pytest_plugin.pytest_sessionfinish(None, 0)  # type: ignore[arg-type]

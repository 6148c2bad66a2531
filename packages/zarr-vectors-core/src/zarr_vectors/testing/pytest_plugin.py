"""The ``pytest11`` plugin: ``pytest --zv-backend NAME --zv-url URL`` adds the kit to any run.

Registered through the ``pytest11`` entry point of zarr-vectors-core, so it is
loaded by every pytest run in an environment where the core is installed. It
therefore only declares its options; unless ``--zv-backend`` is given it
imports nothing and adds no test. With it, the kit's checks are collected as
``TestBackendFromCommandLine`` tests next to the suite's own. The effort
switches (``--zv-max-examples``, ``--zv-steps``, ``--zv-timeout``,
``--zv-seed``) also apply to a suite's own :class:`~.suite.BackendConformance`
subclasses.

When a backend call of the kit never returned (see :mod:`~.guard`), its thread
cannot be stopped and could keep the interpreter from exiting; the session then
ends with its exit status as soon as pytest has reported, without waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_sessionfinish",
    "pytest_unconfigure",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zarr-vectors", "zarr-vectors backend conformance kit")
    group.addoption(
        "--zv-backend",
        metavar="NAME",
        default=None,
        help="run the zarr-vectors conformance kit against the installed backend NAME",
    )
    group.addoption(
        "--zv-url",
        metavar="URL",
        default=None,
        help="empty scratch location for --zv-backend (the kit deletes everything there)",
    )
    group.addoption(
        "--zv-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="backend constructor option for --zv-backend (repeatable)",
    )
    group.addoption(
        "--zv-max-examples",
        metavar="N",
        type=int,
        default=None,
        help="hypothesis examples per kit property (default depends on the URL)",
    )
    group.addoption(
        "--zv-steps",
        metavar="N",
        type=int,
        default=None,
        help="most steps per run of the kit's state machines (default depends on the URL)",
    )
    group.addoption(
        "--zv-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="longest one backend call may take before the kit fails it (default 30 s on "
        "local stores, 120 s on remote ones)",
    )
    group.addoption(
        "--zv-seed",
        metavar="N",
        type=int,
        default=None,
        help="seed of the kit's examples; a failure prints the one that replays it",
    )
    group.addoption(
        "--zv-skip",
        metavar="CHECK",
        action="append",
        default=[],
        help="a kit check not to run, e.g. persistence for an in-memory store (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    backend = config.getoption("zv_backend")
    if backend is None:
        if config.getoption("zv_url"):
            raise pytest.UsageError("--zv-url is used with --zv-backend NAME; pass both.")
        return
    if not config.getoption("zv_url"):
        raise pytest.UsageError(
            "--zv-backend needs --zv-url URL: an empty scratch location the kit may fill "
            "and delete (a new bucket, prefix, directory or file)."
        )


def _walk(node: Any) -> Iterator[pytest.Item]:
    if isinstance(node, pytest.Item):
        yield node
        return
    for child in node.collect():
        yield from _walk(child)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("zv_backend") is None:
        return
    from zarr_vectors.testing import _cli_suite

    module = pytest.Module.from_parent(session, path=Path(_cli_suite.__file__))
    items.extend(_walk(module))


_exit_status: int = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process now if a backend call of the kit is still stuck (it would hang exit)."""
    import sys

    guard = sys.modules.get("zarr_vectors.testing.guard")
    if guard is None:
        return
    stuck = guard.outstanding_calls()
    if stuck:
        import os

        sys.stderr.write(
            f"zarr-vectors kit: {len(stuck)} backend call(s) never returned "
            f"({', '.join(stuck[:3])}); ending without waiting for them.\n"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status or 1)

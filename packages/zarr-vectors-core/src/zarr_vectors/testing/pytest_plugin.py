"""The ``pytest11`` plugin: ``pytest --zv-backend NAME --zv-url URL`` adds the kit to any run.

Registered through the ``pytest11`` entry point of zarr-vectors-core, so it is
loaded by every pytest run in an environment where the core is installed. It
therefore only declares its options; unless ``--zv-backend`` is given it
imports nothing and adds no test. With it, the kit's checks are collected as
``TestBackendFromCommandLine`` tests next to the suite's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["pytest_addoption", "pytest_collection_modifyitems", "pytest_configure"]


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

"""The conformance kit: does a storage backend behave as the protocol says?

Install with ``pip install "zarr-vectors-core[testing]"``. Three ways to run it:

* ``zarr-vectors check-backend NAME --url URL [--option KEY=VALUE ...]``;
* ``pytest --zv-backend NAME --zv-url URL`` inside any test suite (the
  ``pytest11`` plugin :mod:`zarr_vectors.testing.pytest_plugin`);
* subclass :class:`BackendConformance` in a test module.

or from Python with :func:`run_kit`. What it checks is listed in
:data:`CHECK_NAMES` and described in ``docs/plugin-authors.md``; every backend
call it makes has a time limit (:class:`KitTimeoutError` when one overruns),
and a :class:`KitReporter` hears about each check as it starts and ends.

Names are imported on first use, so that importing this package (which the
pytest plugin does in every pytest run) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
    from zarr_vectors.testing.guard import KitTimeoutError
    from zarr_vectors.testing.runner import CheckResult, KitReporter, run_check, run_kit
    from zarr_vectors.testing.suite import BackendConformance
    from zarr_vectors.testing.target import KitTarget

__all__ = [
    "CHECK_NAMES",
    "BackendConformance",
    "CheckResult",
    "KitConfig",
    "KitReporter",
    "KitTarget",
    "KitTimeoutError",
    "run_check",
    "run_kit",
]

_WHERE = {
    "CHECK_NAMES": "zarr_vectors.testing.config",
    "KitConfig": "zarr_vectors.testing.config",
    "CheckResult": "zarr_vectors.testing.runner",
    "KitReporter": "zarr_vectors.testing.runner",
    "KitTimeoutError": "zarr_vectors.testing.guard",
    "run_check": "zarr_vectors.testing.runner",
    "run_kit": "zarr_vectors.testing.runner",
    "BackendConformance": "zarr_vectors.testing.suite",
    "KitTarget": "zarr_vectors.testing.target",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

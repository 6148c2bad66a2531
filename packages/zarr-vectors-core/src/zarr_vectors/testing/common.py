"""Helpers every check module shares: failures carrying the call log, drivers, item lists.

Kept apart so that the check modules (:mod:`~.contract`, :mod:`~.properties`,
:mod:`~.batches`, :mod:`~.edges`, :mod:`~.sharing`) import these and not each other.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver
from zarr_vectors.testing.model import Model
from zarr_vectors.testing.strategies import key_space, value_of
from zarr_vectors.testing.target import KitTarget, close_quietly

__all__ = [
    "CheckSkipped",
    "close_driver",
    "driver_for",
    "hierarchical",
    "item_lists",
    "kit_error",
    "unique_items",
]


class CheckSkipped(Exception):
    """Raised by a check that does not apply to this backend; the run reports it skipped."""


def kit_error(target: KitTarget, message: str) -> ConformanceError:
    """A failure carrying the backend calls made so far."""
    error = ConformanceError(message)
    target.guard.attach(error)
    return error


def unique_items(pairs: list[tuple[str, int, int]], hierarchical: bool) -> list[tuple[str, bytes]]:
    """Drop repeated keys (and, on file systems, keys that are parents of others)."""
    model = Model(hierarchical)
    out: list[tuple[str, bytes]] = []
    for key, size, seed in pairs:
        if key in model.data or model.conflicts(key):
            continue
        model.put(key, b"")
        out.append((key, value_of(size, seed)))
    return out


def item_lists(
    target: KitTarget, config: KitConfig, max_items: int
) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """Lists of (key, value size, value seed) for puts of up to ``max_items`` objects."""
    sizes = st.one_of(st.integers(0, 256), st.integers(0, min(256 * 1024, config.max_value_size)))
    keys = key_space(target.max_key_bytes).keys
    return st.lists(
        st.tuples(keys, sizes, st.integers(0, 2**32 - 1)), min_size=1, max_size=max_items
    )


def hierarchical(backend: Any) -> bool:
    """Whether ``backend`` declares ``hierarchical_keys`` (a file system)."""
    return bool(getattr(backend, "hierarchical_keys", False))


def driver_for(mode: str, backend: Any) -> Driver:
    """The sync or async driver of ``backend``."""
    return SyncDriver(backend) if mode == "sync" else AsyncDriver(backend)


def close_driver(target: KitTarget, driver: Driver, backend: Any) -> None:
    """Close ``driver`` (and so its backend) without hiding a failure being reported."""
    with target.guard.quiet():
        try:
            driver.close()
        except Exception:
            close_quietly(backend)

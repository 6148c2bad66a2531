"""Faults injected into Dask worker processes (``client.run(break_cell_puts)``).

A module of its own so that worker processes import it by name: the functions
patch the storage protocol inside the worker that runs them, never in the
test process (whose writes of the root and documents must keep working).
"""

from __future__ import annotations

from typing import Any

from zarr_vectors.exceptions import StoreError

INJECTED = "injected failure writing cells on a Dask worker"


def break_cell_puts(after: int = 1) -> None:
    """Make this process's ``put_many`` of cell objects fail after ``after`` batches."""
    from zarr_vectors.storage import base

    original = base.Backend.__dict__["put_many"]
    seen = {"batches": 0}

    def failing(self: Any, items: Any) -> None:
        items = list(items.items() if hasattr(items, "items") else items)
        if any("/c/" in key for key, _ in items):
            seen["batches"] += 1
            if seen["batches"] > after:
                raise StoreError(INJECTED)
        original(self, items)

    base.Backend._zv_unbroken_put_many = original  # type: ignore[attr-defined]
    base.Backend.put_many = failing  # type: ignore[method-assign]


def mend_cell_puts() -> None:
    """Undo :func:`break_cell_puts` in this process."""
    from zarr_vectors.storage import base

    original = base.Backend.__dict__.get("_zv_unbroken_put_many")
    if original is not None:
        base.Backend.put_many = original  # type: ignore[method-assign]
        del base.Backend._zv_unbroken_put_many  # type: ignore[attr-defined]


def count_cell_puts() -> None:
    """Record, in this process, the key of every cell object put (see :func:`counted`)."""
    from zarr_vectors.storage import base

    mend_cell_puts()
    original = base.Backend.__dict__["put_many"]
    _COUNTED.clear()

    def counting(self: Any, items: Any) -> None:
        items = list(items.items() if hasattr(items, "items") else items)
        _COUNTED.extend(key for key, _ in items if "/c/" in key)
        original(self, items)

    base.Backend._zv_unbroken_put_many = original  # type: ignore[attr-defined]
    base.Backend.put_many = counting  # type: ignore[method-assign]


def counted() -> list[str]:
    """The cell keys this process put since :func:`count_cell_puts`; stops counting."""
    mend_cell_puts()
    return list(_COUNTED)


_COUNTED: list[str] = []

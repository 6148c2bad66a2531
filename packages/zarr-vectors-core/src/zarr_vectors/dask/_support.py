"""What the Dask modules share: constants, importing Dask lazily, telling Dask input apart."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

Box = tuple[Sequence[float], Sequence[float]]

#: Column of the binned frame holding each point's input position (partition, row).
ROW = "_zv_row"
#: Column holding the hashed key of the block of cells a point falls in (the shuffle key).
BLOCK = "_zv_block"
#: Bits of :data:`ROW` given to the row inside an input partition (2**40 rows each).
_ROW_BITS = 40
#: Points a read partition aims at, when ``partition_cells`` is not given.
READ_PARTITION_POINTS = 1_000_000
#: What ``scheduler=`` takes besides a ``distributed.Client`` (see :func:`wants_parallel`).
SCHEDULERS = ("driver", "distributed", "threads", "processes", "sync", "synchronous")


def _module(name: str) -> Any:
    """A module of Dask or distributed, typed loosely (they are only partly annotated)."""
    import importlib

    return importlib.import_module(name)


def _require_dask(what: str) -> None:
    from zarr_vectors._extras import require

    require("dask.dataframe", feature=what, extra="dask")


def is_dask_frame(value: Any) -> bool:
    """Whether ``value`` is a Dask DataFrame (without importing Dask)."""
    return (
        type(value).__module__.startswith("dask")
        and hasattr(value, "npartitions")
        and hasattr(value, "columns")
        and hasattr(value, "to_delayed")
    )


def _active_client() -> Any:
    """The ``distributed`` client in use, if any (only looked for once it is imported)."""
    if "distributed" not in sys.modules:
        return None
    try:
        return _module("distributed").default_client()
    except ValueError:
        return None

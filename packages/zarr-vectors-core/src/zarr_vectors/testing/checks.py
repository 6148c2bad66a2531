"""The kit's checks by name: the function that runs each, and one line saying what it proves.

Each entry imports its check module on first use, so that naming the checks (the
command line does, to validate ``--check``) costs nothing. Its own module so the
runner and the child process that runs a check (:mod:`~.isolation`) both read it.

A check runs in a child process (see :mod:`~.isolation`), and importing its module
there costs about a second of CPU, more than most checks take: :func:`check_modules`
names what the checks import so that the process the children are started from
imports it once (see :func:`preload`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module

from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
from zarr_vectors.testing.target import KitTarget

__all__ = ["CHECKS", "FIXED", "check_function", "check_modules", "preload"]


@dataclass(frozen=True)
class _Check:
    """Calls ``function(target, config, *args)`` of the kit module ``module``, imported
    when first called; ``needs`` are the modules that function imports when it runs."""

    module: str
    function: str
    args: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"zarr_vectors.testing.{self.module}"

    def __call__(self, target: KitTarget, config: KitConfig) -> None:
        getattr(import_module(self.path), self.function)(target, config, *self.args)


_ROUND_TRIP = ("numpy", "zarr", "zarr_vectors.storage.zarr_adapter")

#: check name -> (the function that runs it, one line saying what it proves)
CHECKS: dict[str, tuple[_Check, str]] = {
    "sync-state-machine": (
        _Check("stateful", "run_machine", ("sync",)),
        "every sync call agrees with the in-memory model",
    ),
    "async-state-machine": (
        _Check("stateful", "run_machine", ("async",)),
        "every async call agrees with the in-memory model",
    ),
    "edge-cases": (
        _Check("edges", "check_edge_cases"),
        "fixed scripts: parents are not objects, ranges at the end, listings after deletes",
    ),
    "key-contract": (
        _Check("contract", "check_key_contract"),
        "keys are stored and listed byte-exact, up to 1,024 bytes",
    ),
    "invalid-keys": (
        _Check("contract", "check_invalid_keys"),
        "invalid keys and prefixes are refused, storage untouched",
    ),
    "large-batches": (
        _Check("batches", "check_large_batches"),
        "put_many, move_many and delete_many of 1,000+ keys",
    ),
    "write-fences": (
        _Check("batches", "check_write_fences"),
        "every batch stops at a closed write fence",
    ),
    "two-instances": (
        _Check("sharing", "check_two_instances"),
        "two instances of one URL at once: threads and tasks",
    ),
    "two-processes": (
        _Check("sharing", "check_two_processes"),
        "two processes using one URL at once",
    ),
    "concurrent-async": (
        _Check("properties", "check_concurrent_async"),
        "concurrent async puts/gets lose and mix up nothing",
    ),
    "torn-writes": (
        _Check("properties", "check_torn_writes"),
        "a read during an overwrite sees the old or the new value",
    ),
    "conditional-writes": (
        _Check("properties", "check_conditional_writes"),
        "racing put_if calls: exactly one wins (or put_if is unsupported)",
    ),
    "persistence": (
        _Check("properties", "check_persistence"),
        "contents survive close() and reopening the URL",
    ),
    "zarr-array": (
        _Check("roundtrip", "check_zarr_array", needs=_ROUND_TRIP),
        "a zarr array round-trips through the backend",
    ),
    "point-cloud": (
        _Check("roundtrip", "check_point_cloud", needs=("numpy", "zarr_vectors.types.points")),
        "a point cloud round-trips, whole and by box",
    ),
}
assert tuple(CHECKS) == CHECK_NAMES


def check_function(name: str) -> Callable[[KitTarget, KitConfig], None]:
    """The function that runs check ``name``."""
    return CHECKS[name][0]


#: Checks that run fixed scripts rather than a hypothesis search: a failure has no
#: smaller example to look for, so the runner does not run them again to shrink it.
FIXED: frozenset[str] = frozenset(
    {"edge-cases", "large-batches", "write-fences", "two-instances", "two-processes"}
)


def check_modules(names: Iterable[str] = CHECK_NAMES) -> list[str]:
    """The modules checks ``names`` import, their own and those they import when they run
    (in import order, each once)."""
    found: dict[str, None] = {}
    for name in names:
        check = CHECKS[name][0]
        found.update(dict.fromkeys((check.path, *check.needs)))
    return list(found)


def preload(names: Iterable[str]) -> None:
    """Import what checks ``names`` need, in this process: a child forked from it
    afterwards starts with them (each child importing them again costs a second of CPU)."""
    for module in check_modules(names):
        import_module(module)

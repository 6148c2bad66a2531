"""The kit's checks by name: the function that runs each, and one line saying what it proves.

Each entry imports its check module on first use, so that naming the checks (the
command line does, to validate ``--check``) costs nothing. Its own module so the
runner and the child process that runs a check (:mod:`~.isolation`) both read it.
"""

from __future__ import annotations

from collections.abc import Callable

from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
from zarr_vectors.testing.target import KitTarget

__all__ = ["CHECKS", "check_function"]


def _sync_machine(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.stateful import run_machine

    run_machine(target, config, "sync")


def _async_machine(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.stateful import run_machine

    run_machine(target, config, "async")


def _key_contract(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.contract import check_key_contract

    check_key_contract(target, config)


def _invalid_keys(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.contract import check_invalid_keys

    check_invalid_keys(target, config)


def _concurrent(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_concurrent_async

    check_concurrent_async(target, config)


def _torn_writes(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_torn_writes

    check_torn_writes(target, config)


def _conditional_writes(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_conditional_writes

    check_conditional_writes(target, config)


def _persistence(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_persistence

    check_persistence(target, config)


def _zarr_array(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.roundtrip import check_zarr_array

    check_zarr_array(target, config)


def _point_cloud(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.roundtrip import check_point_cloud

    check_point_cloud(target, config)


def _edge_cases(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.edges import check_edge_cases

    check_edge_cases(target, config)


def _large_batches(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.batches import check_large_batches

    check_large_batches(target, config)


def _write_fences(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.batches import check_write_fences

    check_write_fences(target, config)


def _two_instances(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.sharing import check_two_instances

    check_two_instances(target, config)


def _two_processes(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.sharing import check_two_processes

    check_two_processes(target, config)


#: check name -> (function, one line saying what it proves)
CHECKS: dict[str, tuple[Callable[[KitTarget, KitConfig], None], str]] = {
    "sync-state-machine": (_sync_machine, "every sync call agrees with the in-memory model"),
    "async-state-machine": (_async_machine, "every async call agrees with the in-memory model"),
    "edge-cases": (
        _edge_cases,
        "fixed scripts: parents are not objects, ranges at the end, listings after deletes",
    ),
    "key-contract": (_key_contract, "keys are stored and listed byte-exact, up to 1,024 bytes"),
    "invalid-keys": (_invalid_keys, "invalid keys and prefixes are refused, storage untouched"),
    "large-batches": (_large_batches, "put_many, move_many and delete_many of 1,000+ keys"),
    "write-fences": (_write_fences, "every batch stops at a closed write fence"),
    "two-instances": (_two_instances, "two instances of one URL at once: threads and tasks"),
    "two-processes": (_two_processes, "two processes using one URL at once"),
    "concurrent-async": (_concurrent, "concurrent async puts/gets lose and mix up nothing"),
    "torn-writes": (_torn_writes, "a read during an overwrite sees the old or the new value"),
    "conditional-writes": (
        _conditional_writes,
        "racing put_if calls: exactly one wins (or put_if is unsupported)",
    ),
    "persistence": (_persistence, "contents survive close() and reopening the URL"),
    "zarr-array": (_zarr_array, "a zarr array round-trips through the backend"),
    "point-cloud": (_point_cloud, "a point cloud round-trips, whole and by box"),
}
assert tuple(CHECKS) == CHECK_NAMES


def check_function(name: str) -> Callable[[KitTarget, KitConfig], None]:
    """The function that runs check ``name``."""
    return CHECKS[name][0]

"""The kit's checks by name (checks.py): every name runs its own module's check function,
and names what it imports, so that the process children start from imports it once."""

from __future__ import annotations

import importlib

import pytest

from tests.helpers.kit_expected import (
    EXPECTED,
    FEWER,
    MODULE_OF,
    NEW_EXPECTED,
    STOPPING,
    TIMED,
    fault_target,
)
from tests.helpers.kit_faulty import FAULTY, DictBackend
from zarr_vectors.testing.checks import CHECKS, FIXED, check_function, check_modules, preload
from zarr_vectors.testing.config import CHECK_NAMES

#: check -> the function of its module that runs it
FUNCTIONS = {
    "sync-state-machine": "run_machine",
    "async-state-machine": "run_machine",
    "edge-cases": "check_edge_cases",
    "key-contract": "check_key_contract",
    "invalid-keys": "check_invalid_keys",
    "large-batches": "check_large_batches",
    "write-fences": "check_write_fences",
    "two-instances": "check_two_instances",
    "two-processes": "check_two_processes",
    "concurrent-async": "check_concurrent_async",
    "torn-writes": "check_torn_writes",
    "conditional-writes": "check_conditional_writes",
    "persistence": "check_persistence",
    "zarr-array": "check_zarr_array",
    "point-cloud": "check_point_cloud",
}


def test_every_check_is_named_in_order_with_what_it_proves() -> None:
    assert tuple(CHECKS) == CHECK_NAMES == tuple(FUNCTIONS)
    assert all(len(line) > 20 for _, line in CHECKS.values())


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_each_name_runs_its_own_check(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"zarr_vectors.testing.{MODULE_OF[name]}")
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(module, FUNCTIONS[name], lambda *args: calls.append(args))
    target = fault_target(DictBackend)
    check_function(name)(target, FEWER)
    assert calls and calls[0][:2] == (target, FEWER)
    if name.endswith("state-machine"):
        assert calls[0][2] == name.split("-")[0]  # the sync or the async machine


def test_every_fault_has_an_expectation() -> None:
    """Each broken backend of kit_faulty.py is caught by some check (tested in its module's
    test file)."""
    assert set(EXPECTED) | TIMED | set(NEW_EXPECTED) | STOPPING == set(FAULTY)
    assert {check for table in (EXPECTED, NEW_EXPECTED) for rows in table.values()
            for check, _ in rows} <= set(CHECK_NAMES)  # fmt: skip


def test_the_modules_the_checks_import_are_named_once_each() -> None:
    modules = check_modules()
    assert len(modules) == len(set(modules))
    assert {f"zarr_vectors.testing.{m}" for m in MODULE_OF.values()} <= set(modules)
    assert check_modules(["zarr-array", "point-cloud"]) == [
        "zarr_vectors.testing.roundtrip",
        "numpy",
        "zarr",
        "zarr_vectors.storage.zarr_adapter",
        "zarr_vectors.types.points",
    ]
    preload(CHECK_NAMES)  # each of them exists
    assert set(CHECK_NAMES) > FIXED

"""What the check modules share (common.py): failures carrying the call log, item lists, drivers."""

from __future__ import annotations

from tests.helpers.kit_expected import fault_target
from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.common import (
    close_driver,
    driver_for,
    hierarchical,
    kit_error,
    unique_items,
)
from zarr_vectors.testing.drivers import AsyncDriver, SyncDriver
from zarr_vectors.testing.strategies import value_of


def test_a_failure_carries_the_calls_made_so_far() -> None:
    target = fault_target(DictBackend)
    backend = target.fresh()
    backend.put_bytes("a", b"1")
    error = kit_error(target, "it broke")
    backend.get_bytes("a")  # after the failure: not on it
    assert isinstance(error, ConformanceError) and str(error) == "it broke"
    assert error.kit_calls == ["put_bytes('a', <1 bytes>) -> None"]  # type: ignore[attr-defined]


def test_unique_items_drop_repeats_and_on_file_systems_parents() -> None:
    pairs = [("a", 1, 1), ("a", 2, 2), ("a/b", 3, 3), ("c", 0, 4)]
    assert unique_items(pairs, hierarchical=False) == [
        ("a", value_of(1, 1)),
        ("a/b", value_of(3, 3)),
        ("c", b""),
    ]
    assert [k for k, _ in unique_items(pairs, hierarchical=True)] == ["a", "c"]


def test_the_driver_follows_the_mode_and_closes_its_backend() -> None:
    backend = DictBackend("dict://common-1")
    assert hierarchical(backend) is False and hierarchical(object()) is False
    assert isinstance(driver_for("sync", backend), SyncDriver)
    driver = driver_for("async", backend)
    assert isinstance(driver, AsyncDriver)
    target = fault_target(DictBackend)
    close_driver(target, driver, backend)
    assert driver.loop.is_closed()


def test_a_failing_close_is_not_reported() -> None:
    closed: list[str] = []

    class BadClose:
        def close(self) -> None:
            raise OSError("close failed")

    class Backend:
        def close(self) -> None:
            closed.append("backend")

    close_driver(fault_target(DictBackend), BadClose(), Backend())  # type: ignore[arg-type]
    assert closed == ["backend"]

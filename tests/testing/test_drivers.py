"""The drivers (drivers.py): one blocking interface over the sync calls or their async twins.

Both drivers give the same answers on a correct backend, and both refuse a read
that returns anything but ``bytes`` itself, naming the call and the type.
"""

from __future__ import annotations

import pytest

from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.drivers import AsyncDriver, Driver, SyncDriver, exact_bytes
from zarr_vectors.testing.guard import Guard
from zarr_vectors.testing.guarded import GuardedBackend


def _script(driver: Driver) -> list[object]:
    driver.put("a/1", b"one")
    driver.put_many([("a/2", b"two"), ("b", b"three")])
    out: list[object] = [
        driver.get("a/1"),
        driver.get_range("b", 1, 2),
        driver.exists("a/2"),
        driver.head("b").size,
        driver.ls("", False),
        driver.get_many(["a/1", "missing"]),
    ]
    driver.move_many([("a/2", "c")])
    driver.delete_many(["a/1"])
    driver.delete("b")
    out.append(driver.ls("", True))
    driver.delete_prefix("")
    out.append(driver.ls("", True))
    with pytest.raises(KeyError):
        driver.get("a/1")
    driver.close()
    return out


def test_both_drivers_give_the_same_answers() -> None:
    sync = _script(SyncDriver(DictBackend("dict://drivers-sync")))
    assert sync == [b"one", b"hr", True, 5, ["a/", "b"], {"a/1": b"one"}, ["c"], []]
    driver = AsyncDriver(DictBackend("dict://drivers-async"))
    assert _script(driver) == sync and driver.loop.is_closed()


class GivesBytearray(DictBackend):
    def _get(self, key: str) -> bytes:
        return bytearray(super()._get(key))  # type: ignore[return-value]


@pytest.mark.parametrize("make", [SyncDriver, AsyncDriver])
def test_a_read_that_is_not_bytes_is_refused_naming_the_call(make: type[SyncDriver]) -> None:
    guarded = GuardedBackend(GivesBytearray(f"dict://drivers-{make.__name__}"), Guard("g", 30.0))
    driver = make(guarded)
    driver.put("k", b"v")
    with pytest.raises(ConformanceError, match=r"get_bytes\('k'\) on .* returned a bytearray"):
        driver.get("k")
    with pytest.raises(ConformanceError, match=r"get_many \(the value of 'k'\)") as caught:
        driver.get_many(["k"])
    assert caught.value.kit_calls  # type: ignore[attr-defined]
    driver.close()


def test_exact_bytes_passes_bytes_itself_only() -> None:
    assert exact_bytes(object(), b"x", "get") == b"x"
    with pytest.raises(ConformanceError, match="returned a memoryview, not bytes"):
        exact_bytes(object(), memoryview(b"x"), "get_bytes('k')")

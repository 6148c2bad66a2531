"""The property checks (properties.py): concurrency, torn writes, put_if races, persistence.

Torn writes and a put_if that ignores its expected version are caught; a
correct backend passes every property; what a torn read was made of is
described piece by piece.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import DictBackend, VersionedDictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.properties import (
    _describe_mixture,
    check_concurrent_async,
    check_conditional_writes,
    check_persistence,
    check_torn_writes,
)

QUICK = FEWER.with_changes(max_examples=4, max_value_size=4096, seed=1)


class TestFaultsCaught(FaultsCaught):
    module = "properties"


@pytest.mark.parametrize(
    "check",
    [check_concurrent_async, check_torn_writes, check_conditional_writes, check_persistence],
)
def test_a_correct_backend_passes_every_property(check: Callable[..., None]) -> None:
    check(fault_target(VersionedDictBackend), QUICK)


def test_a_backend_without_put_if_passes_by_refusing_it() -> None:
    check_conditional_writes(fault_target(DictBackend), QUICK)


def test_put_if_on_a_backend_without_it_must_be_refused() -> None:
    class PutIfAnyway(DictBackend):
        """Says conditional_writes = False, yet put_if writes."""

        def put_if(self, key: str, data: bytes, *, expect: str | None) -> str:
            self.put_bytes(key, data)
            return "v1"

    with pytest.raises(ConformanceError, match=r"\[sync\] put_if\('kit/never'.*returned 'v1'"):
        check_conditional_writes(fault_target(PutIfAnyway), QUICK)


def test_a_store_that_forgets_on_close_fails_persistence() -> None:
    class Forgets(DictBackend):
        def close(self) -> None:
            self.objects.clear()
            super().close()

    with pytest.raises(ConformanceError, match=r"After close\(\) and reopening"):
        check_persistence(fault_target(Forgets), QUICK)


def test_a_mixture_is_described_piece_by_piece() -> None:
    old, new = b"aaaaaaaa", b"bbbbbbbb"
    assert (
        _describe_mixture(b"aaaabbbb", [old, new]) == "bytes 0-3 of value #0, bytes 4-7 of value #1"
    )
    assert _describe_mixture(b"aaaa", [old, new]) == "4 bytes, while every value written is 8 bytes"
    assert _describe_mixture(b"ccaaaaaa", [old, new]) == "byte 0 matches no value written"

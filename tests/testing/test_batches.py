"""Large batches and write fences (batches.py): every key of a batch, and a fence inside it.

Backends that page their batches and drop the later pages, and batch overrides
that skip the write fence, fail with messages naming the batch; a correct
backend passes; a batch stopped by the fence is told apart from one that failed
for another reason.
"""

from __future__ import annotations

import pytest

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.batches import (
    FenceClosedError,
    _stopped_by,
    check_large_batches,
    check_write_fences,
)


class TestFaultsCaught(FaultsCaught):
    module = "batches"


def test_a_correct_backend_passes_both_checks() -> None:
    config = FEWER.with_changes(batch_keys=120)
    check_large_batches(fault_target(DictBackend), config)
    check_write_fences(fault_target(DictBackend), config)


def test_the_batch_size_follows_the_config() -> None:
    class PagesOf100(DictBackend):
        """put_many keeps the first 100 items only."""

        def _put_many(self, items: list[tuple[str, bytes]]) -> None:
            super()._put_many(items[:100])

    check_large_batches(fault_target(PagesOf100), FEWER.with_changes(batch_keys=100))
    with pytest.raises(ConformanceError, match=r"after put_many of 101 objects .*expected 101"):
        check_large_batches(fault_target(PagesOf100), FEWER.with_changes(batch_keys=101))


def test_a_batch_failing_for_another_reason_is_not_a_stop_at_the_fence() -> None:
    class DeleteManyBreaks(DictBackend):
        def delete_many(self, keys: object) -> None:
            raise OSError("disk on fire")

    with pytest.raises(ConformanceError, match=r"delete_many of 4 objects .*raised OSError"):
        check_write_fences(fault_target(DeleteManyBreaks), FEWER)


def test_a_stop_at_the_fence_is_found_however_it_is_wrapped() -> None:
    fence = FenceClosedError("closed")
    try:
        try:
            raise fence
        except FenceClosedError as exc:
            raise RuntimeError("while writing") from exc
    except RuntimeError as wrapped:
        assert _stopped_by(wrapped)
    assert _stopped_by(ExceptionGroup("batch", [ValueError("x"), fence]))
    assert not _stopped_by(ValueError("x"))

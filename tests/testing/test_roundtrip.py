"""The whole-stack checks (roundtrip.py): a zarr array and a point cloud through the backend.

A correct backend passes both; one that loses chunks, or serves the wrong bytes
of a range, fails them with a message saying what read back wrong.
"""

from __future__ import annotations

import pytest

from tests.helpers.kit_expected import FEWER, fault_target
from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError, CorruptStoreError
from zarr_vectors.testing.roundtrip import _sorted_rows, check_point_cloud, check_zarr_array

ONE = FEWER.with_changes(roundtrip_examples=1, seed=3, isolate=False)


class LosesChunks(DictBackend):
    """Puts of zarr chunks ('.../c/...') are acknowledged and dropped."""

    def _put(self, key: str, data: bytes) -> None:
        if "/c/" not in key:
            super()._put(key, data)

    def _put_many(self, items: list[tuple[str, bytes]]) -> None:
        for key, data in items:
            self._put(key, data)


def test_a_correct_backend_passes_both_round_trips() -> None:
    check_zarr_array(fault_target(DictBackend), ONE)
    check_point_cloud(fault_target(DictBackend), ONE)


def test_a_backend_losing_chunks_fails_the_zarr_array() -> None:
    with pytest.raises(ConformanceError, match=r"zarr array of shape .* read back different"):
        check_zarr_array(fault_target(LosesChunks), ONE)


def test_a_backend_losing_chunks_fails_the_point_cloud() -> None:
    """The reader itself notices the missing cells; the check lets its error through."""
    with pytest.raises(CorruptStoreError, match=r"listed in nonempty_chunks but missing"):
        check_point_cloud(fault_target(LosesChunks), ONE)


def test_rows_are_sorted_by_every_column() -> None:
    import numpy as np

    rows = np.array([[2.0, 1.0], [1.0, 5.0], [1.0, 2.0]])
    assert _sorted_rows(rows).tolist() == [[1.0, 2.0], [1.0, 5.0], [2.0, 1.0]]

"""A shard's index and the ranged reads planned from it (``zarr_vectors.format.shardindex``).

The Morton layout of inner chunks (as zarr-python lays them out), the CRC-32C of an
index, which inner chunks an index says are present, and byte ranges coalesced by
gap and cut back into cells, refusing short reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.shardindex import (
    EMPTY,
    ByteRange,
    ShardIndex,
    crc32c,
    morton_order,
    plan_ranges,
    slice_ranges,
)


def test_morton_layout() -> None:
    # axis 0 is the lowest bit: (0,0), (1,0), (0,1), (1,1) -> C-order 0, 2, 1, 3
    assert morton_order((2, 2)) == (0, 2, 1, 3)
    assert morton_order((1,)) == (0,)
    assert sorted(morton_order((4, 6))) == list(range(24))
    try:
        from zarr.core.indexing import morton_order_iter
    except ImportError:  # a private helper of zarr-python; the fixture test covers it too
        return
    for shape in [(4, 6), (3, 3, 3), (5,), (2, 7, 3), (4, 4, 4)]:
        theirs = [int(np.ravel_multi_index(c, shape)) for c in morton_order_iter(shape)]
        assert list(morton_order(shape)) == theirs


# -- byte-range planning -------------------------------------------------------------
def index_of(spans: dict[int, tuple[int, int]], n: int) -> ShardIndex:
    table = np.full((n, 2), EMPTY, dtype=np.uint64)
    for i, (off, length) in spans.items():
        table[i] = (off, length)
    return ShardIndex(table)


def test_plan_ranges_coalesces_by_gap() -> None:
    # inner 0 at 0..100, 1 at 100..150 (touching), 2 at 400..500, 3 at 2000..2010
    index = index_of({0: (0, 100), 1: (100, 50), 2: (400, 100), 3: (2000, 10)}, 8)
    one_each = plan_ranges(index, [3, 1, 0, 2], gap=-1)
    assert [(r.start, r.length) for r in one_each] == [(0, 100), (100, 50), (400, 100), (2000, 10)]
    touching = plan_ranges(index, [0, 1, 2, 3], gap=0)
    assert [(r.start, r.length) for r in touching] == [(0, 150), (400, 100), (2000, 10)]
    assert touching[0].cells == ((0, 0, 100), (1, 100, 50))
    mid = plan_ranges(index, [0, 1, 2, 3], gap=250)
    assert [(r.start, r.length) for r in mid] == [(0, 500), (2000, 10)]
    assert mid[0].cells == ((0, 0, 100), (1, 100, 50), (2, 400, 100))
    everything = plan_ranges(index, range(8))  # default gap 1 MiB; empty cells skipped
    assert [(r.start, r.length) for r in everything] == [(0, 2010)]
    capped = plan_ranges(index, range(8), gap=10_000, max_length=500)
    assert [(r.start, r.length) for r in capped] == [(0, 500), (2000, 10)]
    assert plan_ranges(index, [4, 5, 4]) == []
    # duplicates are fetched once; ranges follow offsets, not the order asked
    dup = plan_ranges(index, [2, 2, 0], gap=-1)
    assert [r.cells[0][0] for r in dup] == [0, 2]


def test_slice_ranges_refuses_short_reads() -> None:
    index = index_of({0: (0, 100), 1: (100, 50)}, 2)
    ranges = plan_ranges(index, [0, 1])
    with pytest.raises(CorruptStoreError, match="shorter than its index"):
        slice_ranges(ranges, [b"x" * 120])


def test_crc32c_is_castagnoli() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(memoryview(b"")) == 0


def test_an_index_says_which_inner_chunks_are_present() -> None:
    index = index_of({1: (10, 5), 3: (0, 10)}, 4)
    np.testing.assert_array_equal(index.present, [False, True, False, True])
    assert index.nonempty() == [1, 3]
    assert index.span(1) == (10, 5) and index.span(0) is None


def test_slice_ranges_cuts_each_cell_out_of_its_range() -> None:
    index = index_of({0: (0, 3), 1: (3, 2), 2: (10, 4)}, 3)
    ranges = plan_ranges(index, [0, 1, 2], gap=0)
    assert ranges[1] == ByteRange(10, 4, ((2, 0, 4),)) and ranges[1].end == 14
    got = slice_ranges(ranges, [b"abcde", b"wxyz"])
    assert {i: bytes(v) for i, v in got.items()} == {0: b"abc", 1: b"de", 2: b"wxyz"}
    with pytest.raises(ValueError, match="2 ranges but 1 fetched blobs"):
        slice_ranges(ranges, [b"abcde"])

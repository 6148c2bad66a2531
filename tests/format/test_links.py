"""Link records placed in their cells and read back (``zarr_vectors.format.links``).

Placement is canonical (a cross-cell record sorted by cell then row, its permutation
in a ``perm`` column, filed under its first endpoint's cell); reading restores the
input order; the cells' bytes round-trip and damaged ones name the cell.
"""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.links import (
    decode_link_cell,
    encode_cross_cell,
    format_offsets,
    link_array_attributes,
    parse_offsets,
    partition_links,
    place_links,
    restore_order,
)


def test_links_are_placed_canonically_and_restored() -> None:
    chunks = np.array([[[1, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]], [[0, 2, 0], [0, 1, 0]]])
    rows = np.array([[5, 7], [1, 2], [3, 4]])
    buckets = partition_links(chunks, rows)
    # the cross records file under their lexicographically first cell, perm column first
    assert set(buckets.cells) == {
        ("+1.0.0", (0, 0, 0)),
        ("0.0.0", (0, 0, 0)),
        ("0.+1.0", (0, 1, 0)),
    }
    cross, index = buckets.cells[("+1.0.0", (0, 0, 0))]
    np.testing.assert_array_equal(cross, [[1, 7, 5]])
    restored, _ = restore_order(cross, has_perm=True, width=2, where="x")
    np.testing.assert_array_equal(restored, [rows[index[0]]])
    intra, _ = buckets.cells[("0.0.0", (0, 0, 0))]
    np.testing.assert_array_equal(intra, [[1, 2]])  # input order, no perm column


def test_offsets_segments_round_trip_and_bad_ones_are_refused() -> None:
    offsets = np.array([[1, 0, -1], [0, 0, 2]])
    assert format_offsets(offsets) == "+1.0.-1_0.0.+2"
    np.testing.assert_array_equal(parse_offsets("+1.0.-1_0.0.+2", 3), offsets)
    with pytest.raises(ValueError, match="not an offsets segment for 3 axes"):
        parse_offsets("+1.0", 3)
    with pytest.raises(ValueError, match="not an offsets segment"):
        parse_offsets("1.0.0", 3)  # a nonzero component carries its sign


@pytest.mark.parametrize("width", [2, 3])
def test_every_endpoint_order_is_restored(width: int) -> None:
    rng = np.random.default_rng(width)
    m = 200
    chunks = rng.integers(-2, 3, (m, width, 3))
    rows = rng.integers(0, 50, (m, width))
    buckets = partition_links(chunks, rows)
    got = np.empty_like(rows)
    for (segment, source), (stored, index) in buckets.cells.items():
        has_perm = segment != format_offsets(np.zeros((width - 1, 3), np.int64))
        restored, _ = restore_order(stored, has_perm=has_perm, width=width, where="t")
        got[index] = restored
        for record in chunks[index].tolist():  # filed under its least cell
            assert source == min(tuple(c) for c in record)
    np.testing.assert_array_equal(got, rows)
    assert sum(len(i) for _, i in buckets.cells.values()) == m


def test_the_encoders_numbered_cells_place_as_world_cells_do() -> None:
    rng = np.random.default_rng(7)
    world = np.unique(rng.integers(-3, 4, (40, 3)), axis=0)  # lexicographic, as encoded
    cells = rng.integers(0, len(world), (300, 2))
    rows = rng.integers(0, 1000, (300, 2))
    by_number = place_links(world, cells, rows).cells
    by_world = partition_links(world[cells], rows).cells
    assert list(by_number) == list(by_world)
    for key, (stored, index) in by_world.items():
        np.testing.assert_array_equal(by_number[key][0], stored)
        np.testing.assert_array_equal(by_number[key][1], index)
    # rows too large to pack with their cell take the lexsort path, to the same placement
    big = partition_links(world[cells], rows + 2**61).cells
    for key, (stored, index) in by_world.items():
        shifted = stored.copy()
        shifted[:, -2:] += 2**61
        np.testing.assert_array_equal(big[key][0], shifted)
        np.testing.assert_array_equal(big[key][1], index)


def test_directed_records_keep_their_endpoint_order() -> None:
    chunks = np.array([[[1, 0, 0], [0, 0, 0]]])
    buckets = partition_links(chunks, np.array([[5, 7]]), directed=True)
    assert set(buckets.cells) == {("-1.0.0", (1, 0, 0))}
    stored, _ = buckets.cells[("-1.0.0", (1, 0, 0))]
    np.testing.assert_array_equal(stored, [[5, 7]])  # no perm column
    assert buckets.segments() == ["-1.0.0"]


def test_no_records_make_no_cells() -> None:
    buckets = partition_links(np.empty((0, 2, 3), np.int64), np.empty((0, 2), np.int64))
    assert buckets.cells == {} and buckets.segments() == []


def test_link_cells_round_trip() -> None:
    rows = np.array([[0, 1, 2], [1, 4, 3]])
    got = decode_link_cell(
        encode_cross_cell(rows), intra=False, columns=3, dtype=np.dtype("int64"), where="c"
    )
    np.testing.assert_array_equal(got, rows)
    flat = np.array([[1, 2], [3, 4]], "<i8").tobytes()
    got = decode_link_cell(flat, intra=True, columns=2, dtype=np.dtype("int64"), where="c")
    np.testing.assert_array_equal(got, [[1, 2], [3, 4]])
    empty = decode_link_cell(b"", intra=False, columns=3, dtype=np.dtype("int64"), where="c")
    assert empty.shape == (0, 3)


def test_damaged_link_cells_name_the_cell() -> None:
    i8 = np.dtype("int64")
    with pytest.raises(CorruptStoreError, match=r"L/links/0/0\.0\.0/c/0: 3 values are not whole"):
        decode_link_cell(bytes(24), intra=True, columns=2, dtype=i8, where="L/links/0/0.0.0/c/0")
    with pytest.raises(CorruptStoreError, match="c: the link cell's header is truncated"):
        decode_link_cell(
            np.array([5], "<i8").tobytes(), intra=False, columns=2, dtype=i8, where="c"
        )
    bad = np.array([1, 0], "<i8").tobytes() + bytes(12)  # 12 bytes are not whole 16-byte rows
    with pytest.raises(CorruptStoreError, match=r"c: a link group's byte range \[0, 12\)"):
        decode_link_cell(bad, intra=False, columns=2, dtype=i8, where="c")


def test_a_perm_index_out_of_range_is_corrupt() -> None:
    with pytest.raises(CorruptStoreError, match="c: a link's perm index is out of range"):
        restore_order(np.array([[2, 0, 1]]), has_perm=True, width=2, where="c")


def test_link_array_attributes_describe_the_cell_array() -> None:
    attrs = link_array_attributes(np.array([[0, 1, 0]]), has_perm=True, width=2)
    assert attrs["offsets"] == [[0, 1, 0]] and attrs["has_perm"] and attrs["link_width"] == 2

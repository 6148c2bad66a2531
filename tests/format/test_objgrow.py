"""Joining a cell's committed payload with new objects' (format/objgrow.py)."""

from __future__ import annotations

import numpy as np
import pytest

from zarr_vectors.format.links import decode_link_cell, encode_cross_cell
from zarr_vectors.format.objects import decode_fragment_table, encode_fragment_ranges
from zarr_vectors.format.objgrow import CannotGrow, CellTally, join_docs, join_payloads


def test_joined_cells_renumber_link_fragments_and_keep_vertex_fragments() -> None:
    a = encode_fragment_ranges(np.array([0]), np.array([3]))
    b = encode_fragment_ranges(np.array([0]), np.array([2]))
    joined = decode_fragment_table(join_payloads("0/link_fragments", {}, [a, b]), "t")
    assert np.asarray(joined).tolist() == [[0, 3], [3, 2]]
    later = encode_fragment_ranges(np.array([3]), np.array([4]))  # numbered by bases already
    vf = join_payloads("0/vertex_fragments", {}, [a, later])
    assert np.asarray(decode_fragment_table(vf, "t")).tolist() == [[0, 3], [3, 4]]


def test_cross_cell_links_become_one_group_and_rows_follow_one_another() -> None:
    doc = {"attributes": {"offsets": [[1, 0, 0]], "link_width": 2, "has_perm": True}}
    one, two = np.array([[0, 1, 2]]), np.array([[1, 5, 6], [0, 7, 8]])
    joined = join_payloads(
        "0/links/0/+1.0.0", doc, [encode_cross_cell(one), encode_cross_cell(two)]
    )
    rows = decode_link_cell(joined, intra=False, columns=3, dtype=np.dtype("<i8"), where="t")
    assert rows.tolist() == [[0, 1, 2], [1, 5, 6], [0, 7, 8]]
    assert join_payloads("0/vertices", {}, [b"ab", b"cd"]) == b"abcd"
    with pytest.raises(CannotGrow):
        join_payloads("0/vertices", {"attributes": {"encoding": "draco"}}, [b"a", b"b"])


def test_documents_add_up_and_the_tally_counts_what_cells_hold() -> None:
    old = {
        "0": {"attributes": {"zarr_vectors_level": {"vertex_count": 5, "arrays_present": ["v"]}}},
        "0/vertices": {"attributes": {"nonempty_chunks": ["0.0.0"]}},
        "0/links/0": {"attributes": {"num_links": 2, "num_physical_records": 2}},
    }
    new = {
        "0": {"attributes": {"zarr_vectors_level": {"vertex_count": 3, "arrays_present": ["l"]}}},
        "0/vertices": {"attributes": {"nonempty_chunks": ["1.0.0", "0.0.0"]}},
        "0/links/0": {"attributes": {"num_links": 4, "num_physical_records": 4}},
    }
    got = join_docs(old, new)
    assert got["0"]["attributes"]["zarr_vectors_level"] == {
        "vertex_count": 8,
        "arrays_present": ["v", "l"],
    }
    assert got["0/vertices"]["attributes"]["nonempty_chunks"] == ["0.0.0", "1.0.0"]
    assert got["0/links/0"]["attributes"] == {"num_links": 6, "num_physical_records": 6}
    tally = CellTally()
    world = np.array([[0, 0, 0], [1, 0, 0]])
    tally.add(world, np.array([4, 2]), np.array([1, 1]))
    tally.add(world[:1], np.array([3]), np.array([2]))
    rows, frags = tally.bases(np.array([[1, 0, 0], [0, 0, 0], [5, 5, 5]]))
    assert rows.tolist() == [2, 7, 0] and frags.tolist() == [1, 3, 0]

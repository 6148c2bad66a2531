"""What callers hand a backend, checked before storage is touched (zarr_vectors.storage.arguments).

Through a backend these are exercised by test_move_many.py and the kit; here the
rules themselves, on plain values.
"""

from __future__ import annotations

import re

import pytest

from zarr_vectors.exceptions import InvalidKeyError
from zarr_vectors.storage.arguments import batch_items, check_data, check_range, move_pairs


def test_ranges_start_at_zero_or_later_and_have_a_length_or_none() -> None:
    check_range(0, None)
    check_range(5, 0)
    for start, length in ((-1, None), (1.5, None), (0, -2), (0, 2.0), ("0", None)):
        with pytest.raises(InvalidKeyError, match="Range"):
            check_range(start, length)  # type: ignore[arg-type]


def test_batch_items_keep_the_last_value_of_a_key_and_refuse_what_is_not_bytes() -> None:
    items = batch_items([("a/1", b"x"), ("b", bytearray(b"y")), ("a/1", memoryview(b"z"))])
    assert items == [("a/1", b"z"), ("b", b"y")]
    assert all(type(data) is bytes for _, data in items)
    assert batch_items({"k": b"v"}) == [("k", b"v")]
    with pytest.raises(InvalidKeyError, match=r"bytes-like, got str\. Encode the value first"):
        batch_items([("k", "text")])  # type: ignore[list-item]
    with pytest.raises(InvalidKeyError):
        batch_items([("../escape", b"v")])
    with pytest.raises(InvalidKeyError, match="got int"):
        check_data(3)


def test_moves_are_once_each_and_independent_of_their_order() -> None:
    assert move_pairs([("a", "b"), ("c", "c"), ("d", "e")]) == [("a", "b"), ("d", "e")]
    assert move_pairs({"a": "b"}) == [("a", "b")]
    assert move_pairs([("a", "b"), ("a", "b")]) == [("a", "b")]  # the same move twice is one
    refused = {
        "both 'b' and 'c'": [("a", "b"), ("a", "c")],
        "two objects to 'c'": [("a", "c"), ("b", "c")],
        "'b' as both a source and a destination": [("a", "b"), ("b", "c")],
        "(source, destination) pairs": ["ab"],
    }
    for message, pairs in refused.items():
        with pytest.raises(InvalidKeyError, match=re.escape(message)):
            move_pairs(pairs)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError, match="pairs"):
        move_pairs([("a", "b", "c")])  # type: ignore[list-item]

"""Vertex input larger than memory turned into checked batches (``zarr_vectors.format.batches``).

Which inputs stream, arrays sliced (with their attributes) and read again from the
start, iterators read once, and every batch checked against the first's layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.batches import is_stream, vertex_stream

PTS = np.arange(30, dtype=np.float32).reshape(10, 3)


def test_what_streams() -> None:
    assert not is_stream(PTS, None)
    assert not is_stream(PTS, PTS.nbytes * 4)
    assert is_stream(PTS, PTS.nbytes * 4 - 1)  # four copies would not fit the budget
    assert is_stream(iter([PTS]), None)
    assert is_stream((p for p in [PTS]), None)
    assert not is_stream([[0.0, 1.0, 2.0]], None)  # a list is one array of points


def test_a_memory_map_is_read_in_slices_again_and_again(tmp_path: Path) -> None:
    mm = np.lib.format.open_memmap(tmp_path / "p.npy", "w+", np.float32, (25_000, 3))
    mm[:] = np.arange(75_000, dtype=np.float32).reshape(-1, 3)
    mm.flush()
    assert is_stream(mm, None)
    ids = np.arange(25_000)
    stream = vertex_stream(mm, {"id": ids}, None, memory_limit=1)  # the smallest slices
    assert stream.rereadable and stream.rows == 25_000
    for _ in range(2):
        got = list(stream.batches())
        assert [len(p) for p, _ in got] == [10_000, 10_000, 5_000]
        np.testing.assert_array_equal(np.concatenate([p for p, _ in got]), mm)
        np.testing.assert_array_equal(np.concatenate([a["id"] for _, a in got]), ids)
    assert stream.extent() == ([0.0, 1.0, 2.0], [74_997.0, 74_998.0, 74_999.0])


def test_an_iterator_is_read_once_with_each_batchs_attributes() -> None:
    def gen() -> Iterator[object]:
        yield PTS[:4], {"a": np.zeros(4, np.uint8)}
        yield PTS[4:], {"a": np.ones(6, np.int64)}  # fits the first batch's uint8

    stream = vertex_stream(gen(), None, None)
    assert not stream.rereadable and stream.rows is None
    assert stream.template.shape == (0, 3) and stream.attribute_templates["a"].dtype == np.uint8
    got = list(stream.batches())
    assert [len(p) for p, _ in got] == [4, 6] and got[1][1]["a"].dtype == np.uint8


def test_plain_batches_have_no_attributes() -> None:
    stream = vertex_stream(iter([PTS[:2], PTS[2:]]), None, np.float64)
    got = list(stream.batches())
    assert [p.dtype for p, _ in got] == [np.float64, np.float64] and got[0][1] == {}


@pytest.mark.parametrize(
    ("batches", "message"),
    [
        ([PTS, PTS[:, :2]], "a batch has 2 axes but the first had 3"),
        ([(PTS, {"a": np.zeros(10)}), PTS], r"a batch has attributes \[\] but the first had"),
        (
            [(PTS, {"a": np.zeros(10)}), (PTS, {"a": np.zeros((10, 2))})],
            r"attribute 'a' has rows of shape \[2\] in a batch but \[\] in the first",
        ),
    ],
)
def test_a_batch_unlike_the_first_is_refused(batches: list[object], message: str) -> None:
    stream = vertex_stream(iter(batches), None, None)
    with pytest.raises(ValidationError, match=message):
        list(stream.batches())


def test_what_cannot_stream_is_refused_up_front() -> None:
    with pytest.raises(ValidationError, match="the batches of points are empty"):
        vertex_stream(iter([]), None, None)
    with pytest.raises(ValidationError, match="the batches of points are empty"):
        vertex_stream(PTS[:0], None, None)  # an array of no rows makes no slices
    with pytest.raises(ValidationError, match="give each batch's attributes in the batch"):
        vertex_stream(iter([PTS]), {"a": np.zeros(10)}, None)
    with pytest.raises(ValidationError, match="attribute 'a' has 3 values but there are 10"):
        vertex_stream(PTS, {"a": np.zeros(3)}, None)


def test_no_points_have_no_extent() -> None:
    stream = vertex_stream(iter([PTS[:0], PTS[:0]]), None, None)
    with pytest.raises(ValidationError, match="cannot take bounds from zero points"):
        stream.extent()

"""What the point-file modules share: splitting columns, native copies, flat columns, reading."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError, ZarrVectorsError
from zarr_vectors.io.common import (
    Batch,
    PointReader,
    flat_columns,
    native,
    need,
    split_columns,
    unreadable,
)

HERE = Path("in.csv")


def test_positions_come_from_x_y_z_in_any_case_and_the_rest_are_attributes() -> None:
    columns = {
        "k": np.array([1, 2]),
        "Z": np.array([5.0, 6.0]),
        "x": np.array([1, 2], np.int32),
        "Y": np.array([3.0, 4.0], np.float32),
    }
    positions, attrs = split_columns(HERE, columns)
    np.testing.assert_array_equal(positions, [[1, 3, 5], [2, 4, 6]])
    assert positions.dtype == np.float64  # the common type of the three columns
    assert list(attrs) == ["k"]
    flat, _ = split_columns(HERE, {"x": np.zeros(2), "y": np.zeros(2)})
    assert flat.shape == (2, 2)


@pytest.mark.parametrize(
    ("columns", "needle"),
    [
        ({"x": np.zeros(1), "z": np.zeros(1)}, "needs columns named x and y"),
        ({"a": np.zeros(1)}, "found ['a']"),
        ({"x": np.array(["a"]), "y": np.array(["b"])}, "coordinates must be numeric, got <U1"),
    ],
)
def test_columns_without_numeric_x_and_y_are_refused_naming_the_file(
    columns: dict[str, np.ndarray], needle: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        split_columns(HERE, columns)
    assert str(caught.value).startswith("in.csv: ") and needle in str(caught.value)


def test_native_copies_into_native_byte_order() -> None:
    mapped = np.arange(3, dtype=">i4")
    got = native(mapped)
    assert got.dtype == np.dtype("=i4") and got.base is None
    np.testing.assert_array_equal(got, [0, 1, 2])


def test_flat_columns_name_the_axes_and_spread_vector_attributes() -> None:
    pos = np.zeros((2, 4))
    cols = flat_columns(pos, {"n": np.zeros((2, 2)), "k": np.zeros(2)})
    assert list(cols) == ["x", "y", "z", "axis3", "n_0", "n_1", "k"]


class _Parts(PointReader):
    def __init__(self, parts: list[Batch]) -> None:
        super().__init__(HERE, None, "test")
        self._parts = parts
        self.notes.append("a note")

    def batches(self, batch_points: int = 10) -> Iterator[Batch]:
        yield from self._parts


def test_read_concatenates_the_batches_with_their_attributes_and_notes() -> None:
    one = (np.zeros((2, 3)), {"k": np.array([1, 2])})
    two = (np.ones((1, 3)), {"k": np.array([3])})
    got = _Parts([one, two]).read()
    np.testing.assert_array_equal(got.positions, [[0, 0, 0], [0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(got.attributes["k"], [1, 2, 3])
    assert (got.notes, got.description) == (["a note"], "test")
    alone = _Parts([one]).read()
    assert alone.positions is one[0]  # one batch: no copy


def test_the_base_reader_has_no_batches_of_its_own() -> None:
    with pytest.raises(NotImplementedError):
        PointReader(HERE, 0, "").read()


def test_need_names_the_io_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "plyfile", None)
    with pytest.raises(ZarrVectorsError, match=r"reading \.ply files.*zarr-vectors-core\[io\]"):
        need("plyfile", "reading .ply files")
    assert need("numpy", "anything") is np


def test_unreadable_turns_a_library_error_into_one_line_naming_the_file() -> None:
    class HeaderError(Exception):
        pass

    with pytest.raises(ValidationError) as e, unreadable("/d/a.swc", "SWC", "fix line 2"):
        raise HeaderError("\x1b[1;31m/d/a.swc:2:error\x1b[0m\nno parent 5")
    assert str(e.value) == "/d/a.swc: not a readable SWC file (line 2: no parent 5); fix line 2"
    assert isinstance(e.value.__cause__, HeaderError)
    damaged = r"\(a count in it .* damaged\); check that it is"
    with pytest.raises(ValidationError, match=damaged), unreadable("a.trk", "TRK"):
        raise MemoryError
    ours = ValidationError("ours")
    with pytest.raises(ValidationError) as e, unreadable("a.trk", "TRK"):
        raise ours
    assert e.value is ours


def test_unreadable_takes_a_rust_panic_but_not_an_interrupt() -> None:
    class PanicException(BaseException):  # what pyo3 raises for a panic in lazrs
        pass

    panic = r"a\.laz: not a readable LAZ file \(boom\)"
    with pytest.raises(ValidationError, match=panic), unreadable("a.laz", "LAZ"):
        raise PanicException("boom")
    with pytest.raises(KeyboardInterrupt), unreadable("a.laz", "LAZ"):
        raise KeyboardInterrupt

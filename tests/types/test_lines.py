"""write_lines / read_lines: segments whole, across cells, with per-endpoint and per-line values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.types.lines import Lines, read_lines, write_lines

CS = (100.0, 100.0)
BOUNDS = ([0.0, 0.0], [1000.0, 1000.0])


def segments(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.uniform(50, 950, (n, 2))
    return np.clip(np.stack([a, a + rng.normal(0, 80, (n, 2))], axis=1), 0, 1000).astype(np.float32)


def test_lines_round_trip_across_cells(tmp_path: Path) -> None:
    ends = segments(300)
    w = np.random.default_rng(1).uniform(0, 1, (300, 2)).astype(np.float32)
    lid = np.arange(300) * 7
    s = write_lines(
        tmp_path / "s",
        ends,
        chunk_shape=CS,
        bounds=BOUNDS,
        vertex_attributes={"w": w},
        object_attributes={"line_id": lid},
    )
    assert s.line_count == 300
    got = read_lines(tmp_path / "s")
    assert isinstance(got, Lines) and len(got) == 300
    np.testing.assert_array_equal(got.endpoints, ends)
    np.testing.assert_array_equal(got["vertex_attributes"]["w"], w)
    np.testing.assert_array_equal(got.object_attributes["line_id"], lid)
    crossing = (np.floor(ends[:, 0] / 100) != np.floor(ends[:, 1] / 100)).any(axis=1)
    assert crossing.sum() > 50  # the data does cross cells


def test_box_and_id_reads(tmp_path: Path) -> None:
    ends = segments(200, 2)
    write_lines(tmp_path / "s", ends, chunk_shape=CS, bounds=BOUNDS)
    box = ([300.0, 300.0], [420.0, 420.0])
    inside = np.all((ends >= 300) & (ends <= 420), axis=2).any(axis=1)
    got = read_lines(tmp_path / "s", bbox=box)
    np.testing.assert_array_equal(got.object_ids, np.flatnonzero(inside))
    np.testing.assert_array_equal(got.endpoints, ends[inside])
    got = read_lines(tmp_path / "s", object_ids=[5, 1])
    np.testing.assert_array_equal(got.endpoints, ends[[1, 5]])


def test_append_lines(tmp_path: Path) -> None:
    a, b = segments(20, 3), segments(10, 4)
    write_lines(tmp_path / "s", a, chunk_shape=CS, bounds=BOUNDS)
    write_lines(tmp_path / "s", b, object_ids=np.arange(20, 30), mode="a")
    np.testing.assert_array_equal(read_lines(tmp_path / "s").endpoints, np.concatenate([a, b]))


def test_lines_written_and_appended_from_batches(tmp_path: Path) -> None:
    a, b = segments(30, 5), segments(20, 6)
    w = np.arange(50.0)
    first = (a[i : i + 10] for i in range(0, 30, 10))  # ids numbered on: 0..29
    done = write_lines(tmp_path / "s", first, chunk_shape=CS, bounds=BOUNDS)
    assert done.line_count == 30
    more = iter(
        [
            {"endpoints": b[:12], "object_ids": range(30, 42), "object_attributes": {"w": w[:12]}},
            {
                "endpoints": b[12:],
                "object_ids": range(42, 50),
                "object_attributes": {"w": w[12:20]},
            },
        ]
    )
    with pytest.raises(ValidationError, match="attributes"):  # the store has no "w"
        write_lines(tmp_path / "s", more, mode="a")
    added = write_lines(
        tmp_path / "s", iter([{"endpoints": b, "object_ids": range(30, 50)}]), mode="a"
    )
    assert added.line_count == 20
    got = read_lines(tmp_path / "s")
    np.testing.assert_array_equal(got.endpoints, np.concatenate([a, b]))
    assert got.object_ids.tolist() == list(range(50))
    with pytest.raises(ValidationError, match="batch dict needs 'endpoints'"):
        write_lines(tmp_path / "t", iter([{"lines": a}]), chunk_shape=CS, bounds=BOUNDS)


@pytest.mark.parametrize(
    ("endpoints", "kw", "match"),
    [
        (np.zeros((3, 3, 2)), {}, r"\(N, 2, D\)"),
        (np.full((2, 2, 2), np.nan), {}, "NaN"),
        (np.ones((2, 2, 2)), {"vertex_attributes": {"w": np.zeros(2)}}, "shape"),
        (np.ones((2, 2, 2)), {"object_attributes": {"w": np.zeros(3)}}, "3 values"),
        (np.ones((2, 2, 2)), {"object_ids": [1, 1]}, "repeat"),
    ],
)
def test_bad_lines_are_refused_before_writing(
    tmp_path: Path, endpoints: np.ndarray, kw: dict, match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        write_lines(tmp_path / "s", endpoints, chunk_shape=CS, bounds=BOUNDS, **kw)
    assert not (tmp_path / "s").exists()

"""A cell's bytes are bound to its key: swapped or misplaced cell files are CorruptStoreError.

The crc32c checksum covers a cell's bytes but not which cell they belong to;
the points do: each lies in the cell its key names. Real files swapped on disk,
then read (whole, by box) and verified.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError, ValidationError
from zarr_vectors.format.validate import check_in_cell, first_misplaced
from zarr_vectors.store import verify_store
from zarr_vectors.types.points import read_points, write_points

CS = (200.0, 200.0, 200.0)
POINTS = np.random.default_rng(5).uniform(0, 1000, (20_000, 3)).astype(np.float32)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.zv"
    write_points(path, POINTS, chunk_shape=CS, bounds=((0, 0, 0), (1000, 1000, 1000)))
    return path


def _swap(a: Path, b: Path) -> None:
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)


def test_swapped_cells_fail_reads_and_verify(store: Path) -> None:
    _swap(store / "0/vertices/c/0/0/1", store / "0/vertices/c/0/0/2")
    with pytest.raises(CorruptStoreError, match="another cell's bytes"):
        read_points(store, bbox=((10, 10, 210), (190, 190, 390)))
    with pytest.raises(CorruptStoreError, match="0/vertices/c/0/0/"):
        read_points(store)
    report = verify_store(store)
    assert not report.ok
    assert any("another cell's bytes" in p.what for p in report.errors)


def test_a_cell_copied_over_another_fails(store: Path) -> None:
    shutil.copyfile(store / "0/vertices/c/1/1/1", store / "0/vertices/c/2/1/1")
    with pytest.raises(CorruptStoreError, match="outside the cell"):
        read_points(store, bbox=((410, 210, 210), (590, 390, 390)))
    assert not verify_store(store).ok


def test_an_intact_store_reads_and_verifies(store: Path) -> None:
    assert len(read_points(store).positions) == len(POINTS)
    assert verify_store(store).ok


def test_points_on_cell_boundaries_are_in_their_cell() -> None:
    edge = np.array([[200.0, 0.0, 399.99997]], dtype=np.float32)
    assert check_in_cell(edge, (1, 0, 1), CS) is None
    assert check_in_cell(edge, (0, 0, 1), CS) is None  # 200.0 on the boundary: either side
    assert check_in_cell(edge + 1, (0, 0, 1), CS) is not None  # 201.0 is in cell 1 only
    assert check_in_cell(np.empty((0, 3), np.float32), (0, 0, 0), CS) is None


def test_the_batch_check_finds_the_same_cells_as_the_one_cell_check() -> None:
    """``first_misplaced`` is ``check_in_cell`` over many cells at once: the same verdicts."""
    rng = np.random.default_rng(3)
    cells = []
    for _ in range(40):
        world = tuple(int(v) for v in rng.integers(-3, 4, 3))
        pts = (rng.uniform(0, 1, (5, 3)) + world) * CS[0]
        cells.append((world, pts.astype(np.float32)))
    cells.insert(7, ((0, 0, 0), np.empty((0, 3), np.float32)))  # an empty cell is skipped
    cells.append(((2, 2, 2), np.full((1, 3), 450.0, np.float32)))  # a cell of one point
    assert first_misplaced(cells, CS) is None
    for wrong in (3, 7 + 1, 40, 41):
        moved = list(cells)
        world, pts = moved[wrong]
        moved[wrong] = ((world[0] + 1, world[1], world[2]), pts)
        assert check_in_cell(moved[wrong][1], moved[wrong][0], CS) is not None
        assert first_misplaced(moved, CS) == wrong
    assert first_misplaced([], CS) is None


def test_integer_positions_beyond_float32_are_refused(tmp_path: Path) -> None:
    big = (np.arange(30).reshape(10, 3) + 2**24 + 1).astype(np.int64)
    with pytest.raises(ValidationError, match=r"dtype=np\.float64"):
        write_points(tmp_path / "big.zv", big, chunk_shape=(1e6,) * 3)
    assert not (tmp_path / "big.zv").exists()
    write_points(tmp_path / "big.zv", big, chunk_shape=(1e6,) * 3, dtype=np.float64)
    got = read_points(tmp_path / "big.zv").positions
    assert sorted(got[:, 0].astype(np.int64).tolist()) == sorted(big[:, 0].tolist())
    small = np.arange(30).reshape(10, 3).astype(np.int64)  # exact in float32: still accepted
    write_points(tmp_path / "small.zv", small, chunk_shape=(10.0,) * 3)


def test_chunk_shape_as_a_string_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not the string '555'"):
        write_points(tmp_path / "cs.zv", POINTS, chunk_shape="555")  # type: ignore[arg-type]
    assert not (tmp_path / "cs.zv").exists()

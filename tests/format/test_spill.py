"""Writes from input larger than memory: memory maps, iterators of batches, Dask arrays.

Each streamed store must equal, point for point and attribute for attribute,
the store written from the same points in memory; a subprocess shows the rows
held at once stay bounded by ``memory_limit``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.types.points import read_points, write_points

RNG = np.random.default_rng(1)
POINTS = RNG.uniform(-500, 1000, (200_000, 3)).astype(np.float32)
IDS = np.arange(len(POINTS))
#: Cells of 250 over a 1500-wide box: 216 cells, so each streamed cell gathers rows from
#: several batches and partitions, at a fifteenth of the files of cells of 100.
CS = (250.0, 250.0, 250.0)


def rows(path: Path, level: int = 0) -> np.ndarray:
    cloud = read_points(path, level=level)
    table = np.column_stack(
        [cloud.positions.astype(np.float64)]
        + ([cloud.vertex_attributes["id"]] if "id" in cloud.vertex_attributes else [])
    )
    return table[np.lexsort(table.T[::-1])]


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "ref"
    write_points(path, POINTS, chunk_shape=CS, vertex_attributes={"id": IDS}, levels=3)
    return path


def test_a_memory_map_streams_to_the_same_store(tmp_path: Path, reference: Path) -> None:
    np.save(tmp_path / "p.npy", POINTS)
    mapped = np.load(tmp_path / "p.npy", mmap_mode="r")
    out = tmp_path / "mm"
    done = write_points(
        out, mapped, chunk_shape=CS, vertex_attributes={"id": IDS}, levels=3, memory_limit="20MB"
    )
    assert done.points_written == len(POINTS)
    for level in (0, 1, 2):
        np.testing.assert_allclose(rows(out, level), rows(reference, level), rtol=1e-6)
    assert not list(Path(tmp_path).glob("zarr-vectors-spill-*"))


def test_an_iterator_of_batches_streams_with_given_bounds(tmp_path: Path, reference: Path) -> None:
    def batches() -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        for start in range(0, len(POINTS), 30_000):
            yield POINTS[start : start + 30_000], {"id": IDS[start : start + 30_000]}

    out = tmp_path / "it"
    bounds = (POINTS.min(axis=0).tolist(), POINTS.max(axis=0).tolist())
    write_points(
        out,
        batches(),
        chunk_shape=CS,
        bounds=bounds,
        levels=3,
        memory_limit="20MB",
        spill_dir=str(tmp_path),
    )
    np.testing.assert_array_equal(rows(out), rows(reference))
    assert not list(tmp_path.glob("zarr-vectors-spill-*"))  # the spill is cleaned up


def test_a_dask_array_streams_block_by_block(tmp_path: Path, reference: Path) -> None:
    import dask.array as da

    out = tmp_path / "dk"
    write_points(
        out,
        da.from_array(POINTS, chunks=(45_000, 3)),
        chunk_shape=CS,
        vertex_attributes={"id": da.from_array(IDS, chunks=45_000)},
        levels=3,
    )
    np.testing.assert_array_equal(rows(out), rows(reference))


def test_streamed_batches_are_checked(tmp_path: Path) -> None:
    bounds = ((0, 0, 0), (1000, 1000, 1000))
    with pytest.raises(ValidationError, match="needs bounds"):
        write_points(tmp_path / "a", iter([POINTS[:10]]), chunk_shape=CS)
    with pytest.raises(ValidationError, match="same attributes"):
        write_points(
            tmp_path / "b",
            iter([(POINTS[:10], {"id": IDS[:10]}), (POINTS[10:20], {})]),
            chunk_shape=CS,
            bounds=((-500,) * 3, (1000,) * 3),
        )
    with pytest.raises(ValidationError, match="outside the bounds"):
        write_points(tmp_path / "c", iter([POINTS[:10] + 5000]), chunk_shape=CS, bounds=bounds)
    with pytest.raises(ValidationError, match="not supported"):
        write_points(tmp_path / "d", iter([POINTS[:10]]), mode="a")
    assert not (tmp_path / "a").exists() and not (tmp_path / "d").exists()


@pytest.mark.slow
def test_memory_stays_bounded_by_the_limit(tmp_path: Path) -> None:
    """6M points (72 MB) from a memory map with a 32 MB budget: the peak stays far below
    what holding them would take (the in-memory path peaks at several times the input)."""
    code = f"""
import resource, numpy as np
from zarr_vectors.types.points import write_points, read_points
n = 6_000_000
big = {str(tmp_path / "big.npy")!r}
mm = np.lib.format.open_memmap(big, mode="w+", dtype=np.float32, shape=(n, 3))
rng = np.random.default_rng(0)
for s in range(0, n, 1_000_000):
    mm[s:s + 1_000_000] = rng.uniform(0, 1000, (1_000_000, 3))
mm.flush(); del mm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mapped = np.load(big, mmap_mode="r")
write_points({str(tmp_path / "s")!r}, mapped, chunk_shape=(100.0,) * 3, memory_limit="32MB")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, peak)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    before_kb, peak_kb = (int(v) for v in done.stdout.split())
    # Page-cache pages of the memory map count in RSS while mapped; the rows the
    # writer holds must stay well under the 72 MB of input on top of that.
    assert (peak_kb - before_kb) / 1024 < 72 + 150, (before_kb, peak_kb)
    assert read_points(tmp_path / "s").vertex_count == 6_000_000


@pytest.mark.parametrize("block", [1, 4])
def test_spill_partitions_hold_whole_cells_in_input_order(block: int) -> None:
    """Every row comes back exactly once, each cell whole in one partition, in input order.

    A 2 MiB budget for 300,000 rows (20 bytes each) packed into few cells makes
    partitions larger than the budget, so loading splits them again by other
    hashes (depth 1 and beyond): the same must hold through the splits.
    """
    from zarr_vectors.format.spill import SpillPartitions

    rng = np.random.default_rng(block)
    n = 300_000
    pos = rng.uniform(-150, 250, (n, 3)).astype(np.float32)
    ids = np.arange(n, dtype=np.int64)
    cell = np.array([50.0, 50.0, 50.0])
    with SpillPartitions(
        ndim=3,
        dtype=np.dtype(np.float32),
        attributes={"id": (np.dtype(np.int64), ())},
        cell_size=cell,
        block=block,
        budget=2 << 20,
        expected_rows=n // 10,  # too few partitions on purpose: they must split
    ) as spill:
        for lo in range(0, n, 70_000):
            spill.add(pos[lo : lo + 70_000], {"id": ids[lo : lo + 70_000]})
        seen: dict[tuple[int, ...], int] = {}
        got = []
        for index, (p, attrs) in enumerate(spill.partitions()):
            np.testing.assert_array_equal(p, pos[attrs["id"]])  # rows stay whole
            cells = np.floor(p.astype(np.float64) / cell).astype(np.int64)
            for key in {tuple(c) for c in cells.tolist()}:
                assert seen.setdefault(key, index) == index, f"cell {key} split over partitions"
            for key in {tuple(c) for c in cells.tolist()}:
                mine = attrs["id"][np.all(cells == key, axis=1)]
                assert np.all(np.diff(mine) > 0), f"cell {key} lost its input order"
            got.append(attrs["id"])
        assert len(got) > spill.count  # some partitions were split on loading
    np.testing.assert_array_equal(np.sort(np.concatenate(got)), ids)

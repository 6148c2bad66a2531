"""Grouping points into cells (``zarr_vectors.format.grid``) against a plain reference.

The reference computes each point's world cell with the same float64
arithmetic (``floor(float64(x) / c)``), collects input indices per cell in a
dict (so input order is kept by construction) and lists the cells in
lexicographic order. ``group_by_cell`` must give exactly the same ``order``,
``world`` and ``starts`` whatever internal path it takes (count table with or
without dense renumbering, ``np.unique`` for sparse grids, lexicographic sort
for grids whose flat index overflows; one radix call, two radix levels or
16-bit digit passes for the placement).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format import grid
from zarr_vectors.format.grid import CellGroups, group_by_cell, stable_order


def reference(positions: npt.NDArray[Any], cell: Sequence[float]) -> CellGroups:
    """Cells per point one by one, indices collected in input order, cells sorted."""
    cs = np.asarray(cell, dtype=np.float64)
    members: dict[tuple[int, ...], list[int]] = {}
    for i, row in enumerate(positions.astype(np.float64)):
        key = tuple(int(v) for v in np.floor(row / cs))
        members.setdefault(key, []).append(i)
    keys = sorted(members)
    order = [i for k in keys for i in members[k]]
    starts = np.cumsum([0, *(len(members[k]) for k in keys)])
    d = positions.shape[1]
    return CellGroups(
        given_order=np.asarray(order, dtype=np.intp),
        world=np.asarray(keys, dtype=np.int64).reshape(-1, d),
        starts=np.asarray(starts, dtype=np.int64),
    )


def assert_same(got: CellGroups, want: CellGroups) -> None:
    assert got.order.dtype == np.intp
    assert got.world.dtype == np.int64
    assert got.starts.dtype == np.int64
    np.testing.assert_array_equal(got.world, want.world)
    np.testing.assert_array_equal(got.starts, want.starts)
    np.testing.assert_array_equal(got.order, want.order)
    assert len(got) == len(want)
    np.testing.assert_array_equal(got.counts, want.counts)


def cloud(n: int, d: int, lo: float, hi: float, seed: int = 0) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).uniform(lo, hi, (n, d)).astype(np.float32)


@pytest.mark.parametrize(
    ("d", "lo", "hi", "cell"),
    [
        (3, 0.0, 1000.0, 200.0),  # 125 cells: one 8-bit radix call
        (3, 0.0, 1000.0, 20.0),  # up to 125,000 cells: two radix levels
        (3, 0.0, 1000.0, 90.0),  # 1,331 cells: one 16-bit radix call
        (3, -1000.0, 1000.0, 130.0),  # negative coordinates
        (2, -500.0, 500.0, 50.0),
        (2, -3.5, 7.25, 0.5),
        (1, -100.0, 100.0, 7.0),
        (1, 0.0, 1.0, 1e-4),  # 10,000 cells in 1-D
    ],
)
def test_matches_reference(d: int, lo: float, hi: float, cell: float) -> None:
    pos = cloud(20_000, d, lo, hi, seed=d)
    assert_same(group_by_cell(pos, [cell] * d), reference(pos, [cell] * d))


def test_uneven_cell_shape_and_bin_shape() -> None:
    pos = cloud(5_000, 3, -50.0, 950.0, seed=3)
    assert_same(group_by_cell(pos, [100.0, 37.5, 250.0]), reference(pos, [100.0, 37.5, 250.0]))
    # bin_shape overrides chunk_shape (coarsening bins several chunks together)
    got = group_by_cell(pos, [100.0] * 3, [400.0, 400.0, 200.0])
    assert_same(got, reference(pos, [400.0, 400.0, 200.0]))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_empty_input(d: int) -> None:
    got = group_by_cell(np.empty((0, d), np.float32), [10.0] * d)
    assert got.order.shape == (0,)
    assert got.world.shape == (0, d)
    np.testing.assert_array_equal(got.starts, [0])
    assert len(got) == 0


def test_single_point() -> None:
    got = group_by_cell(np.array([[-0.5, 3.0]], np.float32), [1.0, 1.0])
    np.testing.assert_array_equal(got.world, [[-1, 3]])
    np.testing.assert_array_equal(got.starts, [0, 1])
    np.testing.assert_array_equal(got.order, [0])


def test_points_on_cell_borders() -> None:
    """A coordinate equal to a multiple of the cell size belongs to the cell it starts."""
    cell = 200.0
    edges = np.array([-400.0, -200.0, -0.0, 0.0, 200.0, 400.0, 1000.0], np.float32)
    pos = np.stack(np.meshgrid(edges, edges, edges, indexing="ij"), axis=-1).reshape(-1, 3)
    got = group_by_cell(pos, [cell] * 3)
    assert_same(got, reference(pos, [cell] * 3))
    # -0.0 and 0.0 share cell 0; 1000 starts cell 5; -200 starts cell -1
    assert {tuple(w) for w in got.world.tolist()} == {
        (a, b, c)
        for a in (-2, -1, 0, 1, 2, 5)
        for b in (-2, -1, 0, 1, 2, 5)
        for c in (-2, -1, 0, 1, 2, 5)
    }
    # just below a border stays in the lower cell
    below = np.nextafter(np.float32(200.0), np.float32(0.0))
    got = group_by_cell(np.array([[below], [200.0]], np.float32), [cell])
    np.testing.assert_array_equal(got.world, [[0], [1]])


def test_stable_within_cells() -> None:
    """Rows of one cell keep input order: what appends rely on (old rows first)."""
    rng = np.random.default_rng(7)
    old = rng.uniform(0, 1000, (3_000, 3)).astype(np.float32)
    new = rng.uniform(0, 1000, (2_000, 3)).astype(np.float32)
    pos = np.concatenate([old, new])
    for cell in (200.0, 20.0, 333.0):
        got = group_by_cell(pos, [cell] * 3)
        for s, e in zip(got.starts[:-1].tolist(), got.starts[1:].tolist(), strict=True):
            run = got.order[s:e]
            assert np.all(np.diff(run) > 0), "rows of a cell must stay in input order"
            # every old row of the cell precedes every new row
            is_new = run >= len(old)
            assert not np.any(is_new[:-1] & ~is_new[1:])
        assert sorted(got.order.tolist()) == list(range(len(pos)))


def test_duplicates_and_one_cell() -> None:
    pos = np.tile(np.array([[5.0, 5.0, 5.0]], np.float32), (1_000, 1))
    got = group_by_cell(pos, [10.0] * 3)
    np.testing.assert_array_equal(got.order, np.arange(1_000))
    np.testing.assert_array_equal(got.world, [[0, 0, 0]])
    np.testing.assert_array_equal(got.starts, [0, 1_000])


def test_dense_renumbering_of_a_mostly_empty_box() -> None:
    """Two far-apart clusters: the box has ~10^6 cells, a few hundred are occupied."""
    rng = np.random.default_rng(11)
    a = rng.uniform(0, 50, (4_000, 3))
    b = rng.uniform(4_900, 4_950, (4_000, 3))
    pos = np.concatenate([a, b]).astype(np.float32)
    assert_same(group_by_cell(pos, [50.0] * 3), reference(pos, [50.0] * 3))
    assert_same(group_by_cell(pos, [5.0] * 3), reference(pos, [5.0] * 3))


def test_sparse_grid_without_count_table() -> None:
    """1e9 cells in the box, 3,000 points: occupied cells are found by np.unique."""
    pos = cloud(3_000, 3, 0.0, 1000.0, seed=5)
    assert max(grid.TABLE_LIMIT, len(pos)) < 1000**3
    assert_same(group_by_cell(pos, [1.0] * 3), reference(pos, [1.0] * 3))


def test_count_table_limit_forced_low(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same grouping whichever side of the count-table limit a grid falls."""
    pos = cloud(20_000, 3, -1000.0, 1000.0, seed=9)
    want = reference(pos, [20.0] * 3)
    assert_same(group_by_cell(pos, [20.0] * 3), want)
    monkeypatch.setattr(grid, "TABLE_LIMIT", 16)
    assert_same(group_by_cell(pos, [20.0] * 3), want)


def test_flat_index_overflow_falls_back_to_axis_sort() -> None:
    """A grid of more than 2**62 cells: per-axis lexicographic grouping."""
    pos = np.array(
        [[1e12, -1e12, 3.0], [-1e12, 1e12, 3.0], [1e12, -1e12, 3.0], [0.0, 0.0, 0.0]],
        np.float64,
    )
    got = group_by_cell(pos, [1e-3] * 3)
    assert_same(got, reference(pos, [1e-3] * 3))
    np.testing.assert_array_equal(got.counts, [1, 1, 2])


@pytest.mark.parametrize(
    "n_values", [2, 256, 257, 65_536, 65_537, 1 << 20, 1 << 24, (1 << 24) + 1, 1 << 40]
)
def test_stable_order_every_width(n_values: int) -> None:
    rng = np.random.default_rng(n_values % 1000)
    keys = rng.integers(0, n_values, 50_000, dtype=np.uint64)
    keys[:100] = n_values - 1  # the widest key is present
    want = np.argsort(keys, kind="stable")
    dtype = np.uint32 if n_values <= 1 << 32 else np.int64
    got = stable_order(keys.astype(dtype), n_values)
    np.testing.assert_array_equal(got, want)


def test_non_finite_positions_are_refused() -> None:
    pos = cloud(100, 3, 0.0, 10.0)
    pos[17, 1] = np.nan
    with pytest.raises(ValidationError, match="NaN or infinite"):
        group_by_cell(pos, [1.0] * 3)
    pos[17, 1] = np.inf
    with pytest.raises(ValidationError, match="NaN or infinite"):
        group_by_cell(pos, [1.0] * 3)


def test_wrong_rank_is_refused() -> None:
    with pytest.raises(ValidationError, match="2-D"):
        group_by_cell(np.zeros(5, np.float32), [1.0])


@settings(max_examples=60, deadline=None)
@given(
    d=st.integers(1, 3),
    n=st.integers(0, 400),
    cell=st.sampled_from([0.25, 1.0, 3.0, 17.5, 100.0]),
    scale=st.sampled_from([1.0, 10.0, 1000.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_matches_reference(d: int, n: int, cell: float, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pos = (rng.normal(0.0, scale, (n, d))).astype(np.float32)
    # snap some points onto cell borders
    k = n // 4
    pos[:k] = np.round(pos[:k] / cell) * cell
    assert_same(group_by_cell(pos, [cell] * d), reference(pos, [cell] * d))


def test_gather_rows_split_over_threads_equals_take() -> None:
    from zarr_vectors.format.grid import GATHER_SPLIT, gather_rows

    rng = np.random.default_rng(5)
    n = GATHER_SPLIT + 12_345
    order = rng.permutation(n)
    rows = rng.random((n, 3), dtype=np.float32)
    np.testing.assert_array_equal(gather_rows(rows, order), np.take(rows, order, axis=0))
    column = np.arange(n, dtype=np.int64)
    np.testing.assert_array_equal(gather_rows(column, order), order)


@pytest.mark.parametrize("cells_per_axis", [1, 4, 20, 50], ids=lambda c: f"{c**3}-cells")
@pytest.mark.parametrize("block", [1_000, 1 << 18], ids=["small-blocks", "default-blocks"])
def test_sort_rows_equals_taking_by_order(
    cells_per_axis: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block-wise scatter is exactly ``values[order]``, for every row layout.

    Small blocks make many blocks and the split over several threads (each part
    starting from the counts of the parts before it); 125,000 cells take the
    ``order`` path, up to 65,536 the scatter (run copies up to 256 cells).
    """
    from zarr_vectors.format import grid

    monkeypatch.setattr(grid, "SCATTER_BLOCK", block)
    rng = np.random.default_rng(cells_per_axis)
    n = 40_000
    pos = rng.random((n, 3), dtype=np.float32) * 100
    groups = group_by_cell(pos, [100 / cells_per_axis] * 3)
    assert (groups.cell_of_row is not None) == (len(groups) <= grid.SCATTER_CELLS)
    columns = [
        pos,
        np.arange(n, dtype=np.int64),
        rng.integers(-100, 100, n).astype(np.int8),
        rng.random((n, 2, 2)),
        rng.random(n) < 0.5,
        pos[:, ::2],  # not contiguous: through the order
        np.empty((n, 0), np.float32),  # zero-width rows
    ]
    for values in columns:
        got = groups.sort_rows(values)
        want = np.take(values, groups.order, axis=0)
        assert got.dtype == values.dtype and got.shape == values.shape
        np.testing.assert_array_equal(got, want)

"""write_points / read_points: round trips, modes, bad input, interrupted writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr.storage
from hypothesis import given, settings
from hypothesis import strategies as st
from zarr.storage import WrapperStore

from tests.helpers.leases import let_lease_run_out
from zarr_vectors.exceptions import StoreError, StoreExistsError, ValidationError
from zarr_vectors.types.points import read_points, write_points

CS = (200.0, 200.0, 200.0)


def as_set(*columns: np.ndarray) -> np.ndarray:
    table = np.column_stack([np.asarray(c, np.float64).reshape(len(c), -1) for c in columns])
    return table[np.lexsort(table.T[::-1])]


@pytest.fixture
def cloud() -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1000, (3000, 3)).astype(np.float32)


def test_memory_store_with_bounds_from_data(cloud: np.ndarray) -> None:
    store = zarr.storage.MemoryStore()
    write_points(store, cloud, chunk_shape=CS)
    got = read_points(store)
    assert got.vertex_count == len(cloud)
    np.testing.assert_array_equal(as_set(got.positions), as_set(cloud))
    root = json.loads(store._store_dict["zarr.json"].to_bytes())
    lo, hi = root["attributes"]["zarr_vectors"]["bounds"]
    assert lo == cloud.min(axis=0).astype(float).tolist()
    assert hi == cloud.max(axis=0).astype(float).tolist()


def test_local_round_trip_with_attributes_and_float64(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pos = rng.uniform(-300, 300, (2000, 3))
    attrs = {
        "intensity": rng.random(2000).astype(np.float32),
        "label": rng.integers(0, 9, 2000).astype(np.int16),
        "normal": rng.random((2000, 3)),
        "flag": rng.random(2000) > 0.5,
    }
    write_points(str(tmp_path / "s"), pos, chunk_shape=(100.0,) * 3, vertex_attributes=attrs)
    got = read_points(tmp_path / "s")
    assert got.positions.dtype == np.float64
    assert {n: a.dtype for n, a in got.vertex_attributes.items()} == {
        n: a.dtype for n, a in attrs.items()
    }
    assert got.vertex_attributes["normal"].shape == (2000, 3)
    np.testing.assert_array_equal(
        as_set(got.positions, *(got.vertex_attributes[n] for n in sorted(attrs))),
        as_set(pos, *(attrs[n] for n in sorted(attrs))),
    )
    only = read_points(tmp_path / "s", attribute_names=["label"])
    assert list(only.vertex_attributes) == ["label"]
    assert read_points(tmp_path / "s", attribute_names=[]).vertex_attributes == {}
    with pytest.raises(ValidationError, match="nope"):
        read_points(tmp_path / "s", attribute_names=["nope"])


def test_bbox_is_closed_and_exact(cloud: np.ndarray) -> None:
    store = zarr.storage.MemoryStore()
    write_points(store, cloud, chunk_shape=CS)
    p = cloud[17].astype(np.float64)
    box = (p.tolist(), (p + 250).tolist())  # a stored point on the lower corner
    got = read_points(store, bbox=box)
    inside = np.all((cloud >= box[0]) & (cloud <= box[1]), axis=1)
    assert inside[17]
    np.testing.assert_array_equal(as_set(got.positions), as_set(cloud[inside]))
    assert read_points(store, bbox=((2000,) * 3, (3000,) * 3)).vertex_count == 0


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 300),
    ndim=st.integers(1, 4),
    chunk=st.floats(0.5, 50.0),
    offset=st.floats(-100.0, 100.0),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(n: int, ndim: int, chunk: float, offset: float, seed: int) -> None:
    pos = (np.random.default_rng(seed).normal(0, 30, (n, ndim)) + offset).astype(np.float32)
    store = zarr.storage.MemoryStore()
    write_points(store, pos, chunk_shape=(chunk,) * ndim, vertex_attributes={"i": np.arange(n)})
    got = read_points(store)
    np.testing.assert_array_equal(
        as_set(got.positions, got.vertex_attributes["i"]), as_set(pos, np.arange(n))
    )


def test_second_level_is_one_centroid_per_double_cell(cloud: np.ndarray) -> None:
    store = zarr.storage.MemoryStore()
    write_points(store, cloud, chunk_shape=(250.0,) * 3, bounds=((0,) * 3, (1000,) * 3), levels=3)
    l1 = read_points(store, level=1).positions
    assert len(l1) == 8  # 2x2x2 bins of 500
    bins = np.floor(cloud / 500.0).astype(int)
    expected = [
        cloud[(bins == b).all(axis=1)].astype(np.float64).mean(axis=0)
        for b in np.unique(bins, axis=0)
    ]
    np.testing.assert_allclose(as_set(l1), as_set(np.array(expected)), rtol=1e-6)
    assert read_points(store, level=2).vertex_count == 1
    with pytest.raises(ValidationError, match="levels 0, 1, 2"):
        read_points(store, level=3)


# -- modes -----------------------------------------------------------------
def test_default_mode_refuses_an_existing_store(tmp_path: Path, cloud: np.ndarray) -> None:
    write_points(tmp_path / "s", cloud, chunk_shape=CS)
    with pytest.raises(StoreExistsError, match="mode='w'"):
        write_points(tmp_path / "s", cloud[:10], chunk_shape=CS)
    assert read_points(tmp_path / "s").vertex_count == len(cloud)


def test_default_mode_refuses_foreign_data(tmp_path: Path, cloud: np.ndarray) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "precious.txt").write_text("keep me")
    with pytest.raises(StoreExistsError, match="not a Zarr Vectors store"):
        write_points(tmp_path / "s", cloud, chunk_shape=CS)
    assert (tmp_path / "s" / "precious.txt").read_text() == "keep me"


def test_mode_w_replaces_everything(tmp_path: Path, cloud: np.ndarray) -> None:
    write_points(
        tmp_path / "s", cloud, chunk_shape=CS, vertex_attributes={"a": np.arange(len(cloud))}
    )
    small = cloud[:5] * 0.1
    write_points(tmp_path / "s", small, chunk_shape=(50.0,) * 3, mode="w")
    got = read_points(tmp_path / "s")
    np.testing.assert_array_equal(as_set(got.positions), as_set(small))
    assert got.vertex_attributes == {}
    assert not [p for p in (tmp_path / "s" / "0").rglob("*") if p.is_file() and "attrib" in str(p)]


def test_mode_a_appends_and_every_point_reads_back(tmp_path: Path, cloud: np.ndarray) -> None:
    attrs = {"id": np.arange(len(cloud), dtype=np.int64)}
    half = len(cloud) // 2
    write_points(
        tmp_path / "s",
        cloud[:half],
        chunk_shape=CS,
        bounds=((0,) * 3, (1000,) * 3),
        vertex_attributes={"id": attrs["id"][:half]},
    )
    res = write_points(
        tmp_path / "s", cloud[half:], mode="a", vertex_attributes={"id": attrs["id"][half:]}
    )
    assert res.vertex_count == len(cloud)
    got = read_points(tmp_path / "s")
    np.testing.assert_array_equal(
        as_set(got.positions, got.vertex_attributes["id"]), as_set(cloud, attrs["id"])
    )
    level = json.loads((tmp_path / "s" / "0" / "zarr.json").read_text())
    assert level["attributes"]["zarr_vectors_level"]["vertex_count"] == len(cloud)


def test_mode_a_on_a_missing_store_creates_it(tmp_path: Path, cloud: np.ndarray) -> None:
    write_points(tmp_path / "s", cloud, chunk_shape=CS, mode="a")
    assert read_points(tmp_path / "s").vertex_count == len(cloud)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vertex_attributes": {"other": np.arange(10)}}, "same attributes"),
        ({"chunk_shape": (100.0,) * 3}, "differs from the store"),
        ({"positions": np.full((10, 3), 5000.0)}, "10 of 10 points lie outside"),
        ({"positions": np.ones((10, 2))}, "3 axes"),
    ],
)
def test_mode_a_rejects_what_would_mix(
    tmp_path: Path, cloud: np.ndarray, kwargs: dict[str, Any], match: str
) -> None:
    write_points(
        tmp_path / "s", cloud, chunk_shape=CS, vertex_attributes={"a": np.zeros(len(cloud))}
    )
    before = sorted((p, p.read_bytes()) for p in (tmp_path / "s").rglob("*") if p.is_file())
    pos = kwargs.pop("positions", cloud[:10])
    kwargs.setdefault("vertex_attributes", {"a": np.zeros(len(pos))})
    with pytest.raises(ValidationError, match=match):
        write_points(tmp_path / "s", pos, mode="a", **kwargs)
    assert sorted((p, p.read_bytes()) for p in (tmp_path / "s").rglob("*") if p.is_file()) == before
    assert read_points(tmp_path / "s").vertex_count == len(cloud)


# -- bad input is refused before anything is written -------------------------
@pytest.mark.parametrize(
    ("positions", "kwargs", "match"),
    [
        (np.zeros(30), {}, "2-D"),
        (np.zeros((2, 3, 3)), {}, "2-D"),
        (np.array([[1.0, np.nan, 2.0], [1, 2, 3]]), {}, "1 of 2 points have NaN"),
        (np.array([[1.0, np.inf, 2.0]]), {}, "NaN or infinite"),
        (
            np.ones((5, 3)),
            {"vertex_attributes": {"a": np.ones(4)}},
            "'a' has 4 values but there are 5",
        ),
        (np.ones((5, 3)), {"chunk_shape": (0.0, 1.0, 1.0)}, "positive"),
        (np.ones((5, 3)), {"chunk_shape": (-5.0, 1.0, 1.0)}, "positive"),
        (np.ones((5, 3)), {"chunk_shape": (1.0, 1.0)}, "2 values but the points have 3"),
        (np.ones((5, 3)), {"chunk_shape": None}, "chunk_shape is required"),
        (np.ones((5, 3)) * 50, {"bounds": ((0,) * 3, (10,) * 3)}, "5 of 5 points lie outside"),
        (np.ones((5, 3)), {"bounds": ((0,) * 3, (10,) * 2)}, "bounds"),
        (np.ones((5, 3)), {"mode": "x"}, "mode must be"),
        (np.ones((5, 3)), {"levels": 0}, "levels"),
        (np.ones((5, 3)), {"compressor": "lz77"}, "compressor"),
        (np.ones((5, 3)), {"vertex_attributes": {"a/b": np.ones(5)}}, "attribute name"),
        (np.array([["a", "b", "c"]]), {}, "numeric"),
    ],
)
def test_bad_input_raises_before_writing(
    tmp_path: Path, positions: np.ndarray, kwargs: dict[str, Any], match: str
) -> None:
    kwargs.setdefault("chunk_shape", (1.0, 1.0, 1.0))
    if kwargs["chunk_shape"] is None:
        del kwargs["chunk_shape"]
    with pytest.raises(ValidationError, match=match):
        write_points(tmp_path / "s", positions, **kwargs)
    assert not (tmp_path / "s").exists()


def test_out_of_bounds_message_says_how_to_widen(tmp_path: Path) -> None:
    pos = np.array([[0.0, 0.0], [5.0, 5.0], [12.0, -3.0]])
    with pytest.raises(ValidationError) as err:
        write_points(tmp_path / "s", pos, chunk_shape=(1.0, 1.0), bounds=((0, 0), (10, 10)))
    msg = str(err.value)
    assert "1 of 3 points" in msg
    assert "bounds=([0.0, -3.0], [12.0, 10.0])" in msg


def test_reading_a_missing_store_is_an_error_not_empty(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no Zarr Vectors store"):
        read_points(tmp_path / "nothing-here")


# -- interrupted writes --------------------------------------------------------
class FailingStore(WrapperStore[Any]):
    """Passes calls through; ``set`` raises once ``fail_after`` more sets have succeeded."""

    fail_after: int | None = None
    puts = 0

    async def set(self, key: str, value: Any) -> None:
        self.puts += 1
        if self.fail_after is not None:
            if self.fail_after <= 0:
                raise OSError(f"injected failure writing {key}")
            self.fail_after -= 1
        await self._store.set(key, value)


def _append_put_count(cloud: np.ndarray, ids: np.ndarray) -> int:
    """How many puts a successful append of the test data makes."""
    store = FailingStore(zarr.storage.MemoryStore())
    write_points(
        store,
        cloud[:2000],
        chunk_shape=CS,
        bounds=((0,) * 3, (1000,) * 3),
        vertex_attributes={"id": ids[:2000]},
    )
    store.puts = 0
    write_points(store, cloud[2000:], mode="a", vertex_attributes={"id": ids[2000:]})
    return store.puts


@pytest.mark.parametrize("where", [0.0, 0.01, 0.3, 0.7, 0.99, -3, -2, -1])
def test_append_failing_half_way_leaves_the_old_store_readable(
    cloud: np.ndarray, where: float
) -> None:
    ids = np.arange(len(cloud))
    total = _append_put_count(cloud, ids)
    fail_after = int(total * where) if where >= 0 else total + int(where)
    inner = zarr.storage.MemoryStore()
    store = FailingStore(inner)
    old, new = cloud[:2000], cloud[2000:]
    write_points(
        store,
        old,
        chunk_shape=CS,
        bounds=((0,) * 3, (1000,) * 3),
        vertex_attributes={"id": ids[:2000]},
    )
    store.fail_after = fail_after
    with pytest.raises(OSError, match="injected"):
        write_points(store, new, mode="a", vertex_attributes={"id": ids[2000:]})
    store.fail_after = None
    got = read_points(inner)
    np.testing.assert_array_equal(
        as_set(got.positions, got.vertex_attributes["id"]), as_set(old, ids[:2000])
    )
    let_lease_run_out(inner)  # the failed writer could not give it back: time passes
    # The next append repairs the store first and then holds exactly old + new.
    write_points(store, new, mode="a", vertex_attributes={"id": ids[2000:]})
    got = read_points(inner)
    np.testing.assert_array_equal(
        as_set(got.positions, got.vertex_attributes["id"]), as_set(cloud, ids)
    )
    assert json.loads(inner._store_dict["0/zarr.json"].to_bytes())["attributes"][
        "zarr_vectors_level"
    ]["vertex_count"] == len(cloud)


@pytest.mark.parametrize("fail_after", [1, 20, 60])
def test_replace_failing_half_way_leaves_the_old_store(cloud: np.ndarray, fail_after: int) -> None:
    inner = zarr.storage.MemoryStore()
    store = FailingStore(inner)
    write_points(store, cloud, chunk_shape=CS)
    store.fail_after = fail_after
    with pytest.raises(OSError, match="injected"):
        write_points(store, cloud[:100] * 0.5, chunk_shape=CS, mode="w")
    got = read_points(inner)
    np.testing.assert_array_equal(as_set(got.positions), as_set(cloud))
    store.fail_after = None
    let_lease_run_out(inner)  # the failed writer could not give it back: time passes
    write_points(store, cloud[:100], chunk_shape=CS, mode="w")
    assert read_points(inner).vertex_count == 100


def test_fresh_write_failing_half_way_leaves_no_store(tmp_path: Path, cloud: np.ndarray) -> None:
    inner = zarr.storage.LocalStore(tmp_path / "s")
    store = FailingStore(inner)
    store.fail_after = 30
    with pytest.raises(OSError, match="injected"):
        write_points(store, cloud, chunk_shape=CS)
    with pytest.raises(StoreError):
        read_points(inner)
    store.fail_after = None
    write_points(store, cloud[:10], chunk_shape=CS, mode="w")
    assert read_points(inner).vertex_count == 10


def test_read_progress_reports_cells_as_they_arrive(tmp_path: Path) -> None:
    """read_points(progress=...) counts cells up to the total, in several batches."""
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 1000, (20_000, 3)).astype(np.float32)
    store = tmp_path / "p.zarrvectors"
    write_points(store, pts, chunk_shape=(50.0, 50.0, 50.0), bounds=((0,) * 3, (1000,) * 3))
    calls: list[tuple[int, int]] = []
    cloud = read_points(store, progress=lambda done, total: calls.append((done, total)))
    assert len(cloud) == len(pts)
    total = calls[-1][1]
    assert total > 1000  # 20 x 20 x 20 grid, nearly every cell holds points
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) > 3  # more than one batch
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    # the same points as a read without progress
    plain = read_points(store)
    assert np.array_equal(np.sort(plain.positions, axis=0), np.sort(cloud.positions, axis=0))


@pytest.mark.parametrize("fail_after", [1, 2, 3, 4])
def test_create_store_replacing_fails_half_way_and_leaves_the_old_store(
    cloud: np.ndarray, fail_after: int
) -> None:
    from zarr_vectors.store import create_store

    inner = zarr.storage.MemoryStore()
    store = FailingStore(inner)
    write_points(store, cloud, chunk_shape=CS)
    store.fail_after = fail_after
    with pytest.raises(OSError, match="injected"):
        create_store(store, bounds=((0, 0, 0), (10, 10, 10)), chunk_shape=(5, 5, 5), mode="w")
    got = read_points(inner)
    np.testing.assert_array_equal(as_set(got.positions), as_set(cloud))
    store.fail_after = None
    let_lease_run_out(inner)  # the failed writer could not give it back: time passes
    create_store(store, bounds=((0, 0, 0), (10, 10, 10)), chunk_shape=(5, 5, 5), mode="w")
    assert read_points(inner).vertex_count == 0


def test_coarse_levels_carry_the_attributes_of_a_point_of_their_bin(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 100, (3000, 3))
    attrs = {"cls": rng.integers(0, 9, 3000).astype(np.uint8), "t": rng.uniform(0, 1, 3000)}
    write_points(
        tmp_path / "all.zv", pts, chunk_shape=(25, 25, 25), levels=3, vertex_attributes=attrs
    )
    for level in (1, 2):
        coarse = read_points(tmp_path / "all.zv", level=level)
        assert sorted(coarse.vertex_attributes) == ["cls", "t"]
        # each coarse point's values are those of the first point (in input order) of its bin
        size = 25 * 2**level
        bins = [tuple(b) for b in np.floor(pts / size).astype(int).tolist()]
        first: dict[tuple[int, ...], int] = {}
        for row, b in enumerate(bins):
            first.setdefault(b, row)
        centroid_bins = [tuple(b) for b in np.floor(coarse.positions / size).astype(int).tolist()]
        rows = [first[b] for b in centroid_bins]
        assert np.array_equal(coarse.vertex_attributes["t"], attrs["t"][rows])
        assert np.array_equal(coarse.vertex_attributes["cls"], attrs["cls"][rows])
    write_points(
        tmp_path / "some.zv",
        pts,
        chunk_shape=(25, 25, 25),
        levels=2,
        vertex_attributes=attrs,
        overview_attributes=["cls"],
    )
    assert sorted(read_points(tmp_path / "some.zv", level=1).vertex_attributes) == ["cls"]
    assert sorted(read_points(tmp_path / "some.zv").vertex_attributes) == ["cls", "t"]
    with pytest.raises(ValidationError, match=r"overview_attributes \['nope'\]"):
        write_points(
            tmp_path / "no.zv",
            pts,
            chunk_shape=(25, 25, 25),
            levels=2,
            vertex_attributes=attrs,
            overview_attributes=["nope"],
        )
    assert not (tmp_path / "no.zv").exists()

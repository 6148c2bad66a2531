"""Appends to level 0 of a committed store (``zarr_vectors.format.appending``).

Everything an append can be refused for is refused before the store is touched,
naming what differs and what to do; an append that goes through keeps the old rows
first in every cell, journals the old row counts and records its commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.journal import log_key
from zarr_vectors.store.api import create_store
from zarr_vectors.types.points import read_points, write_points

CS = (200.0, 200.0, 200.0)
BOX = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
RNG = np.random.default_rng(7)
OLD = RNG.uniform(0, 1000, (2_000, 3)).astype(np.float32)


def test_append_with_other_bounds_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "s.zv"
    write_points(store, OLD, chunk_shape=CS, bounds=BOX)
    before = (store / "zarr.json").read_bytes()
    with pytest.raises(ValidationError, match="differ from the store's"):
        write_points(store, OLD[:10], mode="a", bounds=((0, 0, 0), (2000, 2000, 2000)))
    assert (store / "zarr.json").read_bytes() == before
    write_points(store, OLD[:10], mode="a", bounds=BOX)  # the same bounds are fine
    assert len(read_points(store).positions) == len(OLD) + 10


def test_append_with_other_attributes_onto_zero_points(tmp_path: Path) -> None:
    empty = tmp_path / "plain.zv"
    create_store(empty, chunk_shape=CS, bounds=BOX)
    write_points(empty, OLD[:10], mode="a", vertex_attributes={"id": np.arange(10)})
    assert sorted(read_points(empty).vertex_attributes["id"].tolist()) == list(range(10))

    typed = tmp_path / "typed.zv"
    write_points(typed, OLD[:0], chunk_shape=CS, bounds=BOX, vertex_attributes={"w": OLD[:0, 0]})
    before = (typed / "zarr.json").read_bytes()
    with pytest.raises(ValidationError, match="are made for attributes"):
        write_points(typed, OLD[:10], mode="a", vertex_attributes={"id": np.arange(10)})
    with pytest.raises(ValidationError, match="are made for attributes"):
        write_points(typed, OLD[:10], mode="a")
    assert (typed / "zarr.json").read_bytes() == before


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.zv"
    write_points(
        path,
        OLD,
        chunk_shape=CS,
        bounds=BOX,
        vertex_attributes={
            "id": np.arange(len(OLD), dtype=np.int32),
            "rgb": np.zeros((len(OLD), 3), np.uint8),
        },
    )
    return path


def attrs(n: int, **more: object) -> dict[str, object]:
    return {"id": np.arange(n, dtype=np.int32), "rgb": np.zeros((n, 3), np.uint8), **more}


@pytest.mark.parametrize(
    ("points", "kw", "message"),
    [
        (OLD[:5, :2], {}, "the store has 3 axes but the points have 2"),
        (OLD[:5], {"chunk_shape": (100.0,) * 3}, "leave chunk_shape out when appending"),
        (OLD[:5], {"levels": 2}, "appending to a store with coarser levels would leave them stale"),
        (OLD[:5], {"dtype": np.float64}, "dtype float64 differs from the store's float32"),
        (OLD[:5] + 5000, {}, "outside the bounds"),
    ],
)
def test_an_append_unlike_the_store_is_refused(
    store: Path, points: np.ndarray, kw: dict[str, object], message: str
) -> None:
    before = (store / "zarr.json").read_bytes()
    with pytest.raises(ValidationError, match=message):
        write_points(store, points, mode="a", vertex_attributes=attrs(len(points)), **kw)  # type: ignore[arg-type]
    assert (store / "zarr.json").read_bytes() == before


def test_attributes_unlike_the_stored_ones_are_refused(store: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"have attributes \['id', 'rgb'\] but the new points have \['id'\]"
    ):
        write_points(store, OLD[:5], mode="a", vertex_attributes={"id": np.arange(5)})
    wide = attrs(5, rgb=np.zeros((5, 4), np.uint8))
    with pytest.raises(ValidationError, match="attribute 'rgb' is stored with \\[3\\] per point"):
        write_points(store, OLD[:5], mode="a", vertex_attributes=wide)
    with pytest.raises(ValidationError, match="attribute 'id'"):
        write_points(store, OLD[:5], mode="a", vertex_attributes=attrs(5, id=np.full(5, 2**40)))
    plain = tmp_path / "plain.zv"
    write_points(plain, OLD, chunk_shape=CS, bounds=BOX)
    with pytest.raises(ValidationError, match="the store's points have no attributes but"):
        write_points(plain, OLD[:5], mode="a", vertex_attributes={"id": np.arange(5)})


def test_an_append_keeps_the_old_rows_first_and_records_its_commit(store: Path) -> None:
    more = np.array([[10.0, 10.0, 10.0], [990.0, 990.0, 990.0]], np.float32)
    root = json.loads((store / "zarr.json").read_text())
    generation = root["attributes"]["zarr_vectors_writer"]["generation"]
    write_points(store, more, mode="a", vertex_attributes=attrs(2, id=np.array([-1, -2], np.int32)))
    got = read_points(store)
    assert got.vertex_count == len(OLD) + 2
    ids = got.vertex_attributes["id"]
    assert sorted(ids.tolist()) == sorted([*range(len(OLD)), -1, -2])
    record = json.loads((store / log_key(generation + 1)).read_text())
    assert record["mode"] == "a" and record["vertex_count"] == len(OLD)
    assert record["cells"] == ["0.0.0", "4.4.4"]
    old_in_first = int((OLD // 200 == 0).all(axis=1).sum())
    assert record["counts"] == [old_in_first, int((OLD // 200 == 4).all(axis=1).sum())]
    cell = read_points(store, bbox=((0.0,) * 3, (199.0,) * 3))
    assert cell.vertex_attributes["id"][-1] == -1  # the new row after the cell's old ones

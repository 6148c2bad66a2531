"""write_polylines / read_polylines: whole polylines in order, selections, appends, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from zarr_vectors.exceptions import StoreExistsError, ValidationError
from zarr_vectors.types.polylines import Polylines, read_polylines, write_polylines

CS = (100.0, 100.0, 100.0)
BOUNDS = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def walks(k: int, seed: int = 0) -> list[np.ndarray]:
    """Random walks long enough to cross several cells, inside the bounds."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        m = int(rng.integers(2, 80))
        start = rng.uniform(200, 800, 3)
        out.append(
            np.clip(start + np.cumsum(rng.normal(0, 20, (m, 3)), axis=0), 0, 1000).astype(
                np.float32
            )
        )
    return out


def test_polylines_come_back_whole_in_order_with_their_attributes(tmp_path: Path) -> None:
    lines = walks(60)
    fa = [np.linspace(0, 1, len(p)).astype(np.float32) for p in lines]
    length = np.arange(60, dtype=np.float64)
    s = write_polylines(
        tmp_path / "s",
        lines,
        chunk_shape=CS,
        bounds=BOUNDS,
        vertex_attributes={"fa": fa},
        object_attributes={"length": length},
    )
    assert s.polyline_count == 60 and s.vertex_count == sum(len(p) for p in lines)
    got = read_polylines(tmp_path / "s")
    assert isinstance(got, Polylines) and len(got) == 60
    np.testing.assert_array_equal(got.object_ids, np.arange(60))
    for a, b, fa_a, fa_b in zip(got.polylines, lines, got.vertex_attributes["fa"], fa, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(fa_a, fa_b)
    np.testing.assert_array_equal(got["object_attributes"]["length"], length)
    assert got["polyline_count"] == 60 and got["vertex_count"] == s.vertex_count
    assert set(got.keys()) >= {"polylines", "object_ids", "vertex_attributes"}


def test_object_ids_groups_and_boxes_select_whole_polylines(tmp_path: Path) -> None:
    lines = walks(40, 1)
    groups = {g: list(range(g, 40, 4)) for g in range(4)}
    write_polylines(
        tmp_path / "s",
        lines,
        chunk_shape=CS,
        bounds=BOUNDS,
        groups=groups,
        geometry_type="polyline",
    )
    got = read_polylines(tmp_path / "s", object_ids=[3, 17, 999])
    assert got.object_ids.tolist() == [3, 17]
    np.testing.assert_array_equal(got.polylines[1], lines[17])
    got = read_polylines(tmp_path / "s", group_ids=[2])
    assert got.object_ids.tolist() == groups[2]
    got = read_polylines(tmp_path / "s", group_ids=[2], object_ids=[2, 3, 6])
    assert got.object_ids.tolist() == [2, 6]
    box = ([400.0, 400.0, 400.0], [500.0, 500.0, 500.0])
    got = read_polylines(tmp_path / "s", bbox=box)
    want = [i for i, p in enumerate(lines) if np.all((p >= 400) & (p <= 500), axis=1).any()]
    assert got.object_ids.tolist() == want
    for i, p in zip(want, got.polylines, strict=True):
        np.testing.assert_array_equal(p, lines[i])  # whole, not clipped


def test_appending_whole_polylines_keeps_the_old_ones(tmp_path: Path) -> None:
    a, b = walks(10, 2), walks(5, 3)
    write_polylines(tmp_path / "s", a, chunk_shape=CS, bounds=BOUNDS)
    write_polylines(tmp_path / "s", b, object_ids=range(10, 15), mode="a")
    got = read_polylines(tmp_path / "s")
    assert got.object_ids.tolist() == list(range(15))
    for x, y in zip(got.polylines, a + b, strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValidationError, match="already in the store"):
        write_polylines(tmp_path / "s", b, mode="a")
    with pytest.raises(StoreExistsError):
        write_polylines(tmp_path / "s", b, chunk_shape=CS, bounds=BOUNDS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"polylines": [np.zeros((1, 3))]}, "at least 2"),
        ({"polylines": [np.array([[0, 0, 0], [np.nan, 1, 1]])]}, "NaN"),
        ({"vertex_attributes": {"fa": [np.zeros(3)]}}, "values for 2 vertices"),
        ({"object_attributes": {"w": np.zeros(5)}}, "5 values"),
        ({"object_ids": [4]}, None),
        ({"geometry_type": "mesh"}, "geometry_type"),
        ({"groups": {0: [7]}}, "not written"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, Any], match: str | None
) -> None:
    args: dict[str, Any] = {"polylines": [np.array([[1, 1, 1], [2, 2, 2]], np.float32)]}
    args.update(kwargs)
    if match is None:  # a valid call, as a control
        write_polylines(tmp_path / "s", chunk_shape=CS, bounds=BOUNDS, **args)
        return
    with pytest.raises(ValidationError, match=match) as info:
        write_polylines(tmp_path / "s", chunk_shape=CS, bounds=BOUNDS, **args)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "s").exists()


def test_repeated_object_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="more than one polyline"):
        write_polylines(
            tmp_path / "s", walks(3), object_ids=[1, 2, 1], chunk_shape=CS, bounds=BOUNDS
        )
    assert not (tmp_path / "s").exists()


def test_results_render_and_convert(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    lines = walks(5)
    write_polylines(
        tmp_path / "s",
        lines,
        chunk_shape=CS,
        bounds=BOUNDS,
        vertex_attributes={"fa": [np.ones(len(p)) for p in lines]},
    )
    got = read_polylines(tmp_path / "s")
    df = got.to_pandas()
    assert list(df.columns) == ["object_id", "x", "y", "z", "fa"]
    assert len(df) == sum(len(p) for p in lines)
    assert "Polylines" in got._repr_html_()


def test_memory_store_and_sharded_store(tmp_path: Path) -> None:
    lines = walks(30, 4)
    mem = zarr.storage.MemoryStore()
    write_polylines(mem, lines, chunk_shape=CS, bounds=BOUNDS)
    assert [len(p) for p in read_polylines(mem).polylines] == [len(p) for p in lines]
    write_polylines(tmp_path / "sh", lines, chunk_shape=CS, bounds=BOUNDS, shard_shape=4)
    got = read_polylines(tmp_path / "sh")
    for a, b in zip(got.polylines, lines, strict=True):
        np.testing.assert_array_equal(a, b)
    import json

    doc = json.loads((tmp_path / "sh" / "0" / "vertices" / "zarr.json").read_text())
    assert doc["codecs"][0]["name"] == "sharding_indexed"
    links = json.loads((tmp_path / "sh" / "0" / "links" / "0" / "+1.0.0" / "zarr.json").read_text())
    assert links["codecs"][0]["name"] == "sharding_indexed"


def test_dask_frame_of_vertices_with_object_ids(tmp_path: Path) -> None:
    pytest.importorskip("dask.dataframe")
    lines = walks(40, 6)
    fa = [np.arange(len(p), dtype=np.float32) for p in lines]
    write_polylines(
        tmp_path / "s", lines, chunk_shape=CS, bounds=BOUNDS, vertex_attributes={"fa": fa}
    )
    frame = read_polylines(tmp_path / "s", as_dask=True)
    assert list(frame.columns) == ["object_id", "x", "y", "z", "fa"]
    from zarr_vectors.dask.objects import objects_frame

    small = objects_frame(tmp_path / "s", objects_per_partition=7)
    assert small.npartitions == 6
    df = small.compute(scheduler="sync")
    assert len(df) == sum(len(p) for p in lines)
    for oid, part in df.groupby("object_id"):
        np.testing.assert_array_equal(part[["x", "y", "z"]].to_numpy(), lines[int(oid)])
        np.testing.assert_array_equal(part["fa"].to_numpy(), fa[int(oid)])
    two = read_polylines(tmp_path / "s", as_dask=True, object_ids=[3, 9]).compute(scheduler="sync")
    assert sorted(set(two["object_id"])) == [3, 9]

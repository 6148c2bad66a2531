"""The spatial index (zarr_vectors.serve.index): served chunks are the points at every level.

Decoding uses the record layout of the ``neuroglancer`` package's own annotation
writer (``AnnotationWriter.get_dtype``), not this package's encoder, so a
disagreement about the format shows here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors as zv
from tests.serve.conftest import Served, chunk_names, fetch, fetch_info, write_cloud

pytestmark = pytest.mark.slow
ng = pytest.importorskip("neuroglancer")
from neuroglancer import write_annotations  # type: ignore[import-untyped]  # noqa: E402


def record_dtype(info: dict[str, Any]) -> np.dtype:
    """The record of one point as Neuroglancer's Python writer lays it out for ``info``."""
    dims = info["dimensions"]
    space = ng.CoordinateSpace(
        names=list(dims),
        units=[d[1] for d in dims.values()],
        scales=[d[0] for d in dims.values()],
    )
    props = [ng.AnnotationPropertySpec(id=p["id"], type=p["type"]) for p in info["properties"]]
    writer = write_annotations.AnnotationWriter(space, "point", properties=props)
    dtype: np.dtype[Any] = np.dtype(writer.get_dtype())
    return dtype


def decode(body: bytes, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(records, ids)`` of a multiple-annotation encoding."""
    count = int(np.frombuffer(body, "<u8", 1)[0])
    assert len(body) == 8 + count * (dtype.itemsize + 8), "not a whole encoding"
    records = np.frombuffer(body, dtype, count, 8)
    ids = np.frombuffer(body, "<u8", count, 8 + count * dtype.itemsize)
    return records, ids


def by_rows(positions: np.ndarray) -> np.ndarray:
    """The order that sorts points by x, then y, then z."""
    return np.lexsort(positions.T[::-1])


@pytest.mark.parametrize("shard_shape", [None, 2], ids=["cells", "sharded"])
def test_every_level_decodes_to_the_store(
    tmp_path: Path, serve: Callable[..., Served], shard_shape: int | None
) -> None:
    path = str(tmp_path / "cloud.zarrvectors")
    # 3 cells a side, padded to 4 for the coarsest level's factor of 4
    write_cloud(path, 4000, levels=3, shard_shape=shard_shape, chunk=400.0)
    url, _ = serve(path)
    info = fetch_info(url)
    assert info["@type"] == "neuroglancer_annotations_v1"
    assert info["annotation_type"] == "POINT"
    assert list(info["dimensions"]) == ["x", "y", "z"]
    served = {p["id"]: p["type"] for p in info["properties"]}
    assert served == {
        "intensity": "float32",
        "normal_0": "float32",
        "normal_1": "float32",
        "normal_2": "float32",
        "label": "uint8",
    }  # gps_time (int64) has no property type
    dtype = record_dtype(info)
    lower = np.asarray(info["lower_bound"])
    upper = np.asarray(info["upper_bound"])
    assert [lv["key"] for lv in info["spatial"]] == ["spatial0", "spatial1", "spatial2"]
    all_ids: list[np.ndarray] = []
    for i, level in enumerate(info["spatial"]):
        size = np.asarray(level["chunk_size"])
        np.testing.assert_allclose(np.asarray(level["grid_shape"]) * size, upper - lower)
        store_level = len(info["spatial"]) - 1 - i  # coarsest first
        assert np.allclose(size, 400.0 * 2**store_level)
        got_pos, got_props = [], []
        for name in chunk_names(level):
            status, headers, body = fetch(f"{url}/{level['key']}/{name}")
            assert status == 200, body
            assert headers["Access-Control-Allow-Origin"] == "*"
            records, ids = decode(body, dtype)
            cell = np.array([int(c) for c in name.split("_")])
            box_lo, box_hi = lower + cell * size, lower + (cell + 1) * size
            pos = records["geometry"]
            assert np.all(pos >= box_lo) and np.all(pos < box_hi), f"{level['key']}/{name}"
            got_pos.append(pos)
            got_props.append(records)
            all_ids.append(ids)
        positions = np.concatenate(got_pos)
        records = np.concatenate(got_props)
        expected = zv.read_points(path, level=store_level)
        assert len(positions) == expected.vertex_count
        mine, theirs = by_rows(positions), by_rows(expected.positions)
        np.testing.assert_array_equal(positions[mine], expected.positions[theirs])
        names = list(served)
        fields = {n: f"property{j}" for j, n in enumerate(names)}
        # every level carries the attributes (a coarse point those of a point of its bin)
        values = expected.vertex_attributes
        for n, col in [("intensity", None), ("label", None)] + [
            (f"normal_{c}", c) for c in range(3)
        ]:
            want = values[n.split("_")[0]] if col is None else values["normal"][:, col]
            np.testing.assert_array_equal(records[fields[n]][mine], want[theirs])
    ids = np.concatenate(all_ids)
    assert len(np.unique(ids)) == len(ids), "annotation ids must be unique"


def test_by_id_answers_the_chunk_records(
    cloud: tuple[str, Any, Any], serve: Callable[..., Served]
) -> None:
    path, _, _ = cloud
    url, _ = serve(path)
    info = fetch_info(url)
    dtype = record_dtype(info)
    finest = info["spatial"][-1]
    checked = 0
    for name in chunk_names(finest):
        _, _, body = fetch(f"{url}/{finest['key']}/{name}")
        records, ids = decode(body, dtype)
        for record, annotation_id in list(zip(records, ids, strict=True))[:3]:
            status, _, single = fetch(f"{url}/by_id/{int(annotation_id)}")
            assert status == 200, single
            assert single == record.tobytes()
            checked += 1
        if checked >= 12:
            break
    assert checked >= 12
    status, _, body = fetch(f"{url}/by_id/{2**64 - 1}")
    assert status == 404, body

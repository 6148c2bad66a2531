"""Names and keys of a level's cell arrays (``zarr_vectors.format.levelkeys``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.format.levelkeys import attribute_names, cell_key, le_dtype
from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points


def test_stored_dtypes_read_little_endian() -> None:
    assert le_dtype(">f4") == np.dtype("<f4")
    assert le_dtype("float32") == np.dtype("<f4")
    assert le_dtype("uint8") == np.dtype("u1")


def test_a_cell_key_is_the_world_cell_minus_the_origin() -> None:
    assert cell_key("0/vertices", (3, -1, 0), (-2, -2, 0)) == "0/vertices/c/5/1/0"
    with pytest.raises(ValueError):
        cell_key("0/vertices", (1, 2), (0, 0, 0))  # a cell of another dimension


@pytest.mark.parametrize("consolidate", [True, False])
def test_attribute_names_of_a_level(tmp_path: Path, consolidate: bool) -> None:
    pts = np.random.default_rng(1).uniform(0, 10, (20, 3))
    kw = {
        "chunk_shape": (5.0,) * 3,
        "bounds": ((0.0,) * 3, (10.0,) * 3),
        "consolidate": consolidate,
    }
    write_points(tmp_path / "a", pts, vertex_attributes={"b": pts[:, 0], "a": pts[:, 1]}, **kw)
    write_points(tmp_path / "none", pts, **kw)
    with LocalBackend(tmp_path / "a") as backend:
        assert attribute_names(load_snapshot(backend), 0) == ["a", "b"]
    with LocalBackend(tmp_path / "none") as backend:
        assert attribute_names(load_snapshot(backend), 0) == []

"""A root whose format records are garbage is a CorruptStoreError on read and on append.

Each case edits a real store's root on disk, then reads and appends: both must
end in one zarr_vectors error naming what is wrong, and the append must change
nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.types.points import read_points, write_points

POINTS = np.random.default_rng(17).uniform(0, 1000, (2_000, 3)).astype(np.float32)

GARBAGE: dict[str, tuple[str, Any]] = {
    "multiscales a string": ("multiscales", "garbage"),
    "multiscales a list of junk": ("multiscales", ["garbage", 3]),
    "multiscales without paths": ("multiscales", [{"datasets": [{"nopath": 1}]}]),
    "writer record a string": ("zarr_vectors_writer", "garbage"),
    "writer record a list": ("zarr_vectors_writer", [1, 2]),
    "writer generation junk": ("zarr_vectors_writer", {"generation": "many"}),
    "journal entry a string": ("zarr_vectors_writer", {"generation": 1, "pending": "x"}),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_garbage_root_records_are_corrupt_store_errors(tmp_path: Path, case: str) -> None:
    store = tmp_path / "s.zv"
    write_points(store, POINTS, chunk_shape=(200.0,) * 3)
    root = json.loads((store / "zarr.json").read_text())
    name, value = GARBAGE[case]
    root["attributes"][name] = value
    (store / "zarr.json").write_text(json.dumps(root))
    before = (store / "zarr.json").read_bytes()
    with pytest.raises(CorruptStoreError) as caught:
        read_points(store)
    assert "\n" not in str(caught.value)
    with pytest.raises(CorruptStoreError):
        write_points(store, POINTS[:10], mode="a")
    assert (store / "zarr.json").read_bytes() == before
    write_points(store, POINTS, chunk_shape=(200.0,) * 3, mode="w")  # a replace still works
    assert len(read_points(store).positions) == len(POINTS)

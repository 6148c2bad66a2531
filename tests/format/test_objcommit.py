"""The commit sequence for stores of objects (``zarr_vectors.format.objcommit``).

Every object write is a create or a whole replace (an append of whole objects is a
replace that overlays the old store): the generation advances by one and is recorded,
a replace leaves nothing staged, an append the store refuses fails before the lease
is taken, and an unfinished write found under the lease is repaired first.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.stores import snapshot_of
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.format.journal import log_key
from zarr_vectors.format.lease import lease_of
from zarr_vectors.format.objcommit import ObjectRootMetadata, commit_objects
from zarr_vectors.format.snapshot import Snapshot
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.polylines import read_polylines, write_polylines

CS = (100.0, 100.0, 100.0)
BOUNDS = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def lines(k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(
            rng.uniform(100, 900, 3) + np.cumsum(rng.normal(0, 40, (20, 3)), axis=0), 0, 999
        ).astype(np.float32)
        for _ in range(k)
    ]


def writer(store: Path) -> dict[str, Any]:
    root = json.loads((store / "zarr.json").read_text())
    return dict(root["attributes"]["zarr_vectors_writer"])


def test_the_links_convention_is_written_in_the_root(tmp_path: Path) -> None:
    write_polylines(tmp_path / "p", lines(1, 1), chunk_shape=CS, bounds=BOUNDS)
    with snapshot_of(tmp_path / "p") as snap:
        meta = snap.meta
    kept = {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)}
    explicit = ObjectRootMetadata(**kept, links_convention="explicit")
    assert explicit.to_attributes()["zarr_vectors"]["links_convention"] == "explicit"
    assert ObjectRootMetadata(**kept).to_attributes()["zarr_vectors"]["links_convention"] == (
        "implicit_sequential"
    )


def test_each_write_is_one_recorded_generation_with_nothing_staged(tmp_path: Path) -> None:
    store = tmp_path / "p"
    write_polylines(store, lines(5, 1), chunk_shape=CS, bounds=BOUNDS)
    assert writer(store)["generation"] == 1 and (store / log_key(1)).exists()
    write_polylines(store, lines(3, 2), chunk_shape=CS, bounds=BOUNDS, mode="w")
    write_polylines(store, lines(2, 3), mode="a", object_ids=[10, 11])
    assert writer(store)["generation"] == 3
    assert "pending" not in writer(store) and "lease" not in writer(store)
    assert json.loads((store / log_key(3)).read_text()) == {"mode": "w"}
    assert not [p for p in store.iterdir() if p.name.startswith(".zv-staged-")]
    assert len(read_polylines(store).polylines) == 5


def test_an_append_the_store_refuses_fails_before_the_lease(tmp_path: Path) -> None:
    store = tmp_path / "p"
    write_polylines(store, lines(2, 1), chunk_shape=CS, bounds=BOUNDS)
    before = (store / "zarr.json").read_bytes()
    seen: list[Snapshot | None] = []

    def build(snap: Snapshot | None) -> Any:
        seen.append(snap)
        assert lease_of(json.loads((store / "zarr.json").read_text())) is None  # not held yet
        raise ValidationError("not like the store")

    with LocalBackend(store) as backend, pytest.raises(ValidationError, match="not like"):
        commit_objects(backend, "a", build)
    assert len(seen) == 1 and seen[0] is not None and seen[0].generation == 1
    assert (store / "zarr.json").read_bytes() == before  # no lease was taken


def test_an_unfinished_replace_is_repaired_before_the_next_write(tmp_path: Path) -> None:
    store = tmp_path / "p"
    write_polylines(store, lines(2, 1), chunk_shape=CS, bounds=BOUNDS)
    root = json.loads((store / "zarr.json").read_text())
    staged = ".zv-staged-00000000abcd"
    pending = {"mode": "w", "staged": staged, "state": "writing"}
    root["attributes"]["zarr_vectors_writer"]["pending"] = pending
    (store / "zarr.json").write_text(json.dumps(root))
    (store / staged).mkdir()
    (store / staged / "zarr.json").write_text("{}")
    write_polylines(store, lines(4, 5), mode="a", object_ids=[10, 11, 12, 13])
    assert not (store / staged).exists()
    assert len(read_polylines(store).polylines) == 6

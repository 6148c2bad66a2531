"""``open_zv`` on an Icechunk store: a handle fixed at the snapshot it opened, with history.

The core reaches these through its optional versioned capability
(``zarr_vectors.storage.transactions.VersionedBackend``), never by the plugin's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from zarr_vectors.exceptions import ReadOnlyBackendError
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage.transactions import is_versioned
from zarr_vectors.types.points import read_points, write_points

NEW: dict[str, Any] = {
    "chunk_shape": (50.0, 50.0, 50.0),
    "bounds": ((0.0,) * 3, (100.0,) * 3),
    "backend": "icechunk",
}


def _points(n: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


def test_the_handle_lists_history_tags_and_keeps_its_snapshot(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    write_points(repo, _points(300, 0), **NEW, message="flight 1")
    with open_zv(repo, backend="icechunk") as zv:
        assert is_versioned(zv._snap.backend)
        opened = zv.version
        assert [e.message for e in zv.history()] == ["flight 1", "Repository initialized"]
        assert zv.history()[0].id == opened
        # Commits made meanwhile do not reach the handle: it reads the snapshot it opened.
        write_points(repo, _points(100, 1), mode="a", backend="icechunk", message="flight 2")
        assert len(zv.read_points()) == 300 and zv.version == opened
        assert zv.tag("first") == opened  # the state the handle reads, not the new tip
        assert zv.tags() == {"first": opened} and list(zv.branches()) == ["main"]
        assert len(zv.refresh().read_points()) == 400
        assert zv.history()[0].message == "flight 2" and zv.version != opened
    assert len(read_points(repo, backend="icechunk", tag="first")) == 300


def test_a_handle_on_a_snapshot_is_read_only(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    write_points(repo, _points(200, 2), **NEW, message="only")
    old = zi.history(repo)[0].id
    write_points(repo, _points(50, 3), mode="a", backend="icechunk")
    with open_zv(repo, backend="icechunk", snapshot=old) as zv:
        assert zv.version == old and zv.level(0).vertex_count == 200
        assert [e.message for e in zv.history()] == ["only", "Repository initialized"]
        with pytest.raises(ReadOnlyBackendError):
            zv._snap.backend.put_bytes("x", b"1")

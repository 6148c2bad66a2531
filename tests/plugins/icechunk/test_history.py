"""zarr_vectors_icechunk.history: listing, tagging and branching a repository by its URL.

On local repositories (one small write each); the calls' own logic over a
stand-in repository is in test_versions.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zarr_vectors_icechunk as zi
from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.types.points import read_points, write_points

#: What a write creating a store passes.
NEW: dict[str, Any] = {
    "chunk_shape": (50.0, 50.0, 50.0),
    "bounds": ((0.0, 0.0, 0.0), (100.0, 100.0, 100.0)),
    "backend": "icechunk",
}


def _points(n: int, seed: int = 0) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).uniform(0, 100, (n, 3)).astype(np.float32)


@pytest.fixture
def repo(tmp_path: Path) -> str:
    return str(tmp_path / "repo")


def test_listing_names_and_branches_by_url(repo: str) -> None:
    write_points(repo, _points(20), **NEW, message="first")
    write_points(repo, _points(5, seed=1), mode="a", backend="icechunk", message="second")
    entries = zi.history(repo)
    assert [e.message for e in entries] == ["second", "first", "Repository initialized"]
    assert entries[0].parent_id == entries[1].id
    assert zi.tag(repo, "v1", snapshot=entries[1].id) == entries[1].id
    assert zi.tags(repo) == {"v1": entries[1].id}
    assert zi.history(repo, tag="v1")[0].message == "first"
    assert zi.create_branch(repo, "dev", snapshot=entries[1].id) == entries[1].id
    assert zi.branches(repo) == {"dev": entries[1].id, "main": entries[0].id}


def test_tag_refusals(repo: str) -> None:
    with pytest.raises(StoreError, match="No Icechunk repository"):
        zi.tag(repo, "v1")
    write_points(repo, _points(100), **NEW)
    with pytest.raises(StoreError, match="has no snapshot 'AAAAAAAAAAAAAAAAAAAA'; list"):
        zi.tag(repo, "v1", snapshot="AAAAAAAAAAAAAAAAAAAA")
    zi.tag(repo, "v1")
    with pytest.raises(StoreError, match="already has a tag 'v1'"):
        zi.tag(repo, "v1")
    with pytest.raises(BackendOptionError, match="tag name 'v 1' is not usable"):
        zi.tag(repo, "v 1")
    with pytest.raises(StoreError, match="has no branch 'nope'"):
        zi.history(repo, branch="nope")


def test_a_branch_is_made_before_it_is_written(repo: str) -> None:
    write_points(repo, _points(100), **NEW)
    with pytest.raises(StoreError, match=r"has no branch 'trial' .*create_branch\(url, 'trial'\)"):
        write_points(repo, _points(10), mode="a", backend="icechunk", branch="trial")
    with pytest.raises(StoreError, match="has no branch 'trial'"):
        read_points(repo, backend="icechunk", branch="trial")
    first = zi.history(repo)[0].id
    write_points(repo, _points(10, seed=9), mode="a", backend="icechunk")
    assert zi.create_branch(repo, "trial", snapshot=first) == first
    assert len(read_points(repo, backend="icechunk", branch="trial")) == 100
    with pytest.raises(StoreError, match="already has a branch 'trial'"):
        zi.create_branch(repo, "trial")
    with pytest.raises(StoreError, match="has no snapshot 'BBBBBBBBBBBBBBBBBBBB'"):
        zi.create_branch(repo, "other", snapshot="B" * 20)

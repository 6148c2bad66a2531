"""zarr_vectors_obstore.adopt: an obstore store the caller made, used as it is made.

No network: memory and local stores, and S3/HTTP stores that are only made,
never asked anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from obstore.store import HTTPStore, LocalStore, MemoryStore, S3Store

from zarr_vectors.exceptions import BackendOptionError
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import read_points, write_points
from zarr_vectors_obstore.adopt import adopt_store
from zarr_vectors_obstore.backend import ObstoreBackend


def test_what_is_not_an_obstore_store_is_left_alone(tmp_path: Path) -> None:
    assert adopt_store(tmp_path) is None
    assert adopt_store("s3://bucket/x") is None
    assert adopt_store(object(), region="x") is None  # options are not judged then


def test_a_local_store_is_a_directory_for_the_local_backend(tmp_path: Path) -> None:
    backend = adopt_store(LocalStore(tmp_path), max_concurrency=3)
    assert isinstance(backend, LocalBackend)
    backend.put_bytes("k", b"v")
    assert (tmp_path / "k").read_bytes() == b"v"
    with pytest.raises(BackendOptionError, match=r"verify_prefixes.*LocalStore.*max_concurrency"):
        adopt_store(LocalStore(tmp_path), verify_prefixes=True)


def test_remote_and_memory_stores_are_driven_as_they_are() -> None:
    memory = MemoryStore()
    backend = adopt_store(memory, max_concurrency=2, verify_prefixes=False)
    assert isinstance(backend, ObstoreBackend) and backend.max_concurrency == 2
    assert backend.store is memory
    s3 = S3Store("bucket", region="us-east-1", skip_signature=True)
    assert isinstance(adopt_store(s3), ObstoreBackend)
    http = HTTPStore.from_url("http://127.0.0.1:1/x", client_options={"allow_http": True})
    assert isinstance(adopt_store(http), ObstoreBackend)


def test_store_options_are_refused_with_where_they_go() -> None:
    with pytest.raises(BackendOptionError) as info:
        adopt_store(MemoryStore(), region="x", bogus=1)
    message = str(info.value)
    assert "bogus, region" in message and "MemoryStore" in message
    assert "when making it" in message and "max_concurrency, verify_prefixes" in message


def test_adopted_store_refuses_store_options() -> None:
    pts = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(BackendOptionError, match=r"region.*MemoryStore.*when making it"):
        write_points(
            MemoryStore(), pts, chunk_shape=(1.0, 1.0, 1.0), storage_options={"region": "x"}
        )
    with pytest.raises(BackendOptionError, match="max_concurrency"):
        read_points(MemoryStore(), storage_options={"max_concurrency": "8"})

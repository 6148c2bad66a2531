"""zarr_vectors_fsspec.adopt: a caller's ``(fs, path)`` or ``FSMap`` as a store.

fsspec's memory file system only; nothing else is touched.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec  # type: ignore[import-untyped]
import numpy as np
import pytest

from zarr_vectors.exceptions import BackendOptionError, StoreError
from zarr_vectors.types.points import read_points, write_points
from zarr_vectors_fsspec.adopt import adopt
from zarr_vectors_fsspec.backend import FsspecBackend


def test_what_is_not_an_fsspec_store_is_left_alone(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    assert adopt(tmp_path) is None
    assert adopt("memory://x") is None
    assert adopt(("a", "b")) is None  # a tuple of something else
    assert adopt((fs, "p", "q")) is None


def test_a_tuple_and_a_mapper_name_the_same_store() -> None:
    fs = fsspec.filesystem("memory")
    path = f"zv-adopt-unit/{uuid.uuid4().hex}"
    by_tuple = adopt((fs, path), max_concurrency=2, timeout=9, verify_prefixes=False)
    by_mapper = adopt(fs.get_mapper(path))
    assert isinstance(by_tuple, FsspecBackend) and isinstance(by_mapper, FsspecBackend)
    assert by_tuple.max_concurrency == 2 and by_tuple.timeout == 9
    by_tuple.put_bytes("k", b"v")
    assert by_mapper.get_bytes("k") == b"v"
    by_tuple.delete_prefix("")
    by_tuple.close()
    by_mapper.close()


def test_a_file_system_alone_or_a_path_that_is_no_string_is_refused() -> None:
    fs = fsspec.filesystem("memory")
    with pytest.raises(StoreError, match=r"MemoryFileSystem.*names no store by itself"):
        adopt(fs)
    with pytest.raises(StoreError, match="got a PosixPath as the path"):
        adopt((fs, Path("a/b")))
    with pytest.raises(BackendOptionError, match=r"\(anon, region\).*tuple.*max_concurrency"):
        adopt((fs, "a/b"), region="x", anon=True)


def test_adopt_takes_only_the_backends_own_options() -> None:
    fs = fsspec.filesystem("memory")
    path = f"zv-adopt/{uuid.uuid4().hex}"
    options = {"max_concurrency": 2, "timeout": 9}
    pts = np.zeros((3, 3), dtype=np.float32)
    write_points((fs, path), pts, chunk_shape=(1.0, 1.0, 1.0), storage_options=options)
    with pytest.raises(BackendOptionError, match=r"anon.*configured already"):
        read_points((fs, path), anon=True)
    with pytest.raises(BackendOptionError, match="max_concurrency must be an int"):
        read_points((fs, path), max_concurrency="2")
    with pytest.raises(StoreError, match=r"names no store by itself.*get_mapper"):
        read_points(fs)
    with pytest.raises(StoreError, match="path a string"):
        read_points((fs, Path(path)))
    fs.rm(path, recursive=True)

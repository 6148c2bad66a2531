"""The one bridge to zarr-python, held to zarr-python's own store tests.

``zarr.testing.store.StoreTests`` is the suite zarr-python runs on its own
stores; it is run here on :class:`BackendStore` over the local backend and over
a cloud backend, plus the behaviour that suite does not cover (read-only
backends, byte ranges past the end, concurrency of batch reads, ``as_zarr_store``
path kinds and its errors).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, cpu, default_buffer_prototype
from zarr.testing.store import StoreTests

from zarr_vectors.exceptions import (
    BackendOptionError,
    ReadOnlyBackendError,
    StoreError,
    ValidationError,
)
from zarr_vectors.storage import Backend, children_of, missing_key
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.storage.zarr_adapter import BackendStore, ReadOnlyStoreError
from zarr_vectors.store import as_zarr_store

PROTO = default_buffer_prototype()


class TestBackendStoreOverLocal(StoreTests[BackendStore, cpu.Buffer]):
    """zarr-python's store suite on the bridge over the local file-system backend."""

    store_cls = BackendStore
    buffer_cls = cpu.Buffer

    async def set(self, store: BackendStore, key: str, value: Buffer) -> None:
        path = Path(store.backend.root, *key.split("/"))  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value.to_bytes())

    async def get(self, store: BackendStore, key: str) -> Buffer:
        path = Path(store.backend.root, *key.split("/"))  # type: ignore[attr-defined]
        return self.buffer_cls.from_bytes(path.read_bytes())

    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"backend": LocalBackend(tmp_path / "store")}

    def test_store_repr(self, store: BackendStore) -> None:
        assert repr(store).startswith("BackendStore('file://")
        assert "backend='local'" in repr(store)
        assert str(store) == store.backend.url

    def test_store_supports_writes(self, store: BackendStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: BackendStore) -> None:
        assert store.supports_listing


# -- a read-only backend --------------------------------------------------------------------


class _ReadOnlyDict(Backend):
    """A tiny read-only backend over a dict, standing in for HTTP or an archive."""

    backend_name = "readonly-dict"
    writable = False

    def __init__(self, data: dict[str, bytes]) -> None:
        super().__init__("mem://readonly")
        self.data = data

    def _get(self, key: str) -> bytes:
        try:
            return self.data[key]
        except KeyError:
            raise missing_key(key, self.url) from None

    def _exists(self, key: str) -> bool:
        return key in self.data

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        return children_of(prefix, self.data, recursive)


def test_a_backend_that_cannot_write_gives_a_read_only_store() -> None:
    store = BackendStore(_ReadOnlyDict({"a/b": b"xyz"}))
    assert store.read_only and not store.supports_writes and not store.supports_deletes
    assert zarr.core.sync.sync(store.get("a/b", PROTO)).to_bytes() == b"xyz"  # type: ignore[union-attr]
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        zarr.core.sync.sync(store.set("a/c", cpu.Buffer.from_bytes(b"1")))
    with pytest.raises(ReadOnlyBackendError, match="cannot write"):
        store.with_read_only(False)


def test_a_writing_mode_on_a_read_only_backend_fails_before_anything_is_written() -> None:
    backend = _ReadOnlyDict({})
    with pytest.raises(ReadOnlyBackendError, match="read-only 'readonly-dict' backend"):
        as_zarr_store(backend, mode="w")
    assert backend.data == {}
    assert as_zarr_store(backend, mode="r").read_only


# -- byte ranges, batches, listing semantics --------------------------------------------------


def _store(tmp_path: Path, **data: bytes) -> BackendStore:
    backend = LocalBackend(tmp_path / "s")
    for key, value in data.items():
        backend.put_bytes(key.replace("__", "/"), value)
    return BackendStore(backend)


def _get(store: BackendStore, key: str, rng: Any = None) -> bytes | None:
    buf = zarr.core.sync.sync(store.get(key, PROTO, rng))
    return None if buf is None else buf.to_bytes()


def test_byte_ranges_past_the_end_and_missing_keys(tmp_path: Path) -> None:
    store = _store(tmp_path, k=b"0123456789")
    assert _get(store, "k", RangeByteRequest(8, 20)) == b"89"
    assert _get(store, "k", RangeByteRequest(3, 3)) == b""
    assert _get(store, "k", OffsetByteRequest(20)) == b""
    assert _get(store, "k", SuffixByteRequest(20)) == b"0123456789"
    assert _get(store, "k", SuffixByteRequest(3)) == b"789"
    assert _get(store, "missing") is None
    assert _get(store, "missing", RangeByteRequest(0, 2)) is None
    assert _get(store, "missing", SuffixByteRequest(2)) is None
    with pytest.raises(ValueError, match="start <= end"):
        _get(store, "k", RangeByteRequest(5, 2))


def test_get_partial_values_keeps_order_and_runs_concurrently(tmp_path: Path) -> None:
    """Order is the order asked; the batch is gathered, not awaited one by one."""
    import asyncio

    store = _store(tmp_path, a=b"aaaa", b=b"bbbb")
    in_flight = 0
    peak = 0
    real = store.backend.aget_range

    async def slow_range(key: str, start: int, length: int | None = None) -> bytes:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return await real(key, start, length)

    store.backend.aget_range = slow_range  # type: ignore[method-assign]
    requests = [("b", RangeByteRequest(0, 2)), ("missing", None), ("a", OffsetByteRequest(1))]
    requests += [("a", RangeByteRequest(0, 1))] * 8
    got = zarr.core.sync.sync(store.get_partial_values(PROTO, requests))
    values = [None if b is None else b.to_bytes() for b in got]
    assert values[:3] == [b"bb", None, b"aaa"]
    assert values[3:] == [b"a"] * 8
    assert peak > 1


def test_list_prefix_is_a_string_prefix_and_list_dir_gives_bare_names(tmp_path: Path) -> None:
    store = _store(tmp_path, ab__x=b"1", a__y=b"2", a__sub__z=b"3", b=b"4")

    async def collect(it: Any) -> list[str]:
        return sorted([k async for k in it])

    sync = zarr.core.sync.sync
    assert sync(collect(store.list_prefix("a"))) == ["a/sub/z", "a/y", "ab/x"]
    assert sync(collect(store.list_prefix("a/"))) == ["a/sub/z", "a/y"]
    assert sync(collect(store.list_prefix("a/s"))) == ["a/sub/z"]
    assert sync(collect(store.list_dir("a"))) == ["sub", "y"]
    assert sync(collect(store.list_dir(""))) == ["a", "ab", "b"]


def test_equality_pickling_and_with_read_only(tmp_path: Path) -> None:
    store = _store(tmp_path, k=b"v")
    twin = BackendStore(LocalBackend(tmp_path / "s"))
    other = BackendStore(LocalBackend(tmp_path / "other"))
    assert store == twin and hash(store) == hash(twin)
    assert store != other
    reader = store.with_read_only(True)
    assert reader.read_only and reader != store and reader.backend is store.backend
    copy = pickle.loads(pickle.dumps(reader))
    assert copy == reader and _get(copy, "k") == b"v"
    with pytest.raises(ReadOnlyStoreError):
        zarr.core.sync.sync(copy.delete("k"))
    assert _get(store, "k") == b"v"


def test_backend_store_refuses_what_is_not_a_backend() -> None:
    with pytest.raises(StoreError, match="async storage protocol"):
        BackendStore("/tmp/x")  # type: ignore[arg-type]


def test_zarr_arrays_through_the_bridge(tmp_path: Path) -> None:
    """A plain zarr array written and read through the bridge, chunks and all."""
    store = as_zarr_store(tmp_path / "arr", mode="w")
    data = np.arange(1000, dtype="int32").reshape(10, 100)
    arr = zarr.create_array(store, shape=data.shape, chunks=(3, 30), dtype="int32")
    arr[:] = data
    reader = as_zarr_store(str(tmp_path / "arr"), mode="r")
    np.testing.assert_array_equal(zarr.open_array(reader, mode="r")[:], data)
    np.testing.assert_array_equal(zarr.open_array(reader, mode="r")[2:5, 17:61], data[2:5, 17:61])


# -- as_zarr_store: path kinds and errors ----------------------------------------------------


def test_as_zarr_store_path_kinds(tmp_path: Path) -> None:
    as_str = as_zarr_store(str(tmp_path / "s"), mode="w")
    as_path = as_zarr_store(tmp_path / "s", mode="r")
    as_url = as_zarr_store((tmp_path / "s").as_uri(), mode="a")
    assert isinstance(as_str, BackendStore) and not as_str.read_only
    assert as_path.read_only and not as_url.read_only
    assert as_str.backend.url == as_path.backend.url == as_url.backend.url  # type: ignore[attr-defined]
    backend = LocalBackend(tmp_path / "b")
    assert as_zarr_store(backend, mode="r").backend is backend  # type: ignore[attr-defined]
    memory = zarr.storage.MemoryStore()
    assert as_zarr_store(memory, mode="w") is memory


def test_as_zarr_store_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="mode must be one of"):
        as_zarr_store(tmp_path, mode="x")
    with pytest.raises(BackendOptionError, match="fsync"):
        as_zarr_store(zarr.storage.MemoryStore(), mode="r", fsync=True)
    with pytest.raises(BackendOptionError, match="does not accept"):
        as_zarr_store(tmp_path, mode="r", no_such_option=1)
    read_only = zarr.storage.MemoryStore(read_only=True)
    with pytest.raises(ReadOnlyBackendError, match="read-only"):
        as_zarr_store(read_only, mode="a")
    with pytest.raises(StoreError, match="Cannot open a store from a int"):
        as_zarr_store(42, mode="r")


def test_as_zarr_store_opens_zip_archives_read_only(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("k", b"v")
    store = as_zarr_store(tmp_path / "a.zip", mode="r")
    assert isinstance(store, zarr.storage.ZipStore) and store.read_only
    with pytest.raises(ReadOnlyBackendError, match="ZIP archive"):
        as_zarr_store(str(tmp_path / "a.zip"), mode="w")
    with pytest.raises(StoreError, match="No ZIP archive"):
        as_zarr_store(tmp_path / "missing.zip", mode="r")


# -- the same suite over a second backend with a flat, remote-style key space ------------------


class _BackendBypass:
    """``set``/``get`` for StoreTests through the backend itself, never through the store."""

    buffer_cls = cpu.Buffer

    async def set(self, store: BackendStore, key: str, value: Buffer) -> None:
        await store.backend.aput_bytes(key, value.to_bytes())

    async def get(self, store: BackendStore, key: str) -> Buffer:
        return self.buffer_cls.from_bytes(await store.backend.aget_bytes(key))


class TestBackendStoreOverFsspecMemory(_BackendBypass, StoreTests[BackendStore, cpu.Buffer]):
    """zarr-python's store suite on the bridge over the fsspec plugin's ``memory://``."""

    store_cls = BackendStore

    @pytest.fixture
    def store_kwargs(self) -> dict[str, Any]:
        import uuid

        from zarr_vectors.storage import make_backend

        backend = make_backend(f"memory://bridge-{uuid.uuid4().hex}", backend="fsspec")
        return {"backend": backend}

    def test_store_repr(self, store: BackendStore) -> None:
        assert repr(store).startswith("BackendStore('memory://")
        assert "backend='fsspec'" in repr(store)

    def test_store_supports_writes(self, store: BackendStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: BackendStore) -> None:
        assert store.supports_listing


@pytest.mark.servers
class TestBackendStoreOverObstoreS3(_BackendBypass, StoreTests[BackendStore, cpu.Buffer]):
    """zarr-python's store suite on the bridge over obstore on the S3 test server."""

    store_cls = BackendStore

    @pytest.fixture
    def store_kwargs(self, s3_server: Any, s3_bucket: str) -> dict[str, Any]:
        from zarr_vectors.storage import make_backend

        backend = make_backend(
            f"s3://{s3_bucket}/bridge",
            endpoint=s3_server.endpoint,
            access_key_id=s3_server.access_key,
            secret_access_key=s3_server.secret_key,
            region=s3_server.region,
        )
        return {"backend": backend}

    def test_store_repr(self, store: BackendStore) -> None:
        assert repr(store).startswith("BackendStore('s3://")
        assert "backend='obstore'" in repr(store)

    def test_store_supports_writes(self, store: BackendStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: BackendStore) -> None:
        assert store.supports_listing


class _SizedLocal(LocalBackend):
    """A local backend recording whole-object reads (suffixes and sizes must not need them)."""

    whole_reads = 0

    async def _aget(self, key: str) -> bytes:
        self.whole_reads += 1
        return await super()._aget(key)


def test_suffix_reads_and_sizes_use_head_not_whole_reads(tmp_path: Path) -> None:
    backend = _SizedLocal(tmp_path / "s")
    backend.put_bytes("k", b"0123456789")
    store = BackendStore(backend)
    assert _get(store, "k", SuffixByteRequest(4)) == b"6789"
    assert _get(store, "k", SuffixByteRequest(40)) == b"0123456789"
    assert _get(store, "missing", SuffixByteRequest(4)) is None
    assert zarr.core.sync.sync(store.getsize("k")) == 10
    with pytest.raises(FileNotFoundError):
        zarr.core.sync.sync(store.getsize("missing"))
    assert backend.whole_reads == 0
    assert _get(store, "k") == b"0123456789" and backend.whole_reads == 1


@pytest.mark.servers
def test_sharded_zarr_array_through_the_bridge_on_s3(s3_server: Any, s3_bucket: str) -> None:
    """Sharding reads shard indexes by suffix and inner chunks by range requests."""
    options = {
        "endpoint": s3_server.endpoint,
        "access_key_id": s3_server.access_key,
        "secret_access_key": s3_server.secret_key,
        "region": s3_server.region,
    }
    url = f"s3://{s3_bucket}/sharded"
    data = np.arange(64 * 64, dtype="float64").reshape(64, 64)
    writer = as_zarr_store(url, mode="w", **options)
    arr = zarr.create_array(writer, shape=data.shape, chunks=(8, 8), shards=(32, 32), dtype="f8")
    arr[:] = data
    reader = as_zarr_store(url, mode="r", **options)
    opened = zarr.open_array(reader, mode="r")
    np.testing.assert_array_equal(opened[:], data)
    np.testing.assert_array_equal(opened[5:13, 40:47], data[5:13, 40:47])
    keys = sorted(reader.backend.list_prefix("c", recursive=True))  # type: ignore[attr-defined]
    assert keys == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]

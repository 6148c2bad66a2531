"""The same point-cloud calls on every kind of ``path`` and every backend.

``write_points``, ``read_points``, ``open_zv``, ``create_store`` and
``open_store`` are called identically on a local path (str and Path), a
``file://`` URL, zarr-python stores (``MemoryStore``, ``LocalStore``, a
read-only ``ZipStore``), an already made backend, and -- on real servers on
127.0.0.1 -- ``s3://``, ``az://`` and ``gs://`` through obstore and
``http://`` for reading.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
import zarr.storage

from tests.helpers.leases import let_lease_run_out
from zarr_vectors.exceptions import (
    ReadOnlyBackendError,
    StoreError,
    StoreExistsError,
    ValidationError,
)
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage import Backend
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.store import as_zarr_store, consolidate_metadata, create_store, open_store
from zarr_vectors.types.points import read_points, write_points

BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
CS = (200.0, 200.0, 200.0)
BOX = ((100.0, 100.0, 100.0), (550.0, 600.0, 700.0))


def points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1000, (n, 3)).astype(np.float32)


def rows(a: np.ndarray) -> np.ndarray:
    """Rows sorted lexicographically: point sets compare equal whatever the read order."""
    a = np.asarray(a)
    if a.ndim == 1:
        a = a[:, None]
    return a[np.lexsort(a.T[::-1])] if len(a) else a


def assert_same_points(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    np.testing.assert_array_equal(rows(got), rows(want))


def in_box(pos: np.ndarray, box: tuple[Any, Any] = BOX) -> np.ndarray:
    return pos[np.all((pos >= np.asarray(box[0])) & (pos <= np.asarray(box[1])), axis=1)]


# -- path kinds that need no server ----------------------------------------------------------
Target = Callable[[Path], Any]

KINDS: dict[str, Target] = {
    "str": lambda tmp: str(tmp / "store"),
    "Path": lambda tmp: tmp / "store",
    "file-url": lambda tmp: (tmp / "store").as_uri(),
    "MemoryStore": lambda tmp: zarr.storage.MemoryStore(),
    "LocalStore": lambda tmp: zarr.storage.LocalStore(tmp / "store"),
    "backend": lambda tmp: LocalBackend(tmp / "store"),
}


@pytest.fixture(params=sorted(KINDS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return KINDS[request.param](tmp_path)


def exercise(target: Any, **kw: Any) -> None:
    """Every entry point on one target, checking what each returns."""
    first, second = points(1500, 1), points(900, 2)
    ids = np.arange(1500, dtype=np.int64)
    summary = write_points(
        target, first, chunk_shape=CS, bounds=BOUNDS, vertex_attributes={"id": ids}, **kw
    )
    assert summary.points_written == 1500
    with pytest.raises(StoreExistsError, match="mode='w'"):
        write_points(target, first, chunk_shape=CS, **kw)

    whole = read_points(target, **kw)
    assert_same_points(whole.positions, first)
    np.testing.assert_array_equal(first[whole.vertex_attributes["id"]], whole.positions)
    assert_same_points(read_points(target, bbox=BOX, **kw).positions, in_box(first))

    write_points(target, second, mode="a", vertex_attributes={"id": np.arange(900) + 1500}, **kw)
    both = np.concatenate([first, second])
    after = read_points(target, **kw)
    assert after.vertex_count == 2400
    assert_same_points(after.positions, both)

    zv = open_zv(target, **kw)
    assert zv.levels == [0] and zv.consolidated and zv[0].vertex_count == 2400
    assert_same_points(zv.read_points(bbox=BOX).positions, in_box(both))

    group = open_store(target, **kw)
    assert isinstance(group, zarr.Group)
    assert group["0"].attrs["zarr_vectors_level"]["vertex_count"] == 2400

    pyramid = points(3000, 3)
    write_points(target, pyramid, chunk_shape=CS, bounds=BOUNDS, mode="w", levels=2, **kw)
    assert_same_points(read_points(target, **kw).positions, pyramid)
    coarse = read_points(target, level=1, **kw)
    assert 0 < coarse.vertex_count < 3000 and coarse.level == 1
    assert np.all((coarse.positions >= 0) & (coarse.positions <= 1000))


def exercise_create(target: Any, **kw: Any) -> None:
    """create_store, then appends, on a fresh target."""
    group = create_store(target, bounds=BOUNDS, chunk_shape=CS, axes=["x", "y", "z"], **kw)
    assert group.attrs["zarr_vectors"]["chunk_shape"] == list(CS)
    with pytest.raises(StoreExistsError):
        create_store(target, bounds=BOUNDS, chunk_shape=CS, **kw)
    assert read_points(target, **kw).vertex_count == 0
    write_points(target, points(400, 4), mode="a", **kw)
    write_points(target, points(600, 5), mode="a", **kw)
    got = read_points(target, **kw)
    assert got.vertex_count == 1000
    assert_same_points(got.positions, np.concatenate([points(400, 4), points(600, 5)]))
    assert open_zv(target, **kw)[0].vertex_count == 1000


def test_every_entry_point_on_every_local_kind_of_path(target: Any) -> None:
    exercise(target)


def test_create_store_then_append_on_every_local_kind_of_path(target: Any) -> None:
    exercise_create(target)


def test_memory_store_takes_bounds_from_the_data() -> None:
    pos = points(2000, 7) * np.float32(0.5) + np.float32(-100.0)
    store = zarr.storage.MemoryStore()
    write_points(store, pos, chunk_shape=(200.0, 200.0, 200.0))
    zv = open_zv(store)
    lo, hi = zv.metadata.bounds
    np.testing.assert_allclose(lo, pos.min(axis=0), rtol=0, atol=1e-4)
    np.testing.assert_allclose(hi, pos.max(axis=0), rtol=0, atol=1e-4)
    assert_same_points(read_points(store).positions, pos)


def _zip_dir(src: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(src).as_posix())
    return dest


def test_zip_archives_read_by_path_and_as_a_zip_store(tmp_path: Path) -> None:
    pos = points(1200, 8)
    write_points(tmp_path / "s", pos, chunk_shape=CS, bounds=BOUNDS, levels=2)
    archive = _zip_dir(tmp_path / "s", tmp_path / "s.zip")
    for target in (
        archive,
        str(archive),
        archive.as_uri(),
        zarr.storage.ZipStore(archive, mode="r"),
    ):
        assert_same_points(read_points(target).positions, pos)
        assert_same_points(read_points(target, bbox=BOX).positions, in_box(pos))
        assert open_zv(target).levels == [0, 1]
        assert read_points(target, level=1).vertex_count > 0
        assert isinstance(open_store(target), zarr.Group)
    before = archive.read_bytes()
    with pytest.raises(ReadOnlyBackendError, match="ZIP archive"):
        write_points(archive, pos, mode="a")
    with pytest.raises(ReadOnlyBackendError):
        open_store(archive, mode="r+")
    assert archive.read_bytes() == before


def test_bad_input_is_refused_before_the_store_is_touched(target: Any, tmp_path: Path) -> None:
    pos = points(100)
    bad_calls: list[Callable[[], Any]] = [
        lambda: write_points(target, pos[:, :2].ravel(), chunk_shape=CS),
        lambda: write_points(target, np.full((3, 3), np.nan), chunk_shape=CS),
        lambda: write_points(target, pos, chunk_shape=(0.0, 1.0, 1.0)),
        lambda: write_points(target, pos, chunk_shape=(-5.0, 1.0, 1.0)),
        lambda: write_points(target, pos, chunk_shape=CS, vertex_attributes={"a": np.ones(5)}),
        lambda: write_points(target, pos, chunk_shape=CS, bounds=((0, 0, 0), (10, 10, 10))),
        lambda: write_points(target, pos, chunk_shape=CS, mode="x"),
    ]
    for call in bad_calls:
        with pytest.raises(ValidationError):
            call()
    assert not (tmp_path / "store").exists()
    if isinstance(target, zarr.storage.MemoryStore):
        assert not target._store_dict


def test_create_store_refuses_bad_metadata_before_writing(target: Any, tmp_path: Path) -> None:
    for kwargs, match in [
        ({"chunk_shape": (200.0, 200.0)}, "chunk_shape has 2 values but the bounds corners have 3"),
        ({"chunk_shape": CS, "format_capabilities": ["nope"]}, "unknown format capabilities"),
        ({"chunk_shape": CS, "mode": "a"}, "mode must be"),
        ({}, "chunk_shape is required"),
    ]:
        with pytest.raises(ValidationError, match=match):
            create_store(target, bounds=BOUNDS, **kwargs)
    assert not (tmp_path / "store").exists()
    if isinstance(target, zarr.storage.MemoryStore):
        assert not target._store_dict
    create_store(target, bounds=BOUNDS, chunk_shape=CS, format_capabilities=["multiscale_links"])
    assert open_zv(target).metadata.format_capabilities == ("multiscale_links",)


def test_points_outside_the_bounds_say_how_many_and_how_to_widen(tmp_path: Path) -> None:
    pos = points(100)
    pos[:7, 0] = 1500.0
    with pytest.raises(ValidationError) as err:
        write_points(tmp_path / "s", pos, chunk_shape=CS, bounds=BOUNDS)
    assert "7 of 100 points" in str(err.value) and "1500.0" in str(err.value)
    assert not (tmp_path / "s").exists()
    write_points(tmp_path / "s", points(50), chunk_shape=CS, bounds=BOUNDS)
    with pytest.raises(ValidationError, match=r"7 of 100 points.*mode='w'"):
        write_points(tmp_path / "s", pos, mode="a")
    assert read_points(tmp_path / "s").vertex_count == 50


def test_bbox_that_selects_nothing_by_mistake_is_an_error(tmp_path: Path) -> None:
    write_points(tmp_path / "s", points(100), chunk_shape=CS, bounds=BOUNDS)
    zv = open_zv(tmp_path / "s")
    for box, match in [
        (((500, 500, 500), (0, 0, 0)), "min is above its max"),
        (((np.nan, 0, 0), (1, 1, 1)), "NaN"),
        (((0, 0), (1, 1)), "3 axes"),
        (((0, 0, 0), (1, 1)), "equal length"),
    ]:
        with pytest.raises(ValidationError, match=match):
            read_points(tmp_path / "s", bbox=box)
        with pytest.raises(ValidationError, match=match):
            zv.read_points(bbox=box)


def test_a_level_that_is_not_an_integer_is_named_as_such(tmp_path: Path) -> None:
    write_points(tmp_path / "s", points(100), chunk_shape=CS, bounds=BOUNDS, levels=2)
    zv = open_zv(tmp_path / "s")
    for bad in ("1", 1.0, True):
        with pytest.raises(ValidationError, match="level must be an integer"):
            read_points(tmp_path / "s", level=bad)
        with pytest.raises(ValidationError, match="level must be an integer"):
            zv.level(bad)  # type: ignore[arg-type]
    assert read_points(tmp_path / "s", level=np.int64(1)).level == 1
    assert zv[np.int64(1)].vertex_count == read_points(tmp_path / "s", level=1).vertex_count


def test_consolidated_metadata_written_later_is_refreshed_by_appends(tmp_path: Path) -> None:
    """The published package reads 1000 of 2000 points here; this one reads all 2000."""
    url = (tmp_path / "s").as_uri()
    write_points(url, points(1000, 1), chunk_shape=CS, bounds=BOUNDS, consolidate=False)
    consolidate_metadata(url)
    write_points(url, points(1000, 2), mode="a")
    assert read_points(url).vertex_count == 2000
    group = zarr.open_group(tmp_path / "s", mode="r", use_consolidated=True)
    cm = group.metadata.consolidated_metadata
    assert cm is not None
    flat = cm.flattened_metadata
    assert flat["0"].attributes["zarr_vectors_level"]["vertex_count"] == 2000
    on_disk = json.loads((tmp_path / "s" / "0" / "vertices" / "zarr.json").read_text())
    assert (
        flat["0/vertices"].attributes["nonempty_chunks"]
        == (on_disk["attributes"]["nonempty_chunks"])
    )


# -- remote backends on real servers ----------------------------------------------------------


class CountingBackend(Backend):
    """Passes every call to ``inner`` and records each request (kind, key)."""

    backend_name = "counting"

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.url)
        self.inner = inner
        self.requests: list[tuple[str, str]] = []

    def _get(self, key: str) -> bytes:
        self.requests.append(("get", key))
        return self.inner.get_bytes(key)

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        self.requests.append(("get", key))
        return self.inner.get_range(key, start, length)

    def _put(self, key: str, data: bytes) -> None:
        self.requests.append(("put", key))
        self.inner.put_bytes(key, data)

    def _exists(self, key: str) -> bool:
        self.requests.append(("exists", key))
        return self.inner.exists(key)

    def _delete(self, key: str) -> None:
        self.requests.append(("delete", key))
        self.inner.delete(key)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        self.requests.append(("list", prefix))
        return list(self.inner.list_prefix(prefix, recursive))

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        self.requests.extend(("get", k) for k in keys)
        return self.inner.get_many(keys)

    async def _aget(self, key: str) -> bytes:
        self.requests.append(("get", key))
        return await self.inner.aget_bytes(key)

    async def _aget_many(self, keys: list[str]) -> dict[str, bytes]:
        self.requests.extend(("get", k) for k in keys)
        return await self.inner.aget_many(keys)

    def metadata_requests(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "get" or r[1].endswith("zarr.json")]


def s3_options(server: Any) -> dict[str, Any]:
    return {
        "endpoint": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
    }


def remote_checks(url: str, options: dict[str, Any]) -> None:
    """What a remote backend must hold beyond the shared calls."""
    from zarr_vectors.storage import make_backend

    # Lazy open of a consolidated store is one metadata request; a read then
    # fetches cells and re-reads only the root, once, to confirm no writer
    # changed the cells it fetched (no array metadata, no listing).
    write_points(url, points(2000, 9), chunk_shape=CS, bounds=BOUNDS, **options)
    counting = CountingBackend(make_backend(url, **options))
    zv = open_zv(counting)
    assert counting.metadata_requests() == [("get", "zarr.json")]
    assert zv.consolidated and zv[0].vertex_count == 2000
    assert zv.read_points().vertex_count == 2000
    assert counting.metadata_requests() == [("get", "zarr.json")] * 2

    # Consolidation written later is refreshed by an append (never stale).
    write_points(
        url, points(1000, 1), chunk_shape=CS, bounds=BOUNDS, mode="w", consolidate=False, **options
    )
    assert not open_zv(url, **options).consolidated
    assert consolidate_metadata(url, **options) >= 3
    write_points(url, points(1000, 2), mode="a", **options)
    assert read_points(url, **options).vertex_count == 2000
    group = zarr.open_group(
        as_zarr_store(url, mode="r", **options), mode="r", use_consolidated=True
    )
    cm = group.metadata.consolidated_metadata
    assert cm is not None
    assert cm.flattened_metadata["0"].attributes["zarr_vectors_level"]["vertex_count"] == 2000

    # An already made backend is used as it is.
    backend = make_backend(url, **options)
    assert read_points(backend).vertex_count == 2000
    write_points(backend, points(10, 3), mode="a")
    assert open_zv(url, **options)[0].vertex_count == 2010


@pytest.mark.servers
def test_point_clouds_on_s3_through_obstore(s3_server: Any, s3_bucket: str) -> None:
    options = s3_options(s3_server)
    exercise(f"s3://{s3_bucket}/cloud.zarr", **options)
    exercise_create(f"s3://{s3_bucket}/created.zarr", **options)
    remote_checks(f"s3://{s3_bucket}/checks.zarr", options)
    store = as_zarr_store(f"s3://{s3_bucket}/x", mode="r", **options)
    assert store.backend.backend_name == "obstore"  # type: ignore[attr-defined]
    for text in (repr(store), str(store), repr(open_zv(f"s3://{s3_bucket}/cloud.zarr", **options))):
        assert s3_server.secret_key not in text


@pytest.mark.servers
def test_wrong_s3_credentials_fail_clearly_without_the_secret(
    s3_server: Any, s3_bucket: str
) -> None:
    options = {**s3_options(s3_server), "secret_access_key": "wrong-secret-1234567890"}
    with pytest.raises(StoreError) as err:
        write_points(f"s3://{s3_bucket}/denied.zarr", points(10), chunk_shape=CS, **options)
    assert "wrong-secret-1234567890" not in str(err.value)
    assert "wrong-secret-1234567890" not in repr(err.value)


class FailingBackend(CountingBackend):
    """A :class:`CountingBackend` whose writes fail once ``fail_after`` more have succeeded."""

    def __init__(self, inner: Backend, fail_after: int) -> None:
        super().__init__(inner)
        self.fail_after = fail_after

    def _put(self, key: str, data: bytes) -> None:
        if self.fail_after <= 0:
            raise StoreError(f"injected failure writing {key}")
        self.fail_after -= 1
        super()._put(key, data)


@pytest.mark.servers
@pytest.mark.parametrize("where", [0.0, 0.3, 0.9, -2, -1])
def test_an_append_failing_half_way_on_s3_leaves_the_old_points_readable(
    s3_server: Any, s3_bucket: str, where: float
) -> None:
    """Through the backend's own batch writes (not zarr's), as remote writes go.

    ``where`` is the fraction of a successful append's puts that succeed before
    the failure, or (negative) how many puts before the end it strikes: -1 is
    the final commit of the root document.
    """
    from zarr_vectors.storage import make_backend

    options = s3_options(s3_server)
    old, new = points(1500, 12), points(800, 13)
    dry = f"s3://{s3_bucket}/dry-run.zarr"
    write_points(dry, old, chunk_shape=CS, bounds=BOUNDS, **options)
    counter = CountingBackend(make_backend(dry, **options))
    write_points(counter, new, mode="a")
    total = sum(1 for kind, _ in counter.requests if kind == "put")
    fail_after = int(total * where) if where >= 0 else total + int(where)

    url = f"s3://{s3_bucket}/interrupted.zarr"
    write_points(url, old, chunk_shape=CS, bounds=BOUNDS, **options)
    failing = FailingBackend(make_backend(url, **options), fail_after)
    with pytest.raises(StoreError, match="injected"):
        write_points(failing, new, mode="a")
    assert_same_points(read_points(url, **options).positions, old)
    let_lease_run_out(url, **options)  # the failed writer could not give it back: time passes
    write_points(url, new, mode="a", **options)
    assert_same_points(read_points(url, **options).positions, np.concatenate([old, new]))
    assert open_zv(url, **options)[0].vertex_count == 2300


def azure_options(server: Any) -> dict[str, Any]:
    return {"account_name": server.account, "account_key": server.key, "endpoint": server.endpoint}


@pytest.mark.servers
def test_point_clouds_on_azure_blob_through_obstore(
    azure_server: Any, azure_container: str
) -> None:
    options = azure_options(azure_server)
    exercise(f"az://{azure_container}/cloud.zarr", **options)
    exercise_create(f"az://{azure_container}/created.zarr", **options)
    remote_checks(f"az://{azure_container}/checks.zarr", options)


@pytest.mark.servers
def test_point_clouds_read_over_http(http_server: Any) -> None:
    """A store served read-only over HTTP: every read call, and writes refused up front."""
    from zarr_vectors.storage import make_backend

    pos = points(1500, 14)
    ids = np.arange(1500)
    root = Path(http_server.root)
    write_points(
        root / "cloud.zarr",
        pos,
        chunk_shape=CS,
        bounds=BOUNDS,
        levels=2,
        vertex_attributes={"id": ids},
    )
    url = f"{http_server.url}/cloud.zarr"
    whole = read_points(url)
    assert_same_points(whole.positions, pos)
    np.testing.assert_array_equal(pos[whole.vertex_attributes["id"]], whole.positions)
    assert_same_points(read_points(url, bbox=BOX).positions, in_box(pos))
    coarse = read_points(root / "cloud.zarr", level=1).positions
    assert_same_points(read_points(url, level=1).positions, coarse)
    assert isinstance(open_store(url), zarr.Group)

    counting = CountingBackend(make_backend(url))
    zv = open_zv(counting)
    assert counting.metadata_requests() == [("get", "zarr.json")]
    assert zv.levels == [0, 1]
    assert_same_points(zv.read_points(bbox=BOX).positions, in_box(pos))
    # the read's one confirmation of the root, nothing else
    assert counting.metadata_requests() == [("get", "zarr.json")] * 2

    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for write in (
        lambda: write_points(url, pos, chunk_shape=CS, mode="w"),
        lambda: write_points(url, pos, mode="a"),
        lambda: create_store(url, bounds=BOUNDS, chunk_shape=CS),
        lambda: consolidate_metadata(url),
        lambda: open_store(url, mode="r+"),
    ):
        with pytest.raises(ReadOnlyBackendError, match="read-only"):
            write()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


@pytest.mark.servers
def test_point_clouds_on_s3_through_fsspec_chosen_by_name(s3_server: Any, s3_bucket: str) -> None:
    """``backend="fsspec"`` picks the other plugin for the same URL; the calls do not change."""
    options = {
        "backend": "fsspec",
        "key": s3_server.access_key,
        "secret": s3_server.secret_key,
        "endpoint_url": s3_server.endpoint,
        "client_kwargs": {"region_name": s3_server.region},
    }
    url = f"s3://{s3_bucket}/fsspec.zarr"
    exercise(url, **options)
    store = as_zarr_store(url, mode="r", **options)
    assert store.backend.backend_name == "fsspec"  # type: ignore[attr-defined]
    # Written through fsspec, read through obstore: the same objects.
    assert read_points(url, **s3_options(s3_server)).vertex_count == 3000


@pytest.mark.servers
def test_point_clouds_on_gcs_written_by_fsspec_and_read_by_obstore(
    gcs_server: Any, gcs_bucket: str
) -> None:
    """gs:// on fake-gcs-server.

    obstore uploads through GCS's XML API, which the emulator does not take
    (docs/backends.md, Limits), so writes go through the fsspec plugin (gcsfs,
    JSON API) and every read is checked through obstore, the default for gs://.
    """
    from zarr_vectors.storage import make_backend

    writer = {
        "backend": "fsspec",
        "endpoint_url": gcs_server.endpoint,
        "token": "anon",
        "project": "zv-test",
    }
    reader = {"endpoint": gcs_server.endpoint, "skip_signature": True}
    exercise(f"gs://{gcs_bucket}/fsspec.zarr", **writer)
    exercise_create(f"gs://{gcs_bucket}/created.zarr", **writer)

    url = f"gs://{gcs_bucket}/cloud.zarr"
    pos = points(1800, 15)
    write_points(url, pos, chunk_shape=CS, bounds=BOUNDS, levels=2, **writer)
    obstore_store = as_zarr_store(url, mode="r", **reader)
    assert obstore_store.backend.backend_name == "obstore"  # type: ignore[attr-defined]
    assert_same_points(read_points(url, **reader).positions, pos)
    assert_same_points(read_points(url, bbox=BOX, **reader).positions, in_box(pos))
    assert_same_points(
        read_points(url, level=1, **reader).positions,
        read_points(url, level=1, **writer).positions,
    )
    counting = CountingBackend(make_backend(url, **reader))
    zv = open_zv(counting)
    assert counting.metadata_requests() == [("get", "zarr.json")]
    assert zv.levels == [0, 1] and zv[0].vertex_count == 1800
    assert isinstance(open_store(url, **reader), zarr.Group)

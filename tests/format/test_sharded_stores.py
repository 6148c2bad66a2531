"""Sharded stores both ways: 0.9.2's read here, ours read by 0.9.2, appends, ranged box reads.

The shard codec itself is tested in tests/format/test_sharding.py; these tests go
through write_points/read_points on whole stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.servers import procs
from tests.helpers.servers.counting_proxy import CountingProxy
from tests.helpers.upstream_env import run_published
from zarr_vectors.store import verify_store
from zarr_vectors.types.points import read_points, write_points

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "upstream-0.9.2-sharded"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared fixtures absent")


def table(positions: np.ndarray, attributes: dict[str, np.ndarray]) -> np.ndarray:
    cols = [np.asarray(positions, np.float64)]
    cols += [
        np.asarray(attributes[k], np.float64).reshape(len(positions), -1)
        for k in sorted(attributes)
    ]
    out = np.column_stack(cols)
    return out[np.lexsort(out.T[::-1])]


@needs_fixtures
@pytest.mark.parametrize("name", ["sharded", "sharded_attrs_zstd", "sharded_neg2d"])
def test_the_published_sharded_stores_read_back_exactly(name: str) -> None:
    ref = np.load(FIXTURES / f"{name}.npz")
    store = FIXTURES / f"{name}.zarrvectors"
    cloud = read_points(store)
    expected = {k: ref[k] for k in cloud.vertex_attributes}
    assert (
        table(cloud.positions, cloud.vertex_attributes).tolist()
        == table(ref["positions"], expected).tolist()
    )
    lo = ref["positions"].min(axis=0)
    hi = lo + (ref["positions"].max(axis=0) - lo) * 0.4
    box = read_points(store, bbox=(lo.tolist(), hi.tolist()))
    inside = np.all((ref["positions"] >= lo) & (ref["positions"] <= hi), axis=1)
    assert box.vertex_count == int(inside.sum()) > 0
    assert verify_store(store).ok


def test_sharded_writes_appends_and_replaces(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    pts = rng.uniform(-300, 1000, (30_000, 3)).astype(np.float32)
    ids = np.arange(len(pts))
    path = tmp_path / "s"
    write_points(
        path, pts, chunk_shape=(100.0,) * 3, shard_shape=(4, 4, 4), vertex_attributes={"id": ids}
    )
    doc = json.loads((path / "0" / "vertices" / "zarr.json").read_text())
    assert doc["codecs"][0]["name"] == "sharding_indexed"
    assert doc["chunk_grid"]["configuration"]["chunk_shape"] == [4, 4, 4]
    shards = list((path / "0" / "vertices" / "c").rglob("*"))
    assert 0 < len([s for s in shards if s.is_file()]) <= 64  # 13^3 cells in 4^3 shards
    more = rng.uniform(0, 500, (2_000, 3)).astype(np.float32)
    write_points(path, more, mode="a", vertex_attributes={"id": np.arange(2_000) + 10**6})
    cloud = read_points(path)
    want = table(
        np.concatenate([pts, more]), {"id": np.concatenate([ids, np.arange(2_000) + 10**6])}
    )
    np.testing.assert_array_equal(table(cloud.positions, cloud.vertex_attributes), want)
    assert verify_store(path).ok
    write_points(path, pts[:100], chunk_shape=(100.0,) * 3, shard_shape=2, mode="w")
    assert read_points(path).vertex_count == 100


def test_a_sharded_store_written_here_reads_in_the_published_package(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    pts = rng.uniform(-200, 800, (8_000, 3)).astype(np.float32)
    attrs = {"id": np.arange(len(pts)), "normal": rng.normal(size=(len(pts), 3))}
    path = tmp_path / "ours.zarrvectors"
    write_points(
        path,
        pts,
        chunk_shape=(100.0,) * 3,
        shard_shape=3,
        vertex_attributes=attrs,
        compressor="zstd",
    )
    write_points(
        path, pts[:300] * 0.5, mode="a", vertex_attributes={k: v[:300] for k, v in attrs.items()}
    )
    out = tmp_path / "theirs.npz"
    run_published(
        "import sys, numpy as np\n"
        "from zarr_vectors.types.points import read_points\n"
        "r = read_points(sys.argv[1], attribute_names=['id', 'normal'])\n"
        "np.savez(sys.argv[2], positions=r['positions'], **r['vertex_attributes'])\n",
        str(path),
        str(out),
    )
    theirs = np.load(out)
    mine = read_points(path)
    assert (
        table(theirs["positions"], {k: theirs[k] for k in ("id", "normal")}).tolist()
        == table(mine.positions, mine.vertex_attributes).tolist()
    )


@pytest.mark.servers
def test_a_box_read_of_a_sharded_store_fetches_ranges(
    s3_server: procs.S3Server, s3_bucket: str, s3_counting_proxy: CountingProxy
) -> None:
    """Shard index, then the wanted cells' byte ranges: never the whole shard objects."""
    rng = np.random.default_rng(9)
    pts = rng.uniform(0, 1000, (60_000, 3)).astype(np.float32)
    options: dict[str, Any] = {
        "endpoint": s3_server.endpoint,
        "region": s3_server.region,
        "access_key_id": s3_server.access_key,
        "secret_access_key": s3_server.secret_key,
    }
    url = f"s3://{s3_bucket}/sharded.zv"
    write_points(url, pts, chunk_shape=(50.0,) * 3, shard_shape=(5, 5, 5), storage_options=options)
    s3_counting_proxy.reset()
    proxied = {**options, "endpoint": s3_counting_proxy.url}
    box = ((0.0, 0.0, 0.0), (60.0, 60.0, 60.0))  # 8 cells, all in the first shard
    got = read_points(url, bbox=box, storage_options=proxied)
    inside = np.all((pts >= 0) & (pts <= 60), axis=1)
    assert got.vertex_count == int(inside.sum())
    counts = s3_counting_proxy.counts()
    gets = sum(n for kind, n in counts.items() if kind.startswith("GET"))
    heads = sum(n for kind, n in counts.items() if kind.startswith("HEAD"))
    # root + root again (snapshot check) + per array (vertices, fragments): a HEAD, the
    # index, and coalesced ranges: a handful, not one request per cell or shard.
    assert heads <= 2, counts
    assert gets <= 2 + 2 * 3, counts
    write_points(url + "-whole", pts, chunk_shape=(50.0,) * 3, storage_options=options)
    s3_counting_proxy.reset()
    read_points(url + "-whole", bbox=box, storage_options=proxied)
    unsharded_gets = sum(n for k, n in s3_counting_proxy.counts().items() if k.startswith("GET"))
    assert unsharded_gets >= 8  # one per cell object without shards

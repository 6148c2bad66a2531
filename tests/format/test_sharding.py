"""Zarr v3 ``sharding_indexed`` shards of cell arrays (``zarr_vectors.format.sharding``).

* Every shard of every store in ``upstream-0.9.2-sharded`` (written by the
  published 0.9.2) decodes here to exactly the points and attributes in the
  ``.npz`` beside it, every cell in the cell its points fall in, and encoding
  the decoded cells again gives the very same shard bytes.
* Shards encoded here round-trip (index at the end or the start, with and
  without compression), and ranged reads planned from the index (coalesced)
  give the same cells as decoding whole shards.
* zarr-python reads arrays whose shards were encoded here, and shards written
  by zarr-python decode here.
* The published 0.9.2 reads whole sharded stores whose shards and array
  documents were made here (no store-level writer involved).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.helpers.upstream_env import run_published
from zarr_vectors.exceptions import CorruptStoreError, StoreError, ValidationError
from zarr_vectors.format import sharding as sh
from zarr_vectors.format.cells import codec_chain
from zarr_vectors.format.fragments import decode_fragment_rows, encode_single_range
from zarr_vectors.format.grid import group_by_cell, parse_world_key, world_key
from zarr_vectors.format.levels import level_array_docs

FIXTURES = Path(
    os.environ.get("ZV_SHARDED_FIXTURES", "/work/shared/fixtures/upstream-0.9.2-sharded")
)
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"reference stores not found at {FIXTURES}"
)
STORES = ["sharded", "sharded_attrs_zstd", "sharded_neg2d"]
# zarr-python warns that variable_length_bytes has no v3 specification yet.
quiet_zarr = pytest.mark.filterwarnings("ignore::UserWarning")


def as_set(*columns: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Rows of the given columns side by side, sorted lexicographically (float64)."""
    table = np.column_stack([np.asarray(c, dtype=np.float64).reshape(len(c), -1) for c in columns])
    return table[np.lexsort(table.T[::-1])]


def array_dirs(store: Path) -> Iterator[Path]:
    for doc in sorted(store.rglob("zarr.json")):
        if json.loads(doc.read_text())["node_type"] == "array":
            yield doc.parent


def shard_files(array: Path) -> Iterator[tuple[tuple[int, ...], Path]]:
    for f in sorted((array / "c").rglob("*")):
        if f.is_file():
            yield tuple(int(p) for p in f.relative_to(array / "c").parts), f


def decode_array(array: Path) -> dict[tuple[int, ...], bytes]:
    """Every cell payload of a sharded array on disk, by world cell."""
    doc = json.loads((array / "zarr.json").read_text())
    spec = sh.parse_sharding(doc)
    assert spec is not None
    origin = doc["attributes"].get("chunk_grid_origin", [0] * spec.ndim)
    cells: dict[tuple[int, ...], bytes] = {}
    for shard, f in shard_files(array):
        for inner, payload in sh.decode_shard(spec, f.read_bytes(), str(f)).items():
            local = spec.inner_coords(inner)
            grid = [s * n + i for s, n, i in zip(shard, spec.shard_shape, local, strict=True)]
            assert spec.locate(grid) == (shard, inner)
            cells[tuple(g + o for g, o in zip(grid, origin, strict=True))] = payload
    return cells


# -- the published package's shards -------------------------------------------------
@needs_fixtures
@pytest.mark.parametrize("name", STORES)
def test_every_reference_cell_decodes_to_the_written_points(name: str) -> None:
    store = FIXTURES / f"{name}.zarrvectors"
    ref = np.load(FIXTURES / f"{name}.npz")
    root = json.loads((store / "zarr.json").read_text())["attributes"]["zarr_vectors"]
    cs = np.asarray(root["chunk_shape"])
    ndim = len(cs)
    level = store / "0"
    vdoc = json.loads((level / "vertices" / "zarr.json").read_text())
    vertices = decode_array(level / "vertices")
    fragments = decode_array(level / "vertex_fragments")
    attr_names = [k for k in ref.files if k != "positions"]
    attrs = {n: decode_array(level / "vertex_attributes" / n) for n in attr_names}

    # the cells present are exactly the listed ones, in every array
    listed = {parse_world_key(k) for k in vdoc["attributes"]["nonempty_chunks"]}
    assert set(vertices) == listed
    assert set(fragments) == listed
    for cols in attrs.values():
        assert set(cols) == listed

    pos_parts: list[npt.NDArray[Any]] = []
    attr_parts: dict[str, list[npt.NDArray[Any]]] = {n: [] for n in attr_names}
    for world in sorted(vertices):
        pts = np.frombuffer(vertices[world], dtype=vdoc["attributes"]["dtype"]).reshape(-1, ndim)
        assert len(pts)
        assert decode_fragment_rows(fragments[world]) == len(pts)
        # every point lies in the cell it is stored in
        np.testing.assert_array_equal(
            np.floor(pts.astype(np.float64) / cs).astype(np.int64), np.tile(world, (len(pts), 1))
        )
        pos_parts.append(pts)
        for n in attr_names:
            adoc = json.loads((level / "vertex_attributes" / n / "zarr.json").read_text())
            col = np.frombuffer(attrs[n][world], dtype=adoc["attributes"]["dtype"])
            assert len(col) == len(pts)
            attr_parts[n].append(col)
    positions = np.concatenate(pos_parts)
    assert positions.dtype == ref["positions"].dtype
    got = as_set(positions, *(np.concatenate(attr_parts[n]) for n in attr_names))
    want = as_set(ref["positions"], *(ref[n] for n in attr_names))
    np.testing.assert_array_equal(got, want)


@needs_fixtures
@pytest.mark.parametrize("name", STORES)
def test_reencoding_reference_shards_is_byte_identical(name: str) -> None:
    """Same Morton layout, index, checksum and codecs as 0.9.2 (via zarr-python) writes."""
    n_shards = 0
    for array in array_dirs(FIXTURES / f"{name}.zarrvectors"):
        spec = sh.parse_sharding(json.loads((array / "zarr.json").read_text()))
        assert spec is not None
        for _, f in shard_files(array):
            data = f.read_bytes()
            cells = sh.decode_shard(spec, data, str(f))
            again = sh.encode_shard(spec, {spec.inner_coords(i): p for i, p in cells.items()})
            assert again == data, f"{f} differs when encoded again"
            n_shards += 1
    assert n_shards > 0


@needs_fixtures
def test_reference_layout_facts() -> None:
    """What 0.9.2 writes: grid = shard shape, 1-cell inner chunks, index at the end + crc32c."""
    doc = json.loads((FIXTURES / "sharded_neg2d.zarrvectors/0/vertices/zarr.json").read_text())
    spec = sh.parse_sharding(doc)
    assert spec is not None
    assert spec.shard_shape == (4, 6)
    assert spec.inner_shape == (1, 1)
    assert spec.index_location == "end"
    assert spec.index_nbytes == 16 * 24 + 4
    assert spec.array_shape == (21, 21)
    assert doc["attributes"]["chunk_grid_origin"] == [-10, -10]
    # world (-10, -10) is grid (0, 0); world (9, 9) is grid (19, 19): shard (4, 3), inner (3, 1)
    assert spec.locate([0, 0]) == ((0, 0), 0)
    assert spec.locate([19, 19]) == ((4, 3), 3 * 6 + 1)
    assert spec.shard_key("0/vertices", (4, 3)) == "0/vertices/c/4/3"
    # a shard on the edge has a full 4 x 6 index; cells past the array's shape are empty
    data = (FIXTURES / "sharded_neg2d.zarrvectors/0/vertices/c/4/3").read_bytes()
    start, length = spec.index_range(len(data))
    index = sh.decode_index(spec, data[start : start + length], shard_size=len(data))
    assert len(index.table) == 24
    present = {spec.inner_coords(i) for i in index.nonempty()}
    assert present == {(r, c) for r in range(4) for c in range(2)}  # grid rows 16..19, cols 18..19
    with pytest.raises(ValidationError, match="outside"):
        spec.locate([21, 0])
    # shards with no cell are not stored: grid row 20 is empty, so shards c/5/* are absent
    assert not (FIXTURES / "sharded_neg2d.zarrvectors/0/vertices/c/5").exists()


# -- round trips ---------------------------------------------------------------------
def random_cells(
    spec: sh.ShardingSpec, rng: np.random.Generator, fill: float = 0.6
) -> dict[tuple[int, ...], bytes]:
    out = {}
    for i in range(spec.n_inner):
        if rng.random() < fill:
            out[spec.inner_coords(i)] = rng.bytes(int(rng.integers(1, 300)))
    return out


def make_spec(
    shard: tuple[int, ...], compressor: str | None = None, location: sh.IndexLocation = "end"
) -> sh.ShardingSpec:
    doc = {
        "shape": [s * 3 for s in shard],
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "codecs": sh.sharding_codecs(len(shard), codec_chain(compressor), index_location=location),
    }
    spec = sh.parse_sharding(doc)
    assert spec is not None
    return spec


@pytest.mark.parametrize("location", ["end", "start"])
@pytest.mark.parametrize("compressor", [None, "zstd", "gzip"])
@pytest.mark.parametrize("shard", [(4, 4, 4), (3, 5), (7,), (2, 3, 1)])
def test_round_trip(shard: tuple[int, ...], compressor: str | None, location: str) -> None:
    spec = make_spec(shard, compressor, location)  # type: ignore[arg-type]
    rng = np.random.default_rng(sum(shard))
    cells = random_cells(spec, rng)
    data = sh.encode_shard(spec, cells)
    assert data is not None
    whole = sh.decode_shard(spec, data)
    assert {spec.inner_coords(i): p for i, p in whole.items()} == cells
    # the index alone, then ranges of a subset of cells
    start, length = spec.index_range(len(data))
    if location == "start":
        assert start == 0
    else:
        assert start + length == len(data)
    index = sh.decode_index(spec, data[start : start + length], shard_size=len(data))
    wanted = [spec.inner_index(k) for k in cells if rng.random() < 0.5]
    for gap in (-1, 0, 50, 1 << 20):
        ranges = sh.plan_ranges(index, wanted, gap=gap)
        blobs = [data[r.start : r.end] for r in ranges]
        got = sh.slice_ranges(ranges, blobs)
        assert sorted(got) == sorted(set(wanted))
        for i, raw in got.items():
            assert spec.decode_cell(raw) == cells[spec.inner_coords(i)]


def test_empty_shard_is_not_stored() -> None:
    spec = make_spec((2, 2))
    assert sh.encode_shard(spec, {}) is None
    assert sh.encode_shard(spec, {(0, 0): b"", (1, 1): b""}) is None
    data = sh.encode_shard(spec, {(0, 0): b"", (1, 1): b"abc"})
    assert data is not None
    assert sh.decode_shard(spec, data) == {3: b"abc"}


# -- damage and unsupported layouts ------------------------------------------------------
def test_damaged_shards_are_reported() -> None:
    spec = make_spec((2, 2))
    data = sh.encode_shard(spec, {(0, 0): b"abc", (1, 0): b"defg"})
    assert data is not None
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF
    with pytest.raises(CorruptStoreError, match="checksum"):
        sh.decode_shard(spec, bytes(flipped), "0/vertices/c/0/0")
    with pytest.raises(CorruptStoreError, match="shorter than its index"):
        sh.decode_shard(spec, data[:20], "0/vertices/c/0/0")
    with pytest.raises(CorruptStoreError, match="outside the shard"):
        sh.decode_shard(spec, data[5:], "0/vertices/c/0/0")  # offsets now point past the end
    with pytest.raises(CorruptStoreError, match="expected"):
        sh.decode_index(spec, data[-30:])


def test_parse_sharding() -> None:
    plain = {"shape": [3], "codecs": codec_chain(None)}
    assert sh.parse_sharding(plain) is None
    sharding = sh.sharding_codecs(2, codec_chain("zstd"))
    base: dict[str, Any] = {
        "shape": [8, 8],
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
        "codecs": sharding,
    }
    spec = sh.parse_sharding(base)
    assert spec is not None
    assert spec.codecs[1]["name"] == "zstd"
    v2 = {**base, "chunk_key_encoding": {"name": "v2", "configuration": {"separator": "."}}}
    assert sh.parse_sharding(v2).shard_key("a", (1, 2)) == "a/1.2"  # type: ignore[union-attr]

    def with_conf(**kw: Any) -> dict[str, Any]:
        codec = {
            "name": "sharding_indexed",
            "configuration": {**sharding[0]["configuration"], **kw},
        }
        return {**base, "codecs": [codec]}

    with pytest.raises(StoreError, match="one cell per inner chunk"):
        sh.parse_sharding(with_conf(chunk_shape=[2, 2]))
    with pytest.raises(StoreError, match="index codecs"):
        sh.parse_sharding(with_conf(index_codecs=[{"name": "bytes"}, {"name": "zstd"}]))
    with pytest.raises(StoreError, match="index_location"):
        sh.parse_sharding(with_conf(index_location="middle"))
    with pytest.raises(StoreError, match="vlen-bytes"):
        sh.parse_sharding(with_conf(codecs=[{"name": "bytes"}]))
    with pytest.raises(StoreError, match="single codec"):
        sh.parse_sharding({**base, "codecs": [*sharding, {"name": "crc32c"}]})


def test_validate_shard_shape() -> None:
    assert sh.validate_shard_shape(4, 3) == (4, 4, 4)
    assert sh.validate_shard_shape([4, 6], 2) == (4, 6)
    for bad in (0, [4], [4, 0], [4.0, 2], True, "4"):
        with pytest.raises(ValidationError, match="shard_shape"):
            sh.validate_shard_shape(bad, 2)  # type: ignore[arg-type]


def test_group_by_shard_matches_locate() -> None:
    spec = make_spec((4, 6))  # array of 12 x 18 cells
    rng = np.random.default_rng(3)
    grid = np.stack([rng.integers(0, 12, 200), rng.integers(0, 18, 200)], axis=1)
    groups = sh.group_by_shard(spec, grid)
    assert list(groups) == sorted(groups)
    seen = 0
    for shard, (inner, rows) in groups.items():
        assert np.all(np.diff(rows) > 0)  # input order inside a shard
        for i, r in zip(inner.tolist(), rows.tolist(), strict=True):
            assert spec.locate(grid[r]) == (shard, i)
        seen += len(rows)
    assert seen == len(grid)
    assert sh.group_by_shard(spec, np.empty((0, 2), np.int64)) == {}
    with pytest.raises(ValidationError, match="outside"):
        sh.group_by_shard(spec, [[12, 0]])


# -- zarr-python, both ways ------------------------------------------------------------
def write_sharded_array(
    root: Path,
    doc: dict[str, Any],
    spec: sh.ShardingSpec,
    cells: dict[tuple[int, ...], bytes],
    path: str = "",
) -> None:
    """An array directory holding ``cells`` (grid coordinates -> payload), shards encoded here."""
    where = root / path if path else root
    where.mkdir(parents=True, exist_ok=True)
    (where / "zarr.json").write_text(json.dumps(doc))
    grid = np.array(list(cells), dtype=np.int64).reshape(-1, spec.ndim)
    keys = list(cells)
    for shard, (inner, rows) in sh.group_by_shard(spec, grid).items():
        payloads = {
            spec.inner_coords(int(i)): cells[keys[r]]
            for i, r in zip(inner.tolist(), rows.tolist(), strict=True)
        }
        data = sh.encode_shard(spec, payloads)
        assert data is not None
        key = root / spec.shard_key(path, shard) if path else root / spec.shard_key("", shard)[1:]
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(data)


@quiet_zarr
@pytest.mark.parametrize(("compressor", "location"), [(None, "end"), ("zstd", "start")])
def test_zarr_python_reads_shards_encoded_here(
    tmp_path: Path, compressor: str | None, location: sh.IndexLocation
) -> None:
    import zarr
    from zarr.storage import LocalStore

    shape, shard = (9, 10, 3), (4, 3, 2)
    doc = sh.sharded_array_json(
        level_array_docs(
            "0",
            dtype="float32",
            attributes={},
            origin=[0, 0, 0],
            grid_shape=shape,
            codecs=codec_chain(compressor),
            nonempty=[],
        )["0/vertices"],
        shard,
        index_location=location,
    )
    spec = sh.parse_sharding(doc)
    assert spec is not None
    rng = np.random.default_rng(1)
    cells = {
        tuple(int(v) for v in np.unravel_index(i, shape)): rng.bytes(int(rng.integers(1, 200)))
        for i in range(int(np.prod(shape)))
        if rng.random() < 0.5
    }
    write_sharded_array(tmp_path, doc, spec, cells)
    store = LocalStore(tmp_path, read_only=True)
    try:
        arr = zarr.open_array(store=store, mode="r")
        values = np.asarray(arr[...])
    finally:
        store.close()
    assert values.shape == shape
    for idx in np.ndindex(*shape):
        assert values[idx] == cells.get(idx, b""), idx


@quiet_zarr
def test_shards_written_by_zarr_python_decode_here(tmp_path: Path) -> None:
    """Index at the start and gzip inside, written by zarr-python itself."""
    import zarr
    from zarr.storage import LocalStore

    shape, shard = (5, 7), (2, 4)
    codecs = sh.sharding_codecs(2, codec_chain("gzip"), index_location="start")
    doc = {
        "shape": list(shape),
        "data_type": "variable_length_bytes",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "",
        "codecs": codecs,
        "attributes": {},
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    }
    (tmp_path / "zarr.json").write_text(json.dumps(doc))
    rng = np.random.default_rng(2)
    values = np.empty(shape, dtype=object)
    values[...] = b""
    for idx in np.ndindex(*shape):
        if rng.random() < 0.6:
            values[idx] = rng.bytes(int(rng.integers(1, 100)))
    store = LocalStore(tmp_path)
    try:
        zarr.open_array(store=store, mode="r+")[...] = values
    finally:
        store.close()
    spec = sh.parse_sharding(doc)
    assert spec is not None
    got = np.empty(shape, dtype=object)
    got[...] = b""
    for shard_coords, f in shard_files(tmp_path):
        for inner, payload in sh.decode_shard(spec, f.read_bytes(), str(f)).items():
            local = spec.inner_coords(inner)
            got[tuple(s * n + i for s, n, i in zip(shard_coords, shard, local, strict=True))] = (
                payload
            )
    assert got.tolist() == values.tolist()


# -- the published package reads stores whose shards were made here ------------------------
PUBLISHED_READER = r"""
import json, sys
import numpy as np
from zarr_vectors.types.points import read_points
jobs = json.loads(open(sys.argv[1]).read())
out = {}
for i, job in enumerate(jobs):
    res = read_points(job["path"], attribute_names=job["attributes"] or None)
    out[f"{i}_positions"] = np.asarray(res["positions"])
    for name, col in res.get("vertex_attributes", {}).items():
        out[f"{i}_attr_{name}"] = np.asarray(col)
np.savez(sys.argv[2], **out)
"""


def build_store(
    template: Path,
    dest: Path,
    positions: npt.NDArray[np.float32],
    attributes: dict[str, npt.NDArray[Any]],
    *,
    index_location: sh.IndexLocation,
    compressor: str | None,
) -> None:
    """A whole sharded store: root and level documents from ``template``, the rest made here."""
    root = json.loads((template / "zarr.json").read_text())
    meta = root["attributes"]["zarr_vectors"]
    cs = meta["chunk_shape"]
    lo = meta["bounds"][0]
    vdoc = json.loads((template / "0/vertices/zarr.json").read_text())
    shard_shape = vdoc["chunk_grid"]["configuration"]["chunk_shape"]
    origin = [int(np.floor(b / c)) for b, c in zip(lo, cs, strict=True)]
    grid_shape = vdoc["shape"]
    groups = group_by_cell(positions, cs)
    nonempty = sorted(world_key(w) for w in groups.world.tolist())
    docs = level_array_docs(
        "0",
        dtype="float32",
        attributes={n: (str(a.dtype), []) for n, a in attributes.items()},
        origin=origin,
        grid_shape=grid_shape,
        codecs=codec_chain(compressor),
        nonempty=nonempty,
    )
    dest.mkdir(parents=True)
    shutil.copy(template / "zarr.json", dest / "zarr.json")
    level = json.loads((template / "0/zarr.json").read_text())
    level["attributes"]["zarr_vectors_level"]["vertex_count"] = len(positions)
    level["attributes"]["zarr_vectors_level"]["arrays_present"] = ["vertices"] + (
        ["vertex_attributes"] if attributes else []
    )
    (dest / "0").mkdir()
    (dest / "0/zarr.json").write_text(json.dumps(level))
    columns = {"vertices": positions, **attributes}
    for path, doc in docs.items():
        if doc["node_type"] != "array":
            (dest / path).mkdir(parents=True, exist_ok=True)
            (dest / path / "zarr.json").write_text(json.dumps(doc))
            continue
        sdoc = sh.sharded_array_json(doc, shard_shape, index_location=index_location)
        spec = sh.parse_sharding(sdoc)
        assert spec is not None
        name = path.split("/")[-1]
        cells: dict[tuple[int, ...], bytes] = {}
        for i, world in enumerate(groups.world.tolist()):
            rows = groups.order[groups.starts[i] : groups.starts[i + 1]]
            grid = tuple(w - o for w, o in zip(world, origin, strict=True))
            if name == "vertex_fragments":
                cells[grid] = encode_single_range(len(rows))
            else:
                cells[grid] = np.ascontiguousarray(columns[name][rows]).tobytes()
        write_sharded_array(dest, sdoc, spec, cells, path)


@needs_fixtures
@pytest.mark.slow
def test_published_092_reads_sharded_stores_made_here(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    jobs, expected = [], []
    cases = [
        ("sharded_attrs_zstd", "end", "zstd", 0.0, 1000.0, True),
        ("sharded_neg2d", "end", None, -500.0, 500.0, False),
        ("sharded", "start", None, 0.0, 1000.0, False),
    ]
    for i, (template, location, comp, lo, hi, with_attrs) in enumerate(cases):
        ndim = 2 if "2d" in template else 3
        pos = rng.uniform(lo, hi, (4_000, ndim)).astype(np.float32)
        attrs = (
            {
                "intensity": rng.random(len(pos)).astype(np.float32),
                "label": rng.integers(0, 9, len(pos)).astype(np.int32),
            }
            if with_attrs
            else {}
        )
        dest = tmp_path / f"s{i}.zarrvectors"
        build_store(
            FIXTURES / f"{template}.zarrvectors",
            dest,
            pos,
            attrs,
            index_location=location,  # type: ignore[arg-type]
            compressor=comp,
        )
        jobs.append({"path": str(dest), "attributes": sorted(attrs)})
        expected.append((pos, attrs))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_published(PUBLISHED_READER, str(tmp_path / "jobs.json"), str(tmp_path / "out.npz"))
    out = np.load(tmp_path / "out.npz")
    for i, (pos, attrs) in enumerate(expected):
        names = sorted(attrs)
        got = as_set(out[f"{i}_positions"], *(out[f"{i}_attr_{n}"] for n in names))
        np.testing.assert_array_equal(got, as_set(pos, *(attrs[n] for n in names)))
    # and our own decoder agrees with what was written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cells = decode_array(tmp_path / "s1.zarrvectors/0/vertices")
    back = np.concatenate([np.frombuffer(c, np.float32).reshape(-1, 2) for c in cells.values()])
    np.testing.assert_array_equal(as_set(back), as_set(expected[1][0]))

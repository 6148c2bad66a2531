"""Compatibility with the published zarr-vectors 0.9.2, both ways.

* Every reference store in ``/work/shared/fixtures/upstream-0.9.2`` (written by
  the published package) reads back here with exactly the points and
  attributes that were written, level 1 of the pyramid included.
* Stores written here (plain, with attributes, 2-D with a negative origin,
  zstd, with a second level, appended after consolidation) read back in the
  published package's ``read_points``, run in its own venv.

Rows are compared as sets (sorted lexicographically): both packages return
points grouped by cell, not in input order.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.upstream_env import run_published
from zarr_vectors.types.points import read_points, write_points

FIXTURES = Path(os.environ.get("ZV_FIXTURES", "/work/shared/fixtures/upstream-0.9.2"))
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"reference stores not found at {FIXTURES}"
)


def as_set(*columns: np.ndarray) -> np.ndarray:
    """Rows of the given columns side by side, sorted lexicographically (float64)."""
    table = np.column_stack([np.asarray(c, dtype=np.float64).reshape(len(c), -1) for c in columns])
    return table[np.lexsort(table.T[::-1])]


@needs_fixtures
@pytest.mark.parametrize("name", ["basic", "attrs", "neg2d", "zstd", "pyramid"])
def test_reference_store_reads_back_exactly(name: str) -> None:
    ref = np.load(FIXTURES / f"{name}.npz")
    got = read_points(FIXTURES / f"{name}.zarrvectors")
    assert got.positions.dtype == ref["positions"].dtype
    attr_names = [k for k in ref.files if k not in ("positions", "level1_positions")]
    assert sorted(got.vertex_attributes) == sorted(attr_names)
    expected = as_set(ref["positions"], *(ref[n] for n in attr_names))
    actual = as_set(got.positions, *(got.vertex_attributes[n] for n in attr_names))
    np.testing.assert_array_equal(actual, expected)


@needs_fixtures
def test_reference_pyramid_level_1() -> None:
    ref = np.load(FIXTURES / "pyramid.npz")
    got = read_points(FIXTURES / "pyramid.zarrvectors", level=1)
    np.testing.assert_array_equal(as_set(got.positions), as_set(ref["level1_positions"]))


@needs_fixtures
def test_reference_bbox_read_matches_a_filter_of_the_written_points() -> None:
    ref = np.load(FIXTURES / "neg2d.npz")["positions"]
    box = ((-260.0, -90.0), (130.5, 410.0))
    got = read_points(FIXTURES / "neg2d.zarrvectors", bbox=box)
    inside = np.all((ref >= box[0]) & (ref <= box[1]), axis=1)
    assert 0 < got.vertex_count < len(ref)
    np.testing.assert_array_equal(as_set(got.positions), as_set(ref[inside]))


READER = r"""
import json, sys
import numpy as np
from zarr_vectors.types.points import read_points
jobs = json.loads(open(sys.argv[1]).read())
out = {}
for i, job in enumerate(jobs):
    kw = dict(job.get("kwargs", {}))
    if "bbox" in kw:
        kw["bbox"] = (np.asarray(kw["bbox"][0]), np.asarray(kw["bbox"][1]))
    res = read_points(job["path"], **kw)
    out[f"{i}_positions"] = np.asarray(res["positions"])
    for name, col in res.get("vertex_attributes", {}).items():
        out[f"{i}_attr_{name}"] = np.asarray(col)
np.savez(sys.argv[2], **out)
"""


@pytest.mark.slow
def test_published_package_reads_stores_written_here(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    p3 = rng.uniform(0, 1000, (4000, 3)).astype(np.float32)
    p2 = rng.uniform(-500, 500, (1500, 2)).astype(np.float32)
    intensity = rng.random(4000).astype(np.float32)
    label = rng.integers(0, 50, 4000).astype(np.int32)
    cs3 = (250.0, 250.0, 250.0)

    write_points(tmp_path / "plain.zv", p3, chunk_shape=cs3, bounds=((0,) * 3, (1000,) * 3))
    write_points(
        tmp_path / "attrs.zv",
        p3,
        chunk_shape=cs3,
        vertex_attributes={"intensity": intensity, "label": label},
    )
    write_points(
        tmp_path / "neg2d.zv", p2, chunk_shape=(200.0, 200.0), bounds=((-500,) * 2, (500,) * 2)
    )
    write_points(tmp_path / "zstd.zv", p3, chunk_shape=cs3, compressor="zstd")
    write_points(tmp_path / "pyramid.zv", p3, chunk_shape=cs3, levels=2)
    # Consolidated, then appended: the published reader trusts the consolidated
    # metadata, so this shows the append refreshed it.
    write_points(tmp_path / "append.zv", p3[:2000], chunk_shape=cs3, bounds=((0,) * 3, (1000,) * 3))
    write_points(tmp_path / "append.zv", p3[2000:], mode="a")
    box = ([100.0, 200.0, 0.0], [600.0, 700.0, 400.0])
    jobs = [
        {"path": str(tmp_path / "plain.zv")},
        {"path": str(tmp_path / "attrs.zv"), "kwargs": {"attribute_names": ["intensity", "label"]}},
        {"path": str(tmp_path / "neg2d.zv")},
        {"path": str(tmp_path / "zstd.zv")},
        {"path": str(tmp_path / "pyramid.zv")},
        {"path": str(tmp_path / "pyramid.zv"), "kwargs": {"level": 1}},
        {"path": str(tmp_path / "append.zv")},
        {"path": str(tmp_path / "plain.zv"), "kwargs": {"bbox": box}},
    ]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_published(READER, str(tmp_path / "jobs.json"), str(tmp_path / "out.npz"))
    out = np.load(tmp_path / "out.npz")

    for i in (0, 3, 4, 6):
        np.testing.assert_array_equal(
            as_set(out[f"{i}_positions"]), as_set(p3), err_msg=str(jobs[i])
        )
    np.testing.assert_array_equal(
        as_set(out["1_positions"], out["1_attr_intensity"], out["1_attr_label"]),
        as_set(p3, intensity, label),
    )
    np.testing.assert_array_equal(as_set(out["2_positions"]), as_set(p2))
    level1 = read_points(tmp_path / "pyramid.zv", level=1).positions
    assert 0 < len(level1) < len(p3)
    np.testing.assert_array_equal(as_set(out["5_positions"]), as_set(level1))
    inside = np.all((p3 >= box[0]) & (p3 <= box[1]), axis=1)
    np.testing.assert_array_equal(as_set(out["7_positions"]), as_set(p3[inside]))


@pytest.mark.slow
def test_published_package_reads_checksums_multi_column_attributes_and_appends(
    tmp_path: Path,
) -> None:
    """Issue 9: what this package now writes by default, read in 0.9.2 with every value.

    Cells carry a crc32c checksum (the default), an ``(n, 3)`` ``normal`` is a
    multi-column attribute (0.9.2 counts its columns from ``channel_names``),
    and stores grown by appends (consolidated or not, compressed or not) are
    read whole, attributes asked by name, alone or together, and in a box.
    """
    rng = np.random.default_rng(9)
    n = 3000
    pos = rng.uniform(0, 1000, (n, 3)).astype(np.float32)
    normal = rng.normal(size=(n, 3)).astype(np.float32)
    label = rng.integers(-5, 500, n).astype(np.int32)
    cs3 = (250.0, 250.0, 250.0)
    box3 = ((0,) * 3, (1000,) * 3)

    def attrs(part: slice) -> dict[str, np.ndarray]:
        return {"normal": normal[part], "label": label[part]}

    write_points(tmp_path / "normal.zv", pos, chunk_shape=cs3, vertex_attributes=attrs(slice(None)))
    write_points(
        tmp_path / "normal-zstd.zv",
        pos,
        chunk_shape=cs3,
        compressor="zstd",
        vertex_attributes=attrs(slice(None)),
    )
    cuts = [0, 1000, 1700, 2400, n]
    for name, kwargs in (
        ("appended.zv", {}),
        ("appended-loose.zv", {"consolidate": False}),
        ("appended-gzip.zv", {"compressor": "gzip"}),
    ):
        for i, (a, b) in enumerate(itertools.pairwise(cuts)):
            more: dict[str, object] = (
                {"chunk_shape": cs3, "bounds": box3, **kwargs} if i == 0 else {"mode": "a"}
            )
            write_points(tmp_path / name, pos[a:b], vertex_attributes=attrs(slice(a, b)), **more)
    for name in ("normal.zv", "appended.zv", "appended-gzip.zv"):
        doc = json.loads(
            (tmp_path / name / "0" / "vertex_attributes" / "normal" / "zarr.json").read_text()
        )
        assert doc["codecs"][-1]["name"] == "crc32c", doc["codecs"]

    box = ([100.0, 200.0, 0.0], [600.0, 700.0, 400.0])
    both = {"attribute_names": ["normal", "label"]}
    jobs = [
        {"path": str(tmp_path / "normal.zv"), "kwargs": both},
        {"path": str(tmp_path / "normal.zv"), "kwargs": {"attribute_names": ["normal"]}},
        {"path": str(tmp_path / "normal-zstd.zv"), "kwargs": both},
        {"path": str(tmp_path / "appended.zv"), "kwargs": both},
        {"path": str(tmp_path / "appended-loose.zv"), "kwargs": both},
        {"path": str(tmp_path / "appended-gzip.zv"), "kwargs": {"attribute_names": ["normal"]}},
        {"path": str(tmp_path / "appended.zv"), "kwargs": {**both, "bbox": box}},
    ]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_published(READER, str(tmp_path / "jobs.json"), str(tmp_path / "out.npz"))
    out = np.load(tmp_path / "out.npz")

    inside = np.all((pos >= box[0]) & (pos <= box[1]), axis=1)
    for i, job in enumerate(jobs):
        names = job["kwargs"]["attribute_names"]
        assert sorted(k for k in out.files if k.startswith(f"{i}_attr_")) == sorted(
            f"{i}_attr_{a}" for a in names
        ), (job, out.files)
        got_normal = out[f"{i}_attr_normal"]
        assert got_normal.shape[1:] == (3,), (job, got_normal.shape)
        keep = inside if "bbox" in job["kwargs"] else np.ones(n, bool)
        want = [pos[keep], normal[keep]] + ([label[keep]] if "label" in names else [])
        have = [out[f"{i}_positions"], got_normal] + (
            [out[f"{i}_attr_label"]] if "label" in names else []
        )
        np.testing.assert_array_equal(as_set(*have), as_set(*want), err_msg=str(job))
    # and this package reads them the same
    for name in ("normal.zv", "appended.zv", "appended-loose.zv", "appended-gzip.zv"):
        got = read_points(tmp_path / name)
        np.testing.assert_array_equal(
            as_set(got.positions, got.vertex_attributes["normal"], got.vertex_attributes["label"]),
            as_set(pos, normal, label),
        )

"""``zarr-vectors info``: what a store holds, from its metadata, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_points_cmd import as_set, write_ply
from tests.helpers.cli import run
from zarr_vectors.cli.info_cmd import describe_store
from zarr_vectors.types.points import write_points


def test_info_text_and_json(tmp_path: Path, cloud: np.ndarray, labels: np.ndarray) -> None:
    write_ply(tmp_path / "in.ply", cloud, labels, "binary_little_endian")
    run(
        "write-points",
        tmp_path / "in.ply",
        tmp_path / "s",
        "--chunk-shape",
        "50",
        "--bounds",
        "0,0,0,100,100,100",
        "--levels",
        "2",
    )
    code, out = run("info", tmp_path / "s")
    assert code == 0, out
    assert "format version  0.9.2" in out
    assert "backend         local" in out
    assert "chunk shape     (50, 50, 50)" in out
    assert "bounds          (0, 0, 0) .. (100, 100, 100)" in out
    assert "level 0: 1,500 points in 8 cells, attributes: label" in out
    assert "level 1:" in out
    code, out = run("info", tmp_path / "s", "--json")
    assert code == 0, out
    facts = json.loads(out)
    assert facts["format_version"] == "0.9.2"
    assert facts["backend"] == "local"
    assert facts["chunk_shape"] == [50.0, 50.0, 50.0]
    assert facts["levels"][0]["points"] == 1500
    assert len(facts["levels"]) == 2
    assert facts["consolidated"] is True


def test_info_and_read_points_on_a_zip_archive(tmp_path: Path, cloud: np.ndarray) -> None:
    import zipfile

    np.save(tmp_path / "in.npy", cloud)
    run("write-points", tmp_path / "in.npy", tmp_path / "s", "-c", "25")
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        for f in sorted((tmp_path / "s").rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(tmp_path / "s").as_posix())
    code, out = run("info", tmp_path / "s.zip", "--json")
    assert code == 0, out
    facts = json.loads(out)
    assert facts["backend"].startswith("zip")
    assert facts["levels"][0]["points"] == len(cloud)
    code, out = run("read-points", tmp_path / "s.zip", "-o", tmp_path / "o.npy")
    assert code == 0, out
    np.testing.assert_array_equal(as_set(np.load(tmp_path / "o.npy")), as_set(cloud))
    code, out = run("write-points", tmp_path / "in.npy", tmp_path / "s.zip", "-c", "25")
    assert code == 1, out  # read-only
    assert "Traceback" not in out


def test_info_reads_a_store_the_published_package_wrote() -> None:
    fixture = Path("/work/shared/fixtures/upstream-0.9.2/pyramid.zarrvectors")
    if not fixture.exists():
        fixture = Path(__file__).resolve().parents[3] / "shared/fixtures/upstream-0.9.2"
        fixture = fixture / "pyramid.zarrvectors"
    if not fixture.exists():
        pytest.skip("reference fixtures are not on this machine")
    code, out = run("info", fixture, "--json")
    assert code == 0, out
    facts = json.loads(out)
    expected = np.load(fixture.with_suffix(".npz"))
    assert facts["levels"][0]["points"] == len(expected[expected.files[0]])
    assert len(facts["levels"]) == 2


def test_describe_store_gives_the_facts_of_every_level(tmp_path: Path) -> None:
    pos = np.random.default_rng(1).uniform(0, 10, (200, 3))
    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3, levels=2, crs={"epsg": 2994})
    facts = describe_store(str(tmp_path / "s"))
    assert facts["backend"] == "local"
    assert facts["axes"] == ["x", "y", "z"]
    assert facts["crs"]["epsg"] == 2994
    assert [lv["level"] for lv in facts["levels"]] == [0, 1]
    assert facts["levels"][0]["points"] == 200 and facts["levels"][0]["cells"] == 8
    json.dumps(facts)  # JSON-ready as it is


def test_the_text_shows_the_crs_and_the_url_without_its_secrets(tmp_path: Path) -> None:
    pos = np.random.default_rng(1).uniform(0, 10, (50, 3))
    write_points(tmp_path / "s", pos, chunk_shape=(5.0,) * 3, crs={"epsg": 2994})
    code, out = run("info", tmp_path / "s")
    assert code == 0, out
    assert "crs             EPSG:2994" in out
    assert "points          50 (level 0)" in out and "levels          1" in out

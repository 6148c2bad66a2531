"""create_store / open_store / consolidate_metadata / open_zv, on local paths and zarr stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr
import zarr.storage

from zarr_vectors.exceptions import (
    FormatVersionError,
    StoreError,
    StoreExistsError,
    ValidationError,
)
from zarr_vectors.format.metadata import CAP_MULTISCALE_LINKS, CAP_SHARED_FRAGMENTS
from zarr_vectors.lazy import open_zv
from zarr_vectors.store import consolidate_metadata, create_store, open_store
from zarr_vectors.types.points import read_points, write_points

BOUNDS = ((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0))
CS = (250.0, 250.0, 250.0)


def points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1000, (n, 3)).astype(np.float32)


def test_create_then_append_then_read(tmp_path: Path) -> None:
    group = create_store(tmp_path / "s", bounds=BOUNDS, chunk_shape=CS, axes=["x", "y", "z"])
    assert isinstance(group, zarr.Group)
    assert group.attrs["zarr_vectors"]["chunk_shape"] == list(CS)
    with pytest.raises(StoreExistsError):
        create_store(tmp_path / "s", bounds=BOUNDS, chunk_shape=CS)
    assert read_points(tmp_path / "s").vertex_count == 0
    write_points(tmp_path / "s", points(500), mode="a")
    write_points(tmp_path / "s", points(700, 1), mode="a")
    assert read_points(tmp_path / "s").vertex_count == 1200


def test_create_store_validates_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="bounds"):
        create_store(tmp_path / "s", chunk_shape=CS)
    with pytest.raises(ValidationError, match="positive"):
        create_store(tmp_path / "s", bounds=BOUNDS, chunk_shape=(0, 1, 1))
    assert not (tmp_path / "s").exists()


def test_open_store_returns_a_zarr_group_with_the_levels(tmp_path: Path) -> None:
    write_points(tmp_path / "s", points(100), chunk_shape=CS, levels=2)
    group = open_store(tmp_path / "s")
    assert sorted(k for k, _ in group.groups()) == ["0", "1"]
    assert group["0/vertices"].metadata.data_type is not None
    assert group["0"].attrs["zarr_vectors_level"]["vertex_count"] == 100


def test_unreadable_format_version_names_both_versions(tmp_path: Path) -> None:
    write_points(tmp_path / "s", points(100), chunk_shape=CS)
    root = tmp_path / "s" / "zarr.json"
    doc = json.loads(root.read_text())
    doc["attributes"]["zarr_vectors"]["zv_version"] = "2.0.0"
    root.write_text(json.dumps(doc))
    for call in (read_points, open_store, open_zv):
        with pytest.raises(FormatVersionError) as err:
            call(tmp_path / "s")
        assert "'2.0.0'" in str(err.value) and "0.9.2" in str(err.value)


def test_a_plain_zarr_group_is_not_read_as_empty(tmp_path: Path) -> None:
    zarr.open_group(tmp_path / "g", mode="w")
    with pytest.raises(StoreError, match="not a Zarr Vectors store"):
        read_points(tmp_path / "g")


# -- consolidated metadata ----------------------------------------------------
def test_consolidated_metadata_is_what_zarr_python_reads(tmp_path: Path) -> None:
    write_points(
        tmp_path / "s", points(300), chunk_shape=CS, vertex_attributes={"a": np.arange(300)}
    )
    group = zarr.open_group(tmp_path / "s", mode="r", use_consolidated=True)
    cm = group.metadata.consolidated_metadata
    assert cm is not None
    assert {"0", "0/vertices", "0/vertex_fragments", "0/vertex_attributes/a"} <= set(
        cm.flattened_metadata
    )


def test_append_after_consolidation_refreshes_it_and_reads_every_point(tmp_path: Path) -> None:
    first, second = points(1000, 1), points(1000, 2)
    write_points(tmp_path / "s", first, chunk_shape=CS, bounds=BOUNDS, consolidate=False)
    assert "consolidated_metadata" not in json.loads((tmp_path / "s" / "zarr.json").read_text())
    assert consolidate_metadata(tmp_path / "s") >= 3
    write_points(tmp_path / "s", second, mode="a")
    assert read_points(tmp_path / "s").vertex_count == 2000
    doc = json.loads((tmp_path / "s" / "zarr.json").read_text())
    cm = doc["consolidated_metadata"]["metadata"]
    assert cm["0"]["attributes"]["zarr_vectors_level"]["vertex_count"] == 2000
    on_disk = json.loads((tmp_path / "s" / "0" / "vertices" / "zarr.json").read_text())
    assert cm["0/vertices"] == on_disk
    # zarr-python, trusting the consolidated metadata, sees the same cells.
    group = zarr.open_group(tmp_path / "s", mode="r", use_consolidated=True)
    assert group["0/vertices"].attrs["nonempty_chunks"] == on_disk["attributes"]["nonempty_chunks"]


def test_capability_constants_match_the_reference_tokens() -> None:
    assert CAP_MULTISCALE_LINKS == "multiscale_links"
    assert CAP_SHARED_FRAGMENTS == "shared_fragments"


def test_read_only_zarr_store_is_used_as_is(tmp_path: Path) -> None:
    write_points(tmp_path / "s", points(100), chunk_shape=CS)
    ro = zarr.storage.LocalStore(tmp_path / "s", read_only=True)
    assert read_points(ro).vertex_count == 100
    from zarr_vectors.exceptions import ReadOnlyBackendError

    with pytest.raises(ReadOnlyBackendError):
        write_points(ro, points(10), mode="a")


def test_zip_store_read_only(tmp_path: Path) -> None:
    pos = points(800)
    write_points(tmp_path / "s", pos, chunk_shape=CS)
    import zipfile

    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        for f in sorted((tmp_path / "s").rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(tmp_path / "s").as_posix())
    zs = zarr.storage.ZipStore(tmp_path / "s.zip", mode="r")
    got = read_points(zs, bbox=((0, 0, 0), (500, 500, 500)))
    inside = np.all(pos <= 500, axis=1)
    assert got.vertex_count == int(inside.sum())

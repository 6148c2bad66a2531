"""The on-disk pieces: metadata documents and the layout of written stores.

Fragment-index blobs are tested in ``test_fragments.py``, cell framing in ``test_cells.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import FormatVersionError
from zarr_vectors.format.cells import CellCodec, codec_chain
from zarr_vectors.format.metadata import (
    FORMAT_VERSION,
    LevelMetadata,
    RootMetadata,
    check_format_version,
)
from zarr_vectors.types.points import write_points

FIXTURES = Path("/work/shared/fixtures/upstream-0.9.2")
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="reference stores not found")


@pytest.mark.parametrize("version", ["0.9.0", "0.9.2", "0.9.7"])
def test_readable_versions(version: str) -> None:
    assert check_format_version(version) == version


@pytest.mark.parametrize("version", ["0.8.3", "1.0.0", "garbage", "None"])
def test_unreadable_versions_name_both(version: str) -> None:
    with pytest.raises(FormatVersionError, match=FORMAT_VERSION) as err:
        check_format_version(version)
    assert repr(version) in str(err.value)


@needs_fixtures
@pytest.mark.parametrize("name", ["basic", "attrs", "neg2d", "zstd", "pyramid"])
def test_root_metadata_round_trips_the_reference_documents(name: str) -> None:
    attrs = json.loads((FIXTURES / f"{name}.zarrvectors/zarr.json").read_text())["attributes"]
    meta = RootMetadata.from_attributes(attrs)
    again = meta.to_attributes(name)
    assert again["zarr_vectors"] == attrs["zarr_vectors"]
    assert again["multiscales"] == attrs["multiscales"]
    assert again["ome"] == attrs["ome"]
    level = json.loads((FIXTURES / f"{name}.zarrvectors/0/zarr.json").read_text())["attributes"]
    assert LevelMetadata.from_attributes(level).to_attributes() == level


@needs_fixtures
@pytest.mark.parametrize("name", ["basic", "neg2d", "zstd"])
def test_written_layout_matches_the_reference(tmp_path: Path, name: str) -> None:
    """Same inputs as the reference writer got -> same documents and same chunk bytes."""
    manifest = json.loads((FIXTURES / "manifest.json").read_text())[name]
    pos = np.load(FIXTURES / f"{name}.npz")["positions"]
    ref = FIXTURES / f"{name}.zarrvectors"
    ref_root = json.loads((ref / "zarr.json").read_text())["attributes"]
    # The manifest records bounds only where the reference writer was given them
    # explicitly; where it is silent the store's own bounds are what was used.
    bounds = manifest.get("bounds") or ref_root["zarr_vectors"]["bounds"]
    write_points(
        tmp_path / "s",
        pos,
        chunk_shape=manifest["chunk_shape"],
        bounds=bounds,
        compressor="zstd" if name == "zstd" else None,
        consolidate=False,
        checksum=False,  # byte-for-byte as 0.9.2 writes by default
    )
    for doc in ("0/zarr.json", "0/vertices/zarr.json", "0/vertex_fragments/zarr.json"):
        mine = json.loads((tmp_path / "s" / doc).read_text())
        theirs = json.loads((ref / doc).read_text())
        # Standard zarr v3 metadata 0.9.2 leaves out; added here so xarray opens levels.
        mine.pop("dimension_names", None)
        assert mine == theirs, doc
    root = json.loads((tmp_path / "s/zarr.json").read_text())["attributes"]
    theirs = json.loads((ref / "zarr.json").read_text())["attributes"]
    assert root["zarr_vectors"] == theirs["zarr_vectors"]
    assert root["multiscales"] == theirs["multiscales"]
    ref_chunks = sorted(p.relative_to(ref) for p in ref.rglob("c/*/*") if p.is_file())
    ref_chunks += sorted(p.relative_to(ref) for p in ref.rglob("c/*/*/*") if p.is_file())
    assert ref_chunks
    for rel in ref_chunks:
        mine_b = (tmp_path / "s" / rel).read_bytes()
        theirs_b = (ref / rel).read_bytes()
        if name == "zstd":  # compressed bytes may differ; the decoded cells may not
            codec = CellCodec(tuple(codec_chain("zstd", checksum=False)))
            assert codec.decode(mine_b) == codec.decode(theirs_b), rel
        else:
            assert mine_b == theirs_b, rel

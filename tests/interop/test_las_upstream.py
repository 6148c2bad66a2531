"""What the published zarr-vectors 0.9.2 reads from a store written from a LAS file.

A LAS survey is stored as the file's 32-bit integers with its scale and offset
(``vertices`` ``dtype`` ``"int32"`` plus ``scale`` and ``offset`` attributes),
compressed with Zarr v3's ``blosc`` codec. 0.9.2 reads positions through
zarr-python, which decodes the codec, and takes the ``dtype`` as it is: it
returns the integers, unscaled (it has no notion of a scale), and so a box
given to it in the survey's coordinates finds nothing. The scale and offset it
needs are in the same document; applying them gives the coordinates exactly.
``--dtype float64`` writes what 0.9.2 reads as coordinates.

``--compressor lzma`` (the smallest store) uses numcodecs' LZMA codec, which
zarr-python registers itself as ``numcodecs.lzma``: zarr-python alone and 0.9.2
(through it, with zarr-python's warning that numcodecs codecs are not in the Zarr
v3 specification) read it like the ``blosc`` store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import laspy
import numpy as np
import pytest
from click.testing import CliRunner

from zarr_vectors.cli import main
from zarr_vectors.types.points import read_points

DATA = Path(__file__).resolve().parents[1] / "data" / "las"

READS = r"""
import json, sys
import numpy as np
from zarr_vectors.core.store import open_store, read_root_metadata
from zarr_vectors.types.points import read_points
out = {}
lo = np.array(json.loads(sys.argv[2]))
for i, path in enumerate(sys.argv[3:]):
    res = read_points(path, attribute_names=["intensity"])
    out[f"{i}_positions"] = np.asarray(res["positions"])
    out[f"{i}_intensity"] = np.asarray(res["vertex_attributes"]["intensity"])
    tight = read_points(path, bbox=(lo, lo + 100))
    out[f"{i}_tight"] = np.asarray(tight["positions"])
meta = read_root_metadata(open_store(sys.argv[3], mode="r"))
np.savez(sys.argv[1], **out)
print(json.dumps(meta.crs))
"""


def _sorted(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.slow
def test_the_published_package_reads_a_las_store_as_the_files_integers(tmp_path: Path) -> None:
    from tests.helpers.upstream_env import run_published

    scaled, floats, small = tmp_path / "s.zv", tmp_path / "f.zv", tmp_path / "l.zv"
    variants: tuple[tuple[Path, list[str]], ...] = (
        (scaled, []),
        (floats, ["--dtype", "float64"]),
        (small, ["--compressor", "lzma"]),
    )
    for store, extra in variants:
        args = ["write-points", str(DATA / "1_4_w_evlr.laz"), str(store), "-c", "500", *extra]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    src = laspy.read(DATA / "1_4_w_evlr.laz")
    lo = json.dumps([float(v) for v in src.header.mins])  # a box in the survey's coordinates
    stores = (str(scaled), str(floats), str(small))
    proc = run_published(READS, str(tmp_path / "out.npz"), lo, *stores)
    out = np.load(tmp_path / "out.npz")
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == read_points(scaled).crs
    ints = np.column_stack([src.X, src.Y, src.Z])
    coords = np.column_stack([src.x, src.y, src.z])

    # The scaled store: 0.9.2 returns the file's integers, every one of them.
    got = out["0_positions"]
    assert got.dtype == np.int32
    assert np.array_equal(_sorted(got), _sorted(ints))
    # ... and the scale and offset beside them in the document give the coordinates.
    attrs = json.loads((scaled / "0" / "vertices" / "zarr.json").read_text())["attributes"]
    scale, offset = np.array(attrs["scale"]), np.array(attrs["offset"])
    assert np.array_equal(_sorted(got * scale + offset), _sorted(coords))
    # Attributes are read exactly; a box in the survey's coordinates meets integers and
    # finds none of them.
    assert np.array_equal(np.sort(out["0_intensity"]), np.sort(np.asarray(src.intensity)))
    assert len(out["0_tight"]) == 0

    # The float store (--dtype float64): 0.9.2 reads the coordinates themselves.
    assert np.array_equal(_sorted(out["1_positions"]), _sorted(coords))
    assert len(out["1_tight"]) > 0

    # The LZMA store reads as the blosc one does: the file's integers and intensities.
    assert np.array_equal(_sorted(out["2_positions"]), _sorted(ints))
    assert np.array_equal(np.sort(out["2_intensity"]), np.sort(np.asarray(src.intensity)))


def test_zarr_python_alone_decodes_a_cell_of_the_lzma_store(tmp_path: Path) -> None:
    import zarr

    store = tmp_path / "l.zv"
    args = ["write-points", str(DATA / "1_4_w_evlr.laz"), str(store), "-c", "500"]
    result = CliRunner().invoke(main, [*args, "--compressor", "lzma"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads((store / "0" / "vertices" / "zarr.json").read_text())
    chain = [c["name"] for c in doc["codecs"]]
    assert chain == ["vlen-bytes", "numcodecs.shuffle", "numcodecs.lzma", "crc32c"]
    src = laspy.read(DATA / "1_4_w_evlr.laz")
    with pytest.warns(UserWarning, match="Numcodecs codecs are not in the Zarr version 3"):
        cells: Any = zarr.open_array(str(store / "0" / "vertices"), mode="r")[...]
    ints = np.concatenate([np.frombuffer(c, "<i4").reshape(-1, 3) for c in cells.ravel() if c])
    assert np.array_equal(_sorted(ints), _sorted(np.column_stack([src.X, src.Y, src.Z])))

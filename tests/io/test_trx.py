"""TRX tractograms through trx-python: files made by the library, to a store and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from zarr_vectors.cli.files_cmd import read_cmd, write_cmd
from zarr_vectors.exceptions import ValidationError
from zarr_vectors.io.trk import write_trk
from zarr_vectors.io.trx import read_trx, write_trx
from zarr_vectors.types.polylines import read_polylines

tm = pytest.importorskip("trx.trx_file_memmap")
nib = pytest.importorskip("nibabel")

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0]).astype(np.float32)
AFFINE[:3, 3] = [-90, -126, -72]


def tracts(k: int = 20) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [
        (np.cumsum(rng.normal(0, 2, (int(rng.integers(2, 30)), 3)), 0) + 40).astype(np.float32)
        for _ in range(k)
    ]


def library_trx(path: Path, sl: list[np.ndarray], *, group: bool = False) -> dict[str, Any]:
    """A TRX file made by trx-python itself, with dpv (float, 3 x uint8) and dps (int16)."""
    fa = [np.linspace(0, 1, len(s), dtype=np.float32).reshape(-1, 1) for s in sl]
    rgb = [np.full((len(s), 3), i, np.uint8) for i, s in enumerate(sl)]
    label = np.arange(len(sl), dtype=np.int16).reshape(-1, 1) * 3
    tg = nib.streamlines.Tractogram(
        sl,
        data_per_point={"fa": fa, "rgb": rgb},
        data_per_streamline={"label": label},
        affine_to_rasmm=np.eye(4),
    )
    ref = {"VOXEL_TO_RASMM": AFFINE, "DIMENSIONS": np.array([91, 109, 91], np.uint16)}
    ref["NB_VERTICES"] = 0
    types = {"positions": np.float32, "offsets": np.uint32}
    types.update({"dpv": {"fa": np.float32, "rgb": np.uint8}, "dps": {"label": np.int16}})
    trx = tm.TrxFile.from_tractogram(tg, ref, dtype_dict=types)
    if group:
        trx.groups["arcuate"] = np.array([0, 2], np.uint32)
    tm.save(trx, str(path))
    trx.close()
    return {"fa": fa, "rgb": rgb, "label": label[:, 0]}


def test_a_trx_file_goes_to_a_store_and_back_with_its_values(tmp_path: Path) -> None:
    sl = tracts()
    want = library_trx(tmp_path / "in.trx", sl)
    run = CliRunner().invoke(write_cmd, [str(tmp_path / "in.trx"), str(tmp_path / "s")])
    assert run.exit_code == 0, run.output
    assert "Wrote 20 streamlines" in run.output
    got = read_polylines(tmp_path / "s")
    assert got.metadata["trx"]["dimensions"] == [91, 109, 91]
    np.testing.assert_allclose(got.metadata["trx"]["voxel_to_rasmm"], AFFINE)
    order = np.argsort(got.object_ids)
    for i, j in enumerate(order.tolist()):
        np.testing.assert_array_equal(got.polylines[j], sl[i])
        np.testing.assert_array_equal(got.vertex_attributes["fa"][j], want["fa"][i][:, 0])
        np.testing.assert_array_equal(got.vertex_attributes["rgb"][j], want["rgb"][i])
    assert got.vertex_attributes["rgb"][0].dtype == np.uint8
    np.testing.assert_array_equal(got.object_attributes["label"][order], want["label"])
    assert got.object_attributes["label"].dtype == np.int16

    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "out.trx")])
    assert run.exit_code == 0, run.output
    back = tm.load(str(tmp_path / "out.trx"))
    try:
        np.testing.assert_allclose(back.header["VOXEL_TO_RASMM"], AFFINE)
        assert back.header["DIMENSIONS"].tolist() == [91, 109, 91]
        assert len(back.streamlines) == len(sl)
        for a, b in zip(back.streamlines, sl, strict=True):
            np.testing.assert_array_equal(a, b)
        assert back.data_per_vertex["rgb"]._data.dtype == np.uint8
        np.testing.assert_array_equal(back.data_per_streamline["label"][:, 0], want["label"])
        np.testing.assert_array_equal(
            back.data_per_vertex["fa"]._data[:, 0],
            np.concatenate(want["fa"])[:, 0],
        )
    finally:
        back.close()


def test_groups_become_the_store_s_groups_and_go_back_by_name(tmp_path: Path) -> None:
    library_trx(tmp_path / "g.trx", tracts(4), group=True)
    assert read_trx(tmp_path / "g.trx").groups["arcuate"].tolist() == [0, 2]
    run = CliRunner().invoke(
        write_cmd, [str(tmp_path / "g.trx"), str(tmp_path / "s"), "--object-id", "10"]
    )
    assert run.exit_code == 0, run.output
    got = read_polylines(tmp_path / "s", group_ids=[0])
    assert sorted(got.object_ids.tolist()) == [10, 12]
    assert got.metadata["trx"]["groups"] == ["arcuate"]
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "o.trx")])
    assert run.exit_code == 0, run.output
    back = tm.load(str(tmp_path / "o.trx"))
    try:
        assert {g: np.asarray(v).tolist() for g, v in back.groups.items()} == {"arcuate": [0, 2]}
    finally:
        back.close()
    # a subset keeps the members it holds, renumbered; TRK says what it cannot hold
    run = CliRunner().invoke(
        read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "sub.trx"), "--object-id", "12"]
    )
    assert run.exit_code == 0, run.output
    assert read_trx(tmp_path / "sub.trx").groups["arcuate"].tolist() == [0]
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "o.trk")])
    assert run.exit_code == 0, run.output
    assert "TRK holds no groups: arcuate left out" in run.output


def test_a_trk_header_gives_the_trx_its_space(tmp_path: Path) -> None:
    sl = tracts(5)
    header = {
        "voxel_to_rasmm": AFFINE.tolist(),
        "voxel_sizes": [2.0, 2.0, 2.0],
        "dimensions": [91, 109, 91],
        "voxel_order": "RAS",
    }
    write_trk(tmp_path / "in.trk", sl, header=header)
    assert (
        CliRunner().invoke(write_cmd, [str(tmp_path / "in.trk"), str(tmp_path / "s")]).exit_code
        == 0
    )
    run = CliRunner().invoke(read_cmd, [str(tmp_path / "s"), "-o", str(tmp_path / "o.trx")])
    assert run.exit_code == 0, run.output
    back = read_trx(tmp_path / "o.trx")
    np.testing.assert_allclose(back.header["trx"]["voxel_to_rasmm"], AFFINE)
    assert back.header["trx"]["dimensions"] == [91, 109, 91]


def test_without_a_header_the_note_says_identity(tmp_path: Path) -> None:
    sl = tracts(3)
    notes = write_trx(
        tmp_path / "a.trx", sl, object_attributes={"keep": np.array([True, False, True])}
    )
    assert any("identity affine" in n for n in notes)
    assert any("'keep' (bool) was written as uint8" in n for n in notes)
    back = read_trx(tmp_path / "a.trx")
    np.testing.assert_array_equal(back.object_attributes["keep"], [1, 0, 1])
    assert [len(s) for s in back.streamlines] == [len(s) for s in sl]


def test_a_file_that_is_not_trx_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValidationError, match=r"bad\.trx: not a readable TRX file"):
        read_trx(bad)
    run = CliRunner().invoke(write_cmd, [str(bad), str(tmp_path / "s")])
    assert run.exit_code != 0
    assert "not a readable TRX file" in run.output
    assert not (tmp_path / "s").exists()

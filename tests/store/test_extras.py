"""The store API's conveniences: ZIP archives, conversions, summaries, verify, checks.

The groups create_store/open_store return are in test_zarr_group.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.store.conftest import POINTS
from zarr_vectors.exceptions import BackendOptionError, StoreError, ValidationError
from zarr_vectors.lazy import open_zv
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.store import verify_store
from zarr_vectors.types.points import read_points, write_points


def test_a_zip_made_with_one_top_folder_is_read(store: Path, tmp_path: Path) -> None:
    archive = tmp_path / "scan.zarrvectors.zip"
    subprocess.run(
        ["zip", "-qr", archive.name, store.name], cwd=store.parent, check=True
    ) if _has_zip() else _zip_dir(store, archive)
    got = read_points(archive)
    assert got.vertex_count == len(POINTS)
    assert read_points(archive, bbox=((0, 0, 0), (300, 300, 300))).vertex_count > 0


def test_a_zip_name_on_something_else_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "x.zip"
    fake.write_text("not a zip")
    with pytest.raises(StoreError, match="is not a ZIP archive"):
        read_points(fake)


def test_results_convert_to_pandas_and_xarray(store: Path) -> None:
    cloud = read_points(store)
    frame = cloud.to_pandas()
    assert list(frame.columns) == ["x", "y", "z", "id", "normal_0", "normal_1", "normal_2"]
    assert len(frame) == len(POINTS)
    assert np.array_equal(frame["id"].to_numpy(), cloud.vertex_attributes["id"])
    data = cloud.to_xarray()
    assert data["positions"].shape == (len(POINTS), 3)
    assert list(data["axis"].values) == ["x", "y", "z"]
    assert data["normal"].shape == (len(POINTS), 3)


def test_xarray_opens_a_level(store: Path) -> None:
    import xarray as xr

    level = xr.open_zarr(store / "0", consolidated=False)
    assert set(level.data_vars) >= {"vertices", "vertex_fragments"}
    assert level["vertices"].dims == ("cell_0", "cell_1", "cell_2")


def test_notebook_summaries(store: Path) -> None:
    with open_zv(store) as zv:
        html = zv._repr_html_()
    assert "3,000 points" in html and "id, normal" in html and "local" in html
    assert "3,000" in read_points(store)._repr_html_()


def test_verify_finds_every_problem_and_the_cli_exits_1(store: Path) -> None:
    assert verify_store(store).ok
    os.remove(store / "0" / "vertices" / "c" / "0" / "0" / "0")
    cell = store / "0" / "vertex_attributes" / "id" / "c" / "1" / "1" / "1"
    data = bytearray(cell.read_bytes())
    data[12] ^= 0x10
    cell.write_bytes(bytes(data))
    report = verify_store(store)
    assert not report.ok
    text = "\n".join(map(str, report.errors))
    assert "0/vertices/c/0/0/0" in text and "missing" in text
    assert "0/vertex_attributes/id/c/1/1/1" in text and "checksum" in text
    done = subprocess.run(
        [str(Path(sys.executable).parent / "zarr-vectors"), "verify", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "DAMAGED (2 problem(s))" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "name", ["a\\b", "nul\x00", "zarr.json", "c", ".hidden", "x" * 256, "tab\there"]
)
def test_attribute_names_no_backend_can_store_are_refused_before_writing(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValidationError, match="cannot be stored"):
        write_points(
            tmp_path / "s",
            POINTS[:10],
            chunk_shape=(500.0,) * 3,
            vertex_attributes={name: range(10)},
        )
    assert not (tmp_path / "s").exists()


def test_a_replace_refused_for_its_names_leaves_the_old_store(store: Path) -> None:
    with pytest.raises(ValidationError):
        write_points(
            store,
            POINTS[:10],
            chunk_shape=(500.0,) * 3,
            mode="w",
            vertex_attributes={"a/b": range(10)},
        )
    assert read_points(store).vertex_count == len(POINTS)


@pytest.mark.parametrize(
    ("chunk", "bounds"),
    [((1e-320,) * 3, None), ((1.0,) * 3, ((-1e300,) * 3, (1e300,) * 3)), ((1e-10,) * 3, None)],
)
def test_grids_that_cannot_be_stored_are_refused(
    tmp_path: Path, chunk: tuple[float, ...], bounds: object
) -> None:
    with pytest.raises(ValidationError, match="chunk"):
        write_points(tmp_path / "s", POINTS, chunk_shape=chunk, bounds=bounds)  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_in_a_store_is_refused_not_waited_on(store: Path) -> None:
    cell = store / "0" / "vertices" / "c" / "1" / "0" / "0"
    cell.unlink()
    os.mkfifo(cell)
    with pytest.raises(StoreError, match="FIFO"):
        read_points(store)
    with pytest.raises(StoreError, match="FIFO"):
        LocalBackend(store).get_bytes("0/vertices/c/1/0/0")


def _has_zip() -> bool:
    from shutil import which

    return which("zip") is not None


def _zip_dir(store: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as out:
        for path in store.rglob("*"):
            if path.is_file():
                out.write(path, path.relative_to(store.parent).as_posix())


def test_storage_options_are_backend_options(tmp_path: Path) -> None:
    path = tmp_path / "s"
    write_points(path, POINTS[:50], chunk_shape=(500.0,) * 3, storage_options={"fsync": True})
    assert read_points(path, storage_options={"max_concurrency": 2}).vertex_count == 50
    with pytest.raises(BackendOptionError, match="both in storage_options"):
        read_points(path, storage_options={"fsync": True}, fsync=True)
    with pytest.raises(BackendOptionError, match="storage_options must be a dict"):
        read_points(path, storage_options=["fsync"])  # type: ignore[arg-type]


def test_a_misspelled_argument_is_reported_as_one(tmp_path: Path) -> None:
    with pytest.raises(
        BackendOptionError,
        match=r"unexpected keyword argument 'attributes'.*did you mean 'vertex_attributes'",
    ):
        write_points(tmp_path / "s", POINTS[:5], chunk_shape=(1.0,) * 3, attributes={"a": range(5)})
    with pytest.raises(BackendOptionError, match="not one: see help\\(read_points\\)"):
        read_points(tmp_path / "s", region="eu-west-1")
    assert not (tmp_path / "s").exists()


def test_upath_and_storepath_are_stores(tmp_path: Path) -> None:
    import asyncio

    from upath import UPath
    from zarr.storage import MemoryStore, StorePath

    write_points(UPath(tmp_path / "u"), POINTS[:40], chunk_shape=(500.0,) * 3)
    assert read_points(tmp_path / "u").vertex_count == 40
    memory = MemoryStore()
    where = asyncio.run(StorePath.open(memory, path="deep/inside", mode="w"))
    write_points(where, POINTS[:30], chunk_shape=(500.0,) * 3)
    assert any(k.startswith("deep/inside/0/vertices/c/") for k in memory._store_dict)
    assert read_points(where).vertex_count == 30

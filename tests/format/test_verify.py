"""Reads verify what they fetch, and appends refuse values the store cannot hold (issue 9).

Every test damages a small local store the way storage, a tool or a person
might (a cell deleted, emptied, truncated, bit-flipped, replaced by a folder
or a FIFO; a ``zarr.json`` of the wrong JSON type; ``nonempty_chunks`` short
or malformed) and checks that reading it raises an error from
:mod:`zarr_vectors.exceptions` that names what is wrong: never a raw
``struct.error``/``RuntimeError``/``EOFError``/``ValueError``/
``AttributeError``/``JSONDecodeError``/``IndexError`` and never silently fewer
points. ``pytest.raises(CorruptStoreError)`` lets any other type through, so
a raw exception fails the test with its own traceback.

The same damage through the command line must give one line on stderr and no
traceback. The issue asks for exit code 2 there (see
:func:`test_cli_exit_code_for_a_damaged_store_is_2`).

The last part: appends of values that do not fit the stored dtype (300 into
int8, 1e6 into float16, 2.5 into int32, -1 into uint8) are refused with the
column and an example value, and leave every byte of the store as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.helpers.safety_workers import BOUNDS, CHUNK, batch_ids, tagged
from zarr_vectors.cli import main
from zarr_vectors.exceptions import (
    CorruptStoreError,
    StoreError,
    ValidationError,
    ZarrVectorsError,
)
from zarr_vectors.format.cells import CellCodec
from zarr_vectors.lazy import open_zv
from zarr_vectors.types.points import read_points, write_points

N = 2000
SCRIPT = Path(sys.executable).with_name("zarr-vectors.exe" if os.name == "nt" else "zarr-vectors")


# -- a small store and ways to damage it ----------------------------------------------------
def make_store(path: Path, *, consolidate: bool = True, **kwargs: Any) -> Path:
    pos, attrs = tagged(batch_ids(1, 0, N))
    write_points(
        path,
        pos,
        vertex_attributes=attrs,
        chunk_shape=CHUNK,
        bounds=BOUNDS,
        consolidate=consolidate,
        **kwargs,
    )
    return path


@pytest.fixture(autouse=True)
def _both_read_paths(read_path: str) -> str:
    """Every check here holds for a whole level read in one go and batch by batch."""
    return read_path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "s.zarr")


@pytest.fixture
def loose(tmp_path: Path) -> Path:
    """A store without consolidated metadata: node documents are read from their files."""
    return make_store(tmp_path / "loose.zarr", consolidate=False)


def first_cell(store: Path) -> str:
    """World key of a cell that holds points (the first listed)."""
    doc = json.loads((store / "0" / "vertices" / "zarr.json").read_text())
    return str(doc["attributes"]["nonempty_chunks"][0])


def cell_path(store: Path, array: str = "vertices", key: str | None = None) -> Path:
    key = first_cell(store) if key is None else key
    return store / "0" / array / "c" / Path(*key.split("."))


def cell_box(key: str) -> tuple[list[float], list[float]]:
    """A box inside the cell ``key`` (so a box read has to fetch it)."""
    lo = [int(k) * c for k, c in zip(key.split("."), CHUNK, strict=True)]
    return [v + 1.0 for v in lo], [v + c - 1.0 for v, c in zip(lo, CHUNK, strict=True)]


def edit_doc(store: Path, node: str, change: Callable[[dict[str, Any]], Any]) -> None:
    """Apply ``change`` to a node document, in its file and in the consolidated metadata."""
    path = store / node / "zarr.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    root_path = store / "zarr.json"
    root = json.loads(root_path.read_text())
    cm = root.get("consolidated_metadata")
    if cm is not None:
        change(cm["metadata"][node])
        root_path.write_text(json.dumps(root))


def set_nonempty(store: Path, value: Any) -> None:
    """Set ``nonempty_chunks`` of every cell array of level 0 to ``value``."""
    for node in ("0/vertices", "0/vertex_fragments", "0/vertex_attributes/id"):
        edit_doc(store, node, lambda d: d["attributes"].__setitem__("nonempty_chunks", value))
    edit_doc(
        store,
        "0/vertex_attributes/half",
        lambda d: d["attributes"].__setitem__("nonempty_chunks", value),
    )


def expect_corrupt(store: Path, *named: str, box: Any = None) -> CorruptStoreError:
    """``read_points`` raises CorruptStoreError whose message names each of ``named``."""
    with pytest.raises(CorruptStoreError) as caught:
        read_points(store, bbox=box)
    text = str(caught.value)
    for part in named:
        assert part in text, f"{part!r} not named in: {text}"
    assert "Traceback" not in text
    return caught.value


# -- cells that are not what the metadata says ----------------------------------------------
def test_a_deleted_cell_is_reported_not_skipped(store: Path) -> None:
    key = first_cell(store)
    cell_path(store).unlink()
    grid = "/".join(key.split("."))
    expect_corrupt(store, f"0/vertices/c/{grid}", "level 0", "missing")
    expect_corrupt(store, f"0/vertices/c/{grid}", box=cell_box(key))
    with open_zv(store) as zv, pytest.raises(CorruptStoreError, match="missing"):
        zv.read_points()


def test_a_deleted_attribute_cell_is_reported(store: Path) -> None:
    key = first_cell(store)
    cell_path(store, "vertex_attributes/half").unlink()
    expect_corrupt(store, "0/vertex_attributes/half/c/" + "/".join(key.split(".")))
    # Reading without that attribute does not need the cell.
    assert read_points(store, attribute_names=["id"]).vertex_count == N


def test_an_empty_cell_file_is_reported(store: Path) -> None:
    cell_path(store).write_bytes(b"")
    expect_corrupt(store, "0/vertices/c/", "level 0")


def test_a_folder_where_a_cell_should_be_is_reported(store: Path) -> None:
    path = cell_path(store)
    path.unlink()
    path.mkdir()
    (path / "x").write_bytes(b"not a cell")
    expect_corrupt(store, "0/vertices/c/", "level 0")


def test_a_fifo_where_a_cell_should_be_is_refused_in_bounded_time(store: Path) -> None:
    """A read must not block forever opening a FIFO (run in a child with a timeout)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = cell_path(store)
    path.unlink()
    os.mkfifo(path)
    code = (
        "import sys\n"
        "from zarr_vectors.types.points import read_points\n"
        "from zarr_vectors.exceptions import ZarrVectorsError\n"
        "try:\n"
        "    read_points(sys.argv[1])\n"
        "except ZarrVectorsError as exc:\n"
        "    print('REFUSED', type(exc).__name__, exc)\n"
        "else:\n"
        "    print('READ')\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, str(store)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("read_points blocked on a FIFO where a cell should be")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("REFUSED"), out.stdout + out.stderr[-3000:]


def test_a_truncated_cell_is_reported(store: Path) -> None:
    path = cell_path(store)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_corrupt(store, "0/vertices/c/", "level 0")


def test_a_cell_cut_to_a_few_bytes_is_reported(store: Path) -> None:
    for size in (1, 3, 5, 9):
        path = cell_path(store)
        original = path.read_bytes()
        path.write_bytes(original[:size])
        expect_corrupt(store, "0/vertices/c/")
        path.write_bytes(original)
    assert read_points(store).vertex_count == N


@pytest.mark.parametrize("where", [0.1, 0.5, 0.95])
def test_a_flipped_bit_in_a_checksummed_cell_is_caught(store: Path, where: float) -> None:
    path = cell_path(store, "vertex_attributes/half")
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x10
    path.write_bytes(bytes(data))
    expect_corrupt(store, "0/vertex_attributes/half/c/", "checksum")


def test_a_flipped_bit_in_the_checksum_itself_is_caught(store: Path) -> None:
    path = cell_path(store)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    expect_corrupt(store, "0/vertices/c/", "checksum")


@pytest.mark.parametrize("compressor", ["zstd", "gzip"])
def test_a_compressed_cell_with_garbage_is_reported(tmp_path: Path, compressor: str) -> None:
    """Without a checksum the decompressor meets the garbage itself (zstd/gzip errors)."""
    store = make_store(tmp_path / "z.zarr", compressor=compressor, checksum=False)
    path = cell_path(store)
    rng = np.random.default_rng(3)
    path.write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    expect_corrupt(store, "0/vertices/c/", "level 0")


@pytest.mark.parametrize("compressor", ["zstd", "gzip"])
def test_a_truncated_compressed_cell_is_reported(tmp_path: Path, compressor: str) -> None:
    store = make_store(tmp_path / "z.zarr", compressor=compressor, checksum=False)
    path = cell_path(store, "vertex_attributes/id")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_corrupt(store, "0/vertex_attributes/id/c/")


def test_a_cell_with_a_wrong_byte_count_is_reported(store: Path) -> None:
    """A well-formed cell whose payload is not a whole number of rows."""
    path = cell_path(store)
    doc = json.loads((store / "0" / "vertices" / "zarr.json").read_text())
    codec = CellCodec(tuple(doc["codecs"]))
    payload = bytes(codec.decode(path.read_bytes()))
    path.write_bytes(codec.encode(payload[:-5]))
    expect_corrupt(store, "0/vertices/c/", "rows")


def test_an_attribute_cell_shorter_than_its_vertices_is_reported(store: Path) -> None:
    """One value short would pair every later point of the cell with the wrong value."""
    path = cell_path(store, "vertex_attributes/half")
    doc = json.loads((store / "0" / "vertex_attributes" / "half" / "zarr.json").read_text())
    codec = CellCodec(tuple(doc["codecs"]))
    payload = bytes(codec.decode(path.read_bytes()))
    path.write_bytes(codec.encode(payload[8:]))  # one float64 fewer
    expect_corrupt(store, "0/vertex_attributes/half/c/", "attribute values")
    # one value too many is as wrong
    path.write_bytes(codec.encode(payload + payload[:8]))
    expect_corrupt(store, "0/vertex_attributes/half/c/", "attribute values")


def test_a_vertices_cell_with_extra_rows_is_reported(store: Path) -> None:
    """More rows in a cell than the level counts: the sum check catches it on a full read."""
    path = cell_path(store)
    doc = json.loads((store / "0" / "vertices" / "zarr.json").read_text())
    codec = CellCodec(tuple(doc["codecs"]))
    payload = bytes(codec.decode(path.read_bytes()))
    path.write_bytes(codec.encode(payload + payload[:12]))
    with pytest.raises(CorruptStoreError):
        read_points(store)


def test_a_whole_deleted_vertices_array_on_a_consolidated_store_is_reported(
    store: Path,
) -> None:
    import shutil

    shutil.rmtree(store / "0" / "vertices")
    expect_corrupt(store, "0/vertices", "level 0")


def test_a_whole_deleted_vertices_array_on_a_loose_store_is_reported(loose: Path) -> None:
    import shutil

    shutil.rmtree(loose / "0" / "vertices")
    with pytest.raises(CorruptStoreError, match="vertices"):
        read_points(loose)


def test_a_level_count_that_disagrees_with_the_cells_is_reported(store: Path) -> None:
    def more(doc: dict[str, Any]) -> None:
        doc["attributes"]["zarr_vectors_level"]["vertex_count"] = N + 7

    edit_doc(store, "0", more)
    expect_corrupt(store, "level 0", str(N + 7), str(N))


# -- nonempty_chunks ----------------------------------------------------------------------
def test_nonempty_chunks_one_entry_short_is_reported_on_a_full_read(store: Path) -> None:
    """The level still counts the unlisted cell's points: a full read sees the sum fall short.

    (What is decided here: a listed cell that is missing is corrupt; a cell that
    is not listed is not part of the store. So the points count, not the cell,
    is what contradicts the metadata.)
    """
    listed = json.loads((store / "0" / "vertices" / "zarr.json").read_text())["attributes"][
        "nonempty_chunks"
    ]
    set_nonempty(store, listed[1:])
    err = expect_corrupt(store, "level 0", str(N))
    assert "verify" in str(err)


def test_an_unlisted_cell_is_not_part_of_a_consistent_store(store: Path) -> None:
    """Metadata that agrees with itself (list and count) wins over a stray cell file."""
    listed = json.loads((store / "0" / "vertices" / "zarr.json").read_text())["attributes"][
        "nonempty_chunks"
    ]
    with open_zv(store) as zv:
        stray = zv[0].chunk([int(c) for c in listed[0].split(".")]).vertex_count
    assert stray > 0
    set_nonempty(store, listed[1:])

    def fewer(doc: dict[str, Any]) -> None:
        doc["attributes"]["zarr_vectors_level"]["vertex_count"] = N - stray

    edit_doc(store, "0", fewer)
    assert read_points(store).vertex_count == N - stray


@pytest.mark.parametrize(
    "value",
    [
        "0.0.0",  # a string, not a list
        {"0.0.0": 1},
        [0],
        [None],
        [["0", "0", "0"]],
        ["0.0"],  # wrong arity
        ["0.0.0.0"],
        ["a.b.c"],
        ["0..0"],
        [""],
    ],
    ids=repr,
)
def test_malformed_nonempty_chunks_are_reported(store: Path, value: Any) -> None:
    set_nonempty(store, value)
    err = expect_corrupt(store, "nonempty_chunks")
    assert "level 0" in str(err) or "0/vertices" in str(err)


def test_nonempty_chunks_naming_a_cell_outside_the_grid_is_reported(store: Path) -> None:
    listed = json.loads((store / "0" / "vertices" / "zarr.json").read_text())["attributes"][
        "nonempty_chunks"
    ]
    set_nonempty(store, [*listed, "9.9.9"])
    expect_corrupt(store, "0/vertices/c/9/9/9")


def test_a_repeated_nonempty_chunks_entry_does_not_double_points(store: Path) -> None:
    listed = json.loads((store / "0" / "vertices" / "zarr.json").read_text())["attributes"][
        "nonempty_chunks"
    ]
    set_nonempty(store, [listed[0], *listed])
    try:
        got = read_points(store).vertex_count
    except CorruptStoreError:
        return  # reported: fine
    assert got == N  # or read once: never a point twice


# -- documents of the wrong JSON type ------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["[1, 2, 3]", '"a string"', "42", "null", "{not json", "", "\xff\xfe"],
    ids=["list", "string", "number", "null", "not-json", "empty", "not-utf8"],
)
def test_a_root_document_of_the_wrong_type_is_reported(store: Path, text: str) -> None:
    (store / "zarr.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(StoreError) as caught:
        read_points(store)
    assert "zarr.json" in str(caught.value)
    with pytest.raises(StoreError):
        open_zv(store)


@pytest.mark.parametrize(
    "text",
    ["[1, 2, 3]", '"a string"', "{not json", '{"zarr_format": 3, "node_type": "array"}'],
    ids=["list", "string", "not-json", "array-node"],
)
def test_a_level_document_of_the_wrong_type_is_reported(loose: Path, text: str) -> None:
    (loose / "0" / "zarr.json").write_text(text)
    with pytest.raises(ZarrVectorsError) as caught:
        read_points(loose)
    assert (
        "level 0" in str(caught.value)
        or "0/zarr.json" in str(caught.value)
        or (": 0 " in str(caught.value))
    ), str(caught.value)


@pytest.mark.parametrize(
    "node", ["0/vertices", "0/vertex_attributes/id"], ids=["vertices", "attribute"]
)
@pytest.mark.parametrize("text", ["[1]", '"x"', "{bad"], ids=["list", "string", "not-json"])
def test_an_array_document_of_the_wrong_type_is_reported(loose: Path, node: str, text: str) -> None:
    (loose / node / "zarr.json").write_text(text)
    with pytest.raises(ZarrVectorsError) as caught:
        read_points(loose)
    assert node in str(caught.value), str(caught.value)


def test_consolidated_metadata_of_the_wrong_type_is_reported(store: Path) -> None:
    root = json.loads((store / "zarr.json").read_text())
    root["consolidated_metadata"]["metadata"]["0/vertices"] = ["not", "a", "document"]
    (store / "zarr.json").write_text(json.dumps(root))
    with pytest.raises(ZarrVectorsError):
        read_points(store)


# -- the command line ----------------------------------------------------------------------
def damage_cell(store: Path) -> None:
    cell_path(store).unlink()


def damage_root(store: Path) -> None:
    (store / "zarr.json").write_text("[1, 2, 3]")


def damage_nonempty(store: Path) -> None:
    set_nonempty(store, [7])


def damage_bits(store: Path) -> None:
    path = cell_path(store)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "deleted-cell": damage_cell,
    "root-list": damage_root,
    "nonempty-int": damage_nonempty,
    "bit-flip": damage_bits,
}


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_cli_read_points_of_a_damaged_store_is_one_line_without_traceback(
    store: Path, tmp_path: Path, damage: str
) -> None:
    DAMAGE[damage](store)
    code, _, err = cli("read-points", str(store), "-o", str(tmp_path / "out.npy"))
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("damage", ["root-list", "nonempty-int"])
def test_cli_info_of_a_damaged_store_is_one_line_without_traceback(
    store: Path, damage: str
) -> None:
    DAMAGE[damage](store)
    code, _, err = cli("info", str(store))
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_cli_exit_code_for_a_damaged_store_is_2(store: Path, tmp_path: Path, damage: str) -> None:
    DAMAGE[damage](store)
    code, _, _ = cli("read-points", str(store), "-o", str(tmp_path / "out.npy"))
    assert code == 2


def test_cli_console_script_on_a_damaged_store(store: Path, tmp_path: Path) -> None:
    """The installed ``zarr-vectors`` script, as a user runs it: stderr one line."""
    damage_bits(store)
    for args in (["read-points", str(store), "-o", str(tmp_path / "o.npz")], ["info", str(store)]):
        out = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
        if args[0] == "info":
            assert out.returncode == 0, out.stderr  # metadata only: the damage is in a cell
            continue
        assert out.returncode != 0
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
        assert "checksum" in lines[0]
    damage_root(store)
    out = subprocess.run([str(SCRIPT), "info", str(store)], capture_output=True, text=True)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode != 0 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr


# -- appends that do not fit the stored dtype -------------------------------------------
def tree(path: Path) -> dict[str, bytes]:
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path)): p.read_bytes() for p in files}


@pytest.mark.parametrize(
    ("dtype", "bad", "shown"),
    [
        (np.int8, np.array([1, 300, 2], np.int64), "300"),
        (np.float16, np.array([1.0, 1e6, 2.0]), "1000000"),
        (np.int32, np.array([1.0, 2.5, 3.0]), "2.5"),
        (np.uint8, np.array([1, -1, 2], np.int64), "-1"),
        (np.int16, np.array([1.0, np.nan, 2.0]), "nan"),
        (np.uint32, np.array([1.0, np.inf, 2.0]), "inf"),
        (np.bool_, np.array([0, 2, 1], np.int64), "2"),
    ],
    ids=["300-int8", "1e6-float16", "2.5-int32", "-1-uint8", "nan-int16", "inf-uint32", "2-bool"],
)
def test_an_append_that_does_not_fit_the_stored_dtype_is_refused(
    tmp_path: Path, dtype: Any, bad: np.ndarray, shown: str
) -> None:
    store = tmp_path / "fit.zarr"
    pos = np.array([[1.0, 1.0, 1.0], [500.0, 500.0, 500.0], [900.0, 900.0, 900.0]], np.float32)
    write_points(
        store,
        pos,
        chunk_shape=CHUNK,
        bounds=BOUNDS,
        vertex_attributes={"col": np.array([1, 0, 1]).astype(dtype)},
    )
    before = tree(store)
    with pytest.raises(ValidationError) as caught:
        write_points(store, pos + 1, mode="a", vertex_attributes={"col": bad})
    text = str(caught.value)
    assert "'col'" in text and np.dtype(dtype).name in text, text
    assert shown in text, text
    assert tree(store) == before
    got = read_points(store)
    assert got.vertex_count == 3 and got.vertex_attributes["col"].dtype == np.dtype(dtype)


def test_an_append_that_fits_exactly_is_stored_exactly(tmp_path: Path) -> None:
    """The refusals above are not just refusing every cast: exact conversions pass."""
    store = tmp_path / "fit.zarr"
    pos = np.array([[1.0, 1.0, 1.0], [900.0, 900.0, 900.0]], np.float32)
    cols = {
        "i8": np.array([-128, 127], np.int8),
        "f16": np.array([0.5, 65504.0], np.float16),
        "u8": np.array([0, 255], np.uint8),
    }
    write_points(store, pos, chunk_shape=CHUNK, bounds=BOUNDS, vertex_attributes=cols)
    new = {
        "i8": np.array([-128, 127], np.int64),
        "f16": np.array([0.25, -65504.0], np.float64),
        "u8": np.array([255.0, 1.0]),
    }
    write_points(store, pos + 1, mode="a", vertex_attributes=new)
    got = read_points(store)
    assert got.vertex_count == 4
    for name, col in cols.items():
        assert got.vertex_attributes[name].dtype == col.dtype
        assert sorted(got.vertex_attributes[name].tolist()) == sorted(
            [*col.tolist(), *np.asarray(new[name]).astype(col.dtype).tolist()]
        )


def test_appended_positions_that_do_not_fit_float16_are_refused(tmp_path: Path) -> None:
    store = tmp_path / "f16.zarr"
    pos = np.array([[1.0, 1.0], [2.0, 2.0]], np.float16)
    write_points(store, pos, chunk_shape=(1e5, 1e5), bounds=((0, 0), (1e6, 1e6)))
    before = tree(store)
    with pytest.raises(ValidationError, match="positions"):
        write_points(store, np.array([[3.0, 7e5]]), mode="a")
    assert tree(store) == before


@pytest.mark.parametrize("kind", ["points", "polylines"])
def test_a_sharded_store_has_no_orphans_until_a_stray_shard_appears(
    tmp_path: Path, kind: str
) -> None:
    """A sharded array's objects are shards: one is an orphan only if it holds no listed cell."""
    from zarr_vectors.format.verify import verify_backend
    from zarr_vectors.storage.local import LocalBackend
    from zarr_vectors.types.polylines import write_polylines

    path = tmp_path / "sharded.zv"
    rng = np.random.default_rng(5)
    if kind == "points":
        pts = rng.uniform(0, 1000, (3000, 3)).astype(np.float32)
        write_points(path, pts, chunk_shape=(100.0,) * 3, bounds=BOUNDS, shard_shape=3)
    else:
        walks = [
            (rng.uniform(200, 800, 3) + np.cumsum(rng.normal(0, 25, (30, 3)), 0)).astype(np.float32)
            for _ in range(20)
        ]
        write_polylines(path, walks, chunk_shape=(100.0,) * 3, bounds=BOUNDS, shard_shape=3)
    with LocalBackend(path) as backend:
        assert verify_backend(backend).problems == []
    shards = sorted((path / "0" / "vertices" / "c").rglob("*"))
    stray = path / "0" / "vertices" / "c" / "9" / "9" / "9"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(next(s for s in shards if s.is_file()).read_bytes())
    with LocalBackend(path) as backend:
        (problem,) = verify_backend(backend).problems
    assert problem.severity == "warning" and "0/vertices/c/9/9/9" in problem.what


def test_no_store_there_is_store_not_found_not_a_damaged_report(tmp_path: Path) -> None:
    from zarr_vectors.exceptions import StoreNotFoundError
    from zarr_vectors.store import verify_store

    with pytest.raises(StoreNotFoundError, match=r"no Zarr Vectors store at .*nope"):
        verify_store(tmp_path / "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "zarr.json").write_text("{not json")  # damaged, not missing
    report = verify_store(tmp_path / "bad")
    assert not report.ok and "not valid JSON" in report.errors[0].what

"""Small 1-D Zarr v3 arrays over object rows (``zarr_vectors.format.objarrays``).

Fixed-size and variable-length arrays written here read back row by row (only the
chunks holding the rows asked for), zarr-python reads them as the same arrays, chunks
never written read as the fill value, and damaged chunks name the array.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.cells import CHECKSUM_CODEC
from zarr_vectors.format.objarrays import fill_for, plain_array, read_plain, read_vlen, vlen_array

ZSTD_CRC = [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}, CHECKSUM_CODEC]


class Snap:
    """The part of a snapshot these reads use: a URL and ``get_many`` of stored objects."""

    def __init__(self, objects: Iterable[tuple[str, bytes]]) -> None:
        self.objects = dict(objects)
        self.backend = self
        self.url = "mem://t"
        self.asked: list[str] = []

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        self.asked += keys
        return {k: self.objects[k] for k in keys if k in self.objects}


def snap(objects: Iterable[tuple[str, bytes]]) -> Any:
    return Snap(objects)


def test_fill_values_are_the_published_ones() -> None:
    assert np.isnan(fill_for(np.dtype("f4")))
    assert fill_for(np.dtype("i8")) == -(2**63) and fill_for(np.dtype("u2")) == 65535
    assert fill_for(np.dtype("bool")) is False


@pytest.mark.parametrize("tail", [[], ZSTD_CRC])
def test_a_plain_array_reads_back_only_the_chunks_asked_for(tail: list[dict[str, Any]]) -> None:
    values = np.arange(20, dtype=">i4").reshape(10, 2)  # big-endian in, little-endian stored
    doc, chunks = plain_array("oa/x", values, chunk_rows=4, tail_codecs=tail, attributes={"a": 1})
    assert [k for k, _ in chunks] == ["oa/x/c/0/0", "oa/x/c/1/0", "oa/x/c/2/0"]
    assert doc["data_type"] == "int32" and doc["attributes"] == {"a": 1}
    s = snap(chunks)
    np.testing.assert_array_equal(read_plain(s, "oa/x", doc), values)
    s.asked.clear()
    np.testing.assert_array_equal(read_plain(s, "oa/x", doc, np.array([9, 1])), values[[9, 1]])
    assert s.asked == ["oa/x/c/0/0", "oa/x/c/2/0"]


def test_a_chunk_never_written_reads_as_the_fill_value() -> None:
    doc, chunks = plain_array("f", np.arange(6, dtype="f4"), chunk_rows=3)
    assert doc["fill_value"] == "NaN"
    got = read_plain(snap(chunks[:1]), "f", doc)
    np.testing.assert_array_equal(got[:3], [0, 1, 2])
    assert np.isnan(got[3:]).all()


def test_variable_length_elements_read_back() -> None:
    elements = [b"", b"a", b"bc" * 100, b"\x00\x01"]
    doc, chunks = vlen_array("g", elements, chunk_rows=3, tail_codecs=ZSTD_CRC)
    s = snap(chunks)
    assert read_vlen(s, "g", doc) == elements
    assert read_vlen(s, "g", doc, np.array([3, 0])) == [b"\x00\x01", b""]
    assert read_vlen(snap([]), "g", doc, np.array([1])) == [b""]  # never written: empty


def test_zarr_python_reads_the_arrays(tmp_path: Path) -> None:
    zarr = pytest.importorskip("zarr")
    values = np.arange(7, dtype="u2")
    for path, (doc, chunks) in {
        "p": plain_array("p", values, chunk_rows=3, tail_codecs=ZSTD_CRC),
        "v": vlen_array("v", [b"x", b"yz", b""], chunk_rows=2, tail_codecs=[CHECKSUM_CODEC]),
    }.items():
        (tmp_path / path).mkdir()
        (tmp_path / path / "zarr.json").write_text(json.dumps(doc))
        for key, data in chunks:
            (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / key).write_bytes(data)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "p"), mode="r")[:], values)
    got = zarr.open_array(str(tmp_path / "v"), mode="r")[:]
    assert [bytes(e) for e in got] == [b"x", b"yz", b""]


def test_damaged_arrays_name_what_is_wrong() -> None:
    doc, chunks = plain_array("p", np.arange(4, dtype="i4"), chunk_rows=2, tail_codecs=ZSTD_CRC)
    with pytest.raises(CorruptStoreError, match=r"mem://t: p chunk 0: .*checksum"):
        read_plain(snap([(chunks[0][0], chunks[0][1][:-1] + b"\x00")]), "p", doc)
    short, _ = plain_array("p", np.arange(4, dtype="i4"), chunk_rows=2)
    with pytest.raises(CorruptStoreError, match="chunk 0 holds 1 values, its chunk shape says 2"):
        read_plain(snap([("p/c/0", np.int32(1).tobytes())]), "p", short)
    with pytest.raises(CorruptStoreError, match="mem://t: p: not a regular 1-D zarr array"):
        read_plain(snap([]), "p", {"shape": [1]})
    vdoc, vchunks = vlen_array("v", [b"abc"], chunk_rows=1)
    with pytest.raises(CorruptStoreError, match="a vlen-bytes chunk is truncated"):
        read_vlen(snap([("v/c/0", vchunks[0][1][:-1])]), "v", vdoc)
    with pytest.raises(CorruptStoreError, match="a chunk holds 2 elements, its shape says 1"):
        read_vlen(snap([("v/c/0", (2).to_bytes(4, "little"))]), "v", vdoc)

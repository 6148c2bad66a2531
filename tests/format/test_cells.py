"""Bytes of one cell through its codec chain (``zarr_vectors.format.cells``).

Framing, compression (blosc shuffled by the row size) and unsupported codecs named.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarr_vectors.exceptions import CorruptStoreError, StoreError, ValidationError
from zarr_vectors.format.cells import CellCodec, codec_chain, compressor_codecs


@settings(max_examples=40, deadline=None)
@given(payload=st.binary(max_size=2000), compressor=st.sampled_from([None, "zstd", "gzip", "lzma"]))
def test_cell_codec_round_trip(payload: bytes, compressor: str | None) -> None:
    codec = CellCodec(tuple(codec_chain(compressor)))
    assert codec.decode(codec.encode(payload)) == payload


def test_cell_frame_layout() -> None:
    data = CellCodec(tuple(codec_chain(None, checksum=False))).encode(b"abc")
    assert data == struct.pack("<II", 1, 3) + b"abc"


def test_unsupported_codec_is_named() -> None:
    with pytest.raises(StoreError, match="bz2"):
        CellCodec(({"name": "vlen-bytes"}, {"name": "bz2"}))


def test_blosc_shuffles_by_the_row_size_and_round_trips() -> None:
    from zarr_vectors.format.cells import codec_chain, typed_codecs

    codecs = typed_codecs(codec_chain("blosc"), 12)
    assert codecs[1]["name"] == "blosc" and codecs[1]["configuration"]["typesize"] == 12
    assert typed_codecs(codecs, 8)[1]["configuration"]["typesize"] == 8  # idempotent
    rows = np.arange(3000, dtype="<i4").reshape(-1, 3) + 600_000
    codec = CellCodec(tuple(codecs))
    data = codec.encode(rows.tobytes())
    assert len(data) < rows.nbytes / 3
    assert bytes(codec.decode(data)) == rows.tobytes()
    with pytest.raises(StoreError, match="shuffle"):
        CellCodec(({"name": "vlen-bytes"}, {"name": "blosc", "configuration": {"shuffle": "x"}}))


def test_a_changed_byte_fails_the_checksum_naming_the_cell() -> None:
    codec = CellCodec(tuple(codec_chain(None)))
    data = bytearray(codec.encode(b"payload"))
    data[9] ^= 0x01
    with pytest.raises(CorruptStoreError, match="0/vertices/c/0: its crc32c checksum"):
        codec.decode(bytes(data), "0/vertices/c/0")
    with pytest.raises(CorruptStoreError, match="too short to hold its checksum"):
        codec.decode(b"ab", "c")


def test_the_checksum_is_read_from_the_tail_or_computed() -> None:
    with_crc = CellCodec(tuple(codec_chain(None)))
    without = CellCodec(tuple(codec_chain(None, checksum=False)))
    data = with_crc.encode(b"xyz")
    assert with_crc.checksum(data) == int.from_bytes(data[-4:], "little")
    assert without.checksum(data[:-4]) == with_crc.checksum(data)  # the same crc32c
    assert with_crc.checksum(b"ab") == -1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00", "no vlen-bytes header"),
        (struct.pack("<II", 2, 0), "holds 2 elements in 8 bytes"),
        (struct.pack("<II", 1, 5) + b"abc", "is 11 bytes but its header says 13"),
    ],
)
def test_bad_frames_are_corrupt_cells(data: bytes, message: str) -> None:
    codec = CellCodec(tuple(codec_chain(None, checksum=False)))
    with pytest.raises(CorruptStoreError, match=f"cell 7: .*{message}"):
        codec.decode(data, "cell 7")
    assert codec.decode(struct.pack("<I", 0), "cell 7") == b""  # no element: empty


@pytest.mark.parametrize("compressor", ["zstd", "lzma"])
def test_undecodable_compressed_bytes_name_the_cell(compressor: str) -> None:
    codec = CellCodec(tuple(codec_chain(compressor, checksum=False)))
    with pytest.raises(CorruptStoreError, match="cell 3: the chunk cannot be decoded"):
        codec.decode(b"\xff not compressed at all", "cell 3")


def test_a_chain_must_start_with_vlen_bytes() -> None:
    with pytest.raises(StoreError, match="must start with vlen-bytes"):
        CellCodec(({"name": "zstd"},))


def test_compressor_arguments_become_codec_specs() -> None:
    assert compressor_codecs(None) == []
    assert compressor_codecs("ZSTD") == [
        {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
    ]
    assert compressor_codecs({"name": "zstd", "configuration": {"level": 3}}) == [
        {"name": "zstd", "configuration": {"level": 3, "checksum": False}}
    ]
    blosc = compressor_codecs({"name": "blosc", "configuration": {"clevel": 9}})
    assert blosc[0]["configuration"]["clevel"] == 9
    assert blosc[0]["configuration"]["cname"] == "zstd"
    assert codec_chain("gzip")[-1] == {"name": "crc32c", "configuration": {}}


@pytest.mark.parametrize(
    ("compressor", "message"),
    [
        ("lz4", "unknown compressor 'lz4': use None, 'zstd'"),
        ({"name": "blosc", "configuration": {"shuffle": "x"}}, "blosc shuffle 'x': use one of"),
        ({"name": "bz2"}, "unsupported compressor"),
    ],
)
def test_unknown_compressors_are_refused_with_the_choices(compressor: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        compressor_codecs(compressor)  # type: ignore[arg-type]


def test_default_blosc_takes_the_level_measured_for_each_value_type() -> None:
    from zarr_vectors.format.cells import codec_chain, typed_codecs

    def conf(codecs: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(codecs[1]["configuration"])

    default = codec_chain("blosc")
    colours = typed_codecs(default, 2, "uint16")
    assert (conf(colours)["clevel"], conf(colours)["blocksize"]) == (8, 1 << 18)
    flags = typed_codecs(colours, 1, "uint8")  # retyped: back to the plain default
    assert (conf(flags)["clevel"], conf(flags)["blocksize"], conf(flags)["typesize"]) == (4, 0, 1)
    positions = typed_codecs(default, 12, "int32")
    assert typed_codecs(typed_codecs(default, 8, "float64"), 8, "float64") == typed_codecs(
        default, 8, "float64"
    )
    for level in (2, 8):  # the caller's choice kept, whatever the values' type
        mine = codec_chain({"name": "blosc", "configuration": {"clevel": level}})
        assert conf(typed_codecs(mine, 12, "int32"))["clevel"] == level
        assert conf(typed_codecs(mine, 2, "uint16"))["blocksize"] == 0
    rows = (np.arange(30_000, dtype="<i4").reshape(-1, 3) * 7) % 100_003
    codec = CellCodec(tuple(positions))
    assert bytes(codec.decode(codec.encode(rows.tobytes()))) == rows.tobytes()


def test_lzma_shuffles_by_the_value_size_deltas_by_the_row_and_round_trips() -> None:
    from zarr_vectors.format.cells import typed_codecs

    def names(codecs: list[dict[str, Any]]) -> list[str]:
        return [c["name"] for c in codecs]

    def filters(codecs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(codecs[-2]["configuration"]["filters"])

    default = codec_chain("lzma")
    assert names(default) == ["vlen-bytes", "numcodecs.lzma", "crc32c"]
    positions = typed_codecs(default, 12, "int32")
    lz, crc = "numcodecs.lzma", "crc32c"
    assert names(positions) == ["vlen-bytes", "numcodecs.shuffle", lz, crc]
    assert positions[1]["configuration"] == {"elementsize": 4}  # by the value's bytes
    assert filters(positions)[0] == {"id": 3, "dist": 3}  # each from the one a row before
    assert typed_codecs(positions, 12, "int32") == positions  # idempotent
    flags = typed_codecs(positions, 1, "uint8")  # retyped: no shuffle, LZMA2 alone
    assert names(flags) == ["vlen-bytes", lz, crc] and filters(flags)[0]["id"] == 33
    times = typed_codecs(flags, 8, "float64")
    assert times[1]["configuration"] == {"elementsize": 8} and filters(times)[0]["dist"] == 1
    wide = typed_codecs(default, 400, "V400")  # no shuffle by 400; xz's delta limit
    assert names(wide) == ["vlen-bytes", lz, crc] and filters(wide)[0] == {"id": 3, "dist": 256}
    mine = [{"name": "numcodecs.lzma", "configuration": {"preset": 9}}]
    assert typed_codecs(mine, 12) == mine  # a caller's own configuration kept as given
    rows = (np.arange(30_000, dtype="<i4").reshape(-1, 3) * 7) % 100_003
    codec = CellCodec(tuple(positions))
    data = codec.encode(rows.tobytes())
    assert bytes(codec.decode(data)) == rows.tobytes()
    assert len(data) < len(
        CellCodec(tuple(typed_codecs(codec_chain("blosc"), 12))).encode(rows.tobytes())
    )
    # numcodecs' own defaults (an xz stream, as other writers make it) read too
    xz = {"format": 1, "check": -1, "preset": None, "filters": None}
    plain = CellCodec(({"name": "vlen-bytes"}, {"name": "numcodecs.lzma", "configuration": xz}))
    assert bytes(plain.decode(plain.encode(b"abc" * 100))) == b"abc" * 100


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"format": 3, "filters": [{"id": 4}]}, "only delta and LZMA2"),
        ({"format": 3, "filters": [{"id": 33, "dict_size": 1 << 30}]}, "over 64 MiB"),
    ],
)
def test_a_stored_lzma_configuration_is_checked_before_decoding(
    conf: dict[str, Any], message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        CellCodec(({"name": "vlen-bytes"}, {"name": "numcodecs.lzma", "configuration": conf}))

"""zarr_vectors_icechunk.keyspace: which keys Icechunk holds, and how the others are packed.

Pure functions; the packed chunks are stored for real in test_objects.py.
"""

from __future__ import annotations

import json
import re

import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors_icechunk.keyspace import (
    KV_ARRAY,
    KV_CHUNKS,
    KV_DOC_KEY,
    chunk_of,
    header_size,
    is_native_candidate,
    is_reserved,
    kv_array_doc,
    pack,
    unpack,
)


def test_the_hidden_arrays_keys_are_reserved() -> None:
    assert is_reserved(KV_ARRAY) and is_reserved(KV_DOC_KEY) and is_reserved(KV_CHUNKS + "1/2/3")
    assert not is_reserved(KV_ARRAY + "x") and not is_reserved("a/" + KV_ARRAY)


@pytest.mark.parametrize(
    ("key", "native"),
    [
        ("zarr.json", True),
        ("0/vertices/zarr.json", True),
        ("0/vertices/c/0/1", True),
        ("c/0", True),
        ("a/b", False),
        ("my-zarr.json", False),
        ("0/cells/x", False),
        (KV_DOC_KEY, False),
        (KV_CHUNKS + "1/2/3", False),
    ],
)
def test_native_candidates(key: str, native: bool) -> None:
    assert is_native_candidate(key) is native


def test_a_foreign_key_has_one_chunk_of_three_coordinates() -> None:
    chunk = chunk_of("a/b")
    assert chunk == chunk_of("a/b") != chunk_of("a/c")
    match = re.fullmatch(re.escape(KV_CHUNKS) + r"(\d+)/(\d+)/(\d+)", chunk)
    assert match is not None
    assert all(0 <= int(c) < 2**32 - 1 for c in match.groups())


def test_a_chunk_holds_its_key_before_the_value() -> None:
    for key, value in [("a/b", b"value"), ("ключ/ü", b""), ("k", bytes(range(256)))]:
        blob = pack(key, value)
        assert unpack(blob, "store") == (key, value)
        assert blob[header_size(key) :] == value


@pytest.mark.parametrize(
    "blob",
    [b"", b"ZVKV1", b"ZVKV1\x00\x00", b"XXXXX\x00\x00\x00\x01ab", b"ZVKV1\x00\x00\x00\x09ab"],
)
def test_a_chunk_that_is_no_key_is_corrupt(blob: bytes) -> None:
    with pytest.raises(CorruptStoreError, match=r"s3://b: a chunk of \.zv-kv"):
        unpack(blob, "s3://b")


def test_the_hidden_array_is_zarr_v3_with_one_byte_chunks() -> None:
    doc = json.loads(kv_array_doc())
    assert doc["zarr_format"] == 3 and doc["node_type"] == "array"
    assert doc["data_type"] == "uint8" and doc["shape"] == [2**32 - 1] * 3
    assert doc["chunk_grid"]["configuration"]["chunk_shape"] == [1, 1, 1]
    assert doc["chunk_key_encoding"]["configuration"]["separator"] == "/"

"""Which keys Icechunk holds as Zarr nodes and chunks, and where every other key goes.

Icechunk stores a Zarr hierarchy, not arbitrary objects: it takes ``zarr.json``
documents that are valid Zarr v3 metadata and chunk keys (``ARRAY/c/i/j``) of
arrays it holds, and refuses anything else. A zarr-vectors store is exactly such
a hierarchy, so its keys are stored natively and every Zarr reader (0.9.2's
icechunk backend, zarr-python on an Icechunk session) sees them.

The storage protocol promises more: any key of up to 1,024 bytes. Keys Icechunk
refuses ("foreign" keys: ``a/b``, a ``zarr.json`` that is not metadata, a chunk
key of no array) are kept as chunks of one hidden array, ``.zv-kv``, in the same
repository, so they are versioned and committed with everything else. A
foreign key's chunk coordinates are a 96-bit hash of the key, and the chunk
holds the key itself before the value, so a listing reads the names back and a
hash collision is detected, never served as the other key's value.
"""

from __future__ import annotations

import hashlib
import json
import struct

from zarr_vectors.exceptions import CorruptStoreError

__all__ = [
    "KV_ARRAY",
    "KV_CHUNKS",
    "KV_DOC_KEY",
    "chunk_of",
    "is_native_candidate",
    "is_reserved",
    "kv_array_doc",
    "pack",
    "unpack",
]

#: The hidden array holding foreign keys (private to zarr-vectors: names starting ``.zv-``).
KV_ARRAY = ".zv-kv"
KV_DOC_KEY = f"{KV_ARRAY}/zarr.json"
KV_CHUNKS = f"{KV_ARRAY}/c/"
_MAGIC = b"ZVKV1"
#: Chunks along each of the array's three axes (coordinates are u32 in Icechunk).
_SIDE = 2**32 - 1


def is_reserved(key: str) -> bool:
    """Keys under the hidden array's name: always foreign, never Icechunk's own nodes."""
    return key == KV_ARRAY or key.startswith(KV_ARRAY + "/")


def is_native_candidate(key: str) -> bool:
    """Whether Icechunk might hold ``key`` itself (a metadata document or a chunk key)."""
    if is_reserved(key):
        return False
    return key.rsplit("/", 1)[-1] == "zarr.json" or key.startswith("c/") or "/c/" in key


def chunk_of(key: str) -> str:
    """The chunk key of the hidden array that holds foreign ``key``."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=12).digest()
    coords = [v % _SIDE for v in struct.unpack(">III", digest)]
    return KV_CHUNKS + "/".join(map(str, coords))


def pack(key: str, data: bytes) -> bytes:
    """The chunk stored for foreign ``key``: a marker, the key's length and bytes, the value."""
    name = key.encode("utf-8")
    return _MAGIC + struct.pack(">I", len(name)) + name + data


def header_size(key: str) -> int:
    """Bytes before the value in ``key``'s chunk."""
    return len(_MAGIC) + 4 + len(key.encode("utf-8"))


def unpack(blob: bytes, where: str) -> tuple[str, bytes]:
    """``(key, value)`` of a chunk made by :func:`pack`."""
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 4:
        raise CorruptStoreError(f"{where}: a chunk of {KV_ARRAY} is not a zarr-vectors key")
    (size,) = struct.unpack(">I", blob[len(_MAGIC) : len(_MAGIC) + 4])
    start = len(_MAGIC) + 4
    if len(blob) < start + size:  # cut short: its key would be read as another, shorter one
        raise CorruptStoreError(f"{where}: a chunk of {KV_ARRAY} is cut short")
    return blob[start : start + size].decode("utf-8"), blob[start + size :]


def kv_array_doc() -> bytes:
    """The metadata document of the hidden array (uint8 bytes, one chunk per key)."""
    doc = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [_SIDE, _SIDE, _SIDE],
        "data_type": "uint8",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, 1, 1]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [{"name": "bytes"}],
        "attributes": {
            "zarr_vectors_keys": "objects whose keys Icechunk does not hold as Zarr nodes; "
            "each chunk is a key and its value (read them through zarr-vectors)"
        },
    }
    return json.dumps(doc).encode()

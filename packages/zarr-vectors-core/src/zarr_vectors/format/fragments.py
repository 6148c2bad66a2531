"""The fragment-index blob ("GFVZ") stored in each ``vertex_fragments`` cell.

A cell of ``L/vertex_fragments`` says which rows of the matching ``vertices``
cell belong to which fragment (a piece of one object). A plain point cloud has
one fragment per cell covering all its rows. Layout, little-endian, as the
published 0.9.2 stores hold it:

* header (16 bytes): the 4 bytes ``b"GFVZ"``, uint16 version (1), uint16 flags
  (0), uint32 fragment count ``F``, uint32 range-fragment count ``R``;
* a bitmap of ``F`` bits (bit ``i`` set: fragment ``i`` is a contiguous range),
  padded with zeros to a multiple of 8 bytes;
* ``R`` pairs of int64 ``(start, count)``, one per range fragment, in order;
* ``F - R + 1`` uint32 offsets into the explicit-index list (first is 0);
* the explicit indices as int64, one run per non-range fragment.

Only what point clouds need is exposed: the rows a cell's fragments cover.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from zarr_vectors.exceptions import StoreError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MAGIC", "decode_fragment_rows", "encode_single_range"]

MAGIC = b"GFVZ"
VERSION = 1
_HEADER = struct.Struct("<4sHHII")


def _padded_bitmap_bytes(n_fragments: int) -> int:
    """Bytes the bitmap takes on disk: ceil(F/8) rounded up to a multiple of 8."""
    return (((n_fragments + 7) // 8) + 7) // 8 * 8


def encode_single_range(count: int) -> bytes:
    """Blob naming one fragment that covers rows ``0 .. count-1`` of a cell."""
    return b"".join(
        (
            _HEADER.pack(MAGIC, VERSION, 0, 1, 1),
            b"\x01" + b"\x00" * 7,
            struct.pack("<qq", 0, count),
            struct.pack("<I", 0),
        )
    )


def decode_fragment_rows(blob: bytes, where: str = "fragment index") -> npt.NDArray[np.int64] | int:
    """Rows of the cell covered by the blob's fragments, in fragment order.

    Returns an ``int`` ``n`` when the fragments tile rows ``0..n-1`` in order
    (the common case, so callers can slice instead of gathering), otherwise an
    array of row indices.
    """
    import numpy as np

    if len(blob) < _HEADER.size:
        raise StoreError(f"{where}: blob of {len(blob)} bytes is shorter than its header")
    magic, version, flags, n_frag, n_range = _HEADER.unpack_from(blob, 0)
    if magic != MAGIC:
        raise StoreError(f"{where}: bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION or flags != 0:
        raise StoreError(
            f"{where}: fragment-index version {version} flags {flags} is not supported "
            f"(this package reads version {VERSION}, flags 0)"
        )
    if n_range > n_frag:
        raise StoreError(f"{where}: {n_range} range fragments exceed {n_frag} fragments")
    if n_frag == 0:
        return 0
    off = _HEADER.size
    bits = np.unpackbits(np.frombuffer(blob, np.uint8, (n_frag + 7) // 8, off), bitorder="little")[
        :n_frag
    ].astype(bool)
    off += _padded_bitmap_bytes(n_frag)
    n_explicit = n_frag - n_range
    need = off + 16 * n_range + 4 * (n_explicit + 1)
    if len(blob) < need or int(bits.sum()) != n_range:
        raise StoreError(f"{where}: blob is truncated or its bitmap disagrees with its counts")
    ranges = np.frombuffer(blob, "<i8", 2 * n_range, off).reshape(n_range, 2)
    off += 16 * n_range
    offsets = np.frombuffer(blob, "<u4", n_explicit + 1, off).astype(np.int64)
    off += 4 * (n_explicit + 1)
    n_idx = int(offsets[-1])
    if len(blob) < off + 8 * n_idx:
        raise StoreError(f"{where}: explicit index list is truncated")
    indices = np.frombuffer(blob, "<i8", n_idx, off)

    if n_explicit == 0:
        # Fast path: ranges that run back to back from row 0.
        starts, counts = ranges[:, 0], ranges[:, 1]
        ends = np.cumsum(counts)
        if starts[0] == 0 and np.array_equal(starts[1:], ends[:-1]):
            return int(ends[-1])
    parts: list[npt.NDArray[np.int64]] = []
    r = e = 0
    for is_range in bits.tolist():
        if is_range:
            start, count = (int(v) for v in ranges[r])
            parts.append(np.arange(start, start + count, dtype=np.int64))
            r += 1
        else:
            parts.append(indices[int(offsets[e]) : int(offsets[e + 1])].astype(np.int64))
            e += 1
    return np.concatenate(parts) if parts else np.empty(0, np.int64)

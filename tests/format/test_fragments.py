"""The fragment-index blob ("GFVZ") of ``vertex_fragments`` cells.

``zarr_vectors.format.fragments``: byte-identical to the published 0.9.2, decoded in
fragment order, malformed blobs refused.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import StoreError
from zarr_vectors.format.cells import CellCodec, codec_chain
from zarr_vectors.format.fragments import decode_fragment_rows, encode_single_range

FIXTURES = Path("/work/shared/fixtures/upstream-0.9.2")
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="reference stores not found")


def _blob(ranges: list[tuple[int, int]], explicit: list[list[int]], bits: list[bool]) -> bytes:
    """A fragment-index blob assembled field by field from the layout description."""
    f = len(bits)
    bitmap = np.packbits(np.array(bits, dtype=np.uint8), bitorder="little").tobytes()
    bitmap += b"\0" * ((-len(bitmap)) % 8)
    offsets = np.cumsum([0, *(len(e) for e in explicit)]).astype("<u4")
    return b"".join(
        [
            b"GFVZ",
            struct.pack("<HHII", 1, 0, f, len(ranges)),
            bitmap,
            np.array(ranges, dtype="<i8").reshape(-1, 2).tobytes(),
            offsets.tobytes(),
            np.array([i for e in explicit for i in e], dtype="<i8").tobytes(),
        ]
    )


@needs_fixtures
def test_single_range_blob_is_byte_identical_to_the_reference() -> None:
    raw = (FIXTURES / "basic.zarrvectors/0/vertex_fragments/c/0/0/0").read_bytes()
    vraw = (FIXTURES / "basic.zarrvectors/0/vertices/c/0/0/0").read_bytes()
    n = (len(vraw) - 8) // 12
    assert CellCodec(tuple(codec_chain(None, checksum=False))).encode(encode_single_range(n)) == raw


def test_decode_ranges_tiling_returns_a_count() -> None:
    assert decode_fragment_rows(encode_single_range(83)) == 83
    assert decode_fragment_rows(_blob([(0, 3), (3, 4)], [], [True, True])) == 7


def test_decode_mixed_fragments_in_fragment_order() -> None:
    blob = _blob([(5, 2)], [[0, 9], [3]], [False, True, False])
    np.testing.assert_array_equal(decode_fragment_rows(blob), [0, 9, 5, 6, 3])


@pytest.mark.parametrize(
    "blob",
    [
        b"GFV",
        b"XXXX" + bytes(12),
        _blob([(0, 1)], [], [True])[:30],
        b"GFVZ" + struct.pack("<HHII", 2, 0, 0, 0),
    ],
)
def test_malformed_blobs_raise(blob: bytes) -> None:
    with pytest.raises(StoreError):
        decode_fragment_rows(blob)

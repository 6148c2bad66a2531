"""The object layer: fragment indexes, manifests, and verify reading every object.

Link placement is tested in ``test_links.py``, selective and verified reads in
``test_objread.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.exceptions import CorruptStoreError
from zarr_vectors.format.objects import (
    _encode_manifests,
    decode_fragment_table,
    decode_manifests,
    encode_fragment_ranges,
)
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.polylines import write_polylines

CS = (100.0, 100.0, 100.0)
BOUNDS = ([0.0, 0.0, 0.0], [1000.0, 1000.0, 1000.0])


def test_fragment_ranges_round_trip() -> None:
    starts, counts = np.array([0, 3, 3, 10]), np.array([3, 0, 7, 1])
    table = decode_fragment_table(encode_fragment_ranges(starts, counts), "t")
    assert isinstance(table, np.ndarray)
    np.testing.assert_array_equal(table, np.stack([starts, counts], axis=1))
    empty = decode_fragment_table(
        encode_fragment_ranges(np.zeros(0, np.int64), np.zeros(0, np.int64)), "t"
    )
    assert len(empty) == 0
    with pytest.raises(CorruptStoreError, match="t:"):
        decode_fragment_table(b"GFVZ\x01", "t")


def test_manifests_round_trip() -> None:
    cells = np.array([[0, 1, 2], [-1, 0, 5], [3, 3, 3]])
    frags = np.array([4, 0, 2])
    blobs = _encode_manifests(cells, frags, np.array([2, 0, 1]))
    counts, got_cells, refs = decode_manifests(blobs, 3, "m")
    np.testing.assert_array_equal(counts, [2, 0, 1])
    np.testing.assert_array_equal(got_cells, cells)
    np.testing.assert_array_equal(refs[0], frags)


def walks(k: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(
            rng.uniform(100, 900, 3) + np.cumsum(rng.normal(0, 30, (40, 3)), axis=0), 0, 1000
        ).astype(np.float32)
        for _ in range(k)
    ]


def test_verify_reads_every_object_and_names_a_disagreeing_cell(tmp_path: Path) -> None:
    from zarr_vectors.format.verify import verify_backend

    write_polylines(tmp_path / "s", walks(10, 3), chunk_shape=CS, bounds=BOUNDS)
    assert verify_backend(LocalBackend(tmp_path / "s")).ok
    cells = sorted((tmp_path / "s" / "0" / "vertex_fragments" / "c").rglob("*/*/*"))
    victim = max(cells, key=lambda p: p.stat().st_size)
    from zarr_vectors.format.cells import CellCodec, codec_chain

    codec = CellCodec(tuple(codec_chain(None)))
    victim.write_bytes(
        codec.encode(encode_fragment_ranges(np.zeros(1, np.int64), np.ones(1, np.int64)))
    )
    report = verify_backend(LocalBackend(tmp_path / "s"))
    assert not report.ok
    assert any(p.where == "level 0 objects" and "disagree" in p.what for p in report.errors)

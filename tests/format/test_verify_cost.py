"""verify of a damaged sharded store costs at most twice an intact one, and names each bad cell.

Cost is counted in storage requests through a real local backend (a subclass
that counts), not in seconds: deterministic on a loaded machine. Re-fetching
every cell of a failed batch alone (an index and a range each) was what made
a damaged store 2-8x slower to verify.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zarr_vectors.format.snapshot import load_snapshot
from zarr_vectors.format.verify import verify_backend
from zarr_vectors.storage.local import LocalBackend
from zarr_vectors.types.points import write_points

POINTS = np.random.default_rng(11).uniform(0, 1000, (8_000, 3)).astype(np.float32)


class CountingBackend(LocalBackend):
    """Counts the objects and ranges it is asked for."""

    requests = 0

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        self.requests += len(keys)
        return super()._get_many(keys)

    def _get(self, key: str) -> bytes:
        self.requests += 1
        return super()._get(key)

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        self.requests += 1
        return super()._get_range(key, start, length)


def _verify(path: Path) -> tuple[int, list[str]]:
    backend = CountingBackend(path)
    load_snapshot(backend)  # warm: the count below is verify's own
    backend.requests = 0
    report = verify_backend(backend)
    return backend.requests, [p.where for p in report.errors]


@pytest.mark.slow
@pytest.mark.parametrize("shards", [(2, 2, 2), None])
def test_damaged_store_costs_at_most_twice(tmp_path: Path, shards: tuple[int, ...] | None) -> None:
    path = tmp_path / "s.zv"
    write_points(
        path, POINTS, chunk_shape=(200.0,) * 3, bounds=((0,) * 3, (1000,) * 3), shard_shape=shards
    )
    intact, problems = _verify(path)
    assert problems == []
    victim = path / "0/vertices/c/0/0/0"
    data = bytearray(victim.read_bytes())
    data[20] ^= 0xFF  # inside the first cell's bytes (a shard's index is at its end)
    victim.write_bytes(bytes(data))
    damaged, problems = _verify(path)
    assert len(problems) == 1 and "cell 0.0.0" in problems[0], problems
    assert damaged <= 2 * intact, (damaged, intact)

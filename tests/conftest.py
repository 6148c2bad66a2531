"""Shared pytest configuration.

Server fixtures (SeaweedFS, Azurite, a GCS emulator, an HTTP server) live in
``tests/servers/`` and are loaded as a plugin below once they exist.
"""

import os

import pytest

pytest_plugins = ["tests.servers.fixtures"]

# Tests interrupt and kill writers on purpose; the next writer then waits for the dead
# one's write lease to expire. A short lease keeps those waits to seconds (writers renew
# it every third of it, so a live writer keeps it however long it works).
os.environ.setdefault("ZARR_VECTORS_LEASE_SECONDS", "5")


@pytest.fixture(params=["whole", "batched"])
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a read test both ways a whole level is read.

    "whole": as configured (small levels are fetched in one go); "batched": with
    batches of 64 bytes, so every whole-level read goes through the batch-by-batch
    path (``format.levels._read_whole_level``), one cell per batch.
    """
    if request.param == "batched":
        from zarr_vectors.format import levels

        monkeypatch.setattr(levels, "READ_BATCH_BYTES", 64)
        monkeypatch.setattr(levels, "READ_BATCH_MIN_CELLS", 1)
    return str(request.param)

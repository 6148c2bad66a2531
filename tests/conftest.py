"""Shared pytest configuration.

Server fixtures (SeaweedFS, Azurite, a GCS emulator, an HTTP server) live in
``tests/helpers/servers/`` and are loaded as a plugin below once they exist.
"""

from pathlib import Path

import pytest

pytest_plugins = ["tests.helpers.servers.fixtures"]

#: Fixtures that start a server process; a test using one is marked ``servers``.
SERVER_FIXTURES = frozenset(
    {
        "s3_server",
        "own_s3_server",
        "s3_bucket",
        "s3_counting_proxy",
        "s3_cluster",
        "s3_cluster_bucket",
        "azure_server",
        "azure_container",
        "gcs_server",
        "gcs_bucket",
        "http_server",
        "http_auth_server",
    }
)


#: Tests measured slow (see the file's header), marked ``slow`` here rather than one by one.
SLOW_TESTS = frozenset(
    line.strip()
    for line in (Path(__file__).parent / "slow_tests.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def _is_slow(nodeid: str) -> bool:
    test = nodeid.split("[", 1)[0]
    return test in SLOW_TESTS or any(
        test.startswith(entry) for entry in SLOW_TESTS if entry.endswith("/")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that start a server ``servers`` and the measured slow ones ``slow``.

    ``uv run pytest -m "not slow and not servers"`` is the everyday loop.
    """
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)
        if _is_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)


#: The write lease of tests that kill writers on purpose (see :func:`short_lease`).
SHORT_LEASE_SECONDS = "15"


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 15 s write lease, for tests whose next writer waits out a killed writer's lease.

    Everywhere else writes take the library's 60 s: a live writer starved of CPU (or
    waiting on a slow emulator) on a busy machine must renew within its lease, and under
    heavy load 15 s was not always enough. Worker processes started during the test
    inherit it. Tests of expiry itself set their own lease or clock.
    """
    monkeypatch.setenv("ZARR_VECTORS_LEASE_SECONDS", SHORT_LEASE_SECONDS)


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

"""The places the backend plugins' tests share: seeded read-only stores, a silent endpoint.

Fixtures of :mod:`tests.plugins.backend_suite` and of each plugin's own tests; the
servers themselves come from ``tests/helpers/servers``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.backend_checks import SEEDED, SilentServer, seed
from tests.helpers.servers import procs


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""
    with SilentServer.listening() as server:
        yield server


@pytest.fixture
def http_seeded(http_server: procs.HttpServer) -> str:
    """A fresh directory under the HTTP server's root holding ``SEEDED``; its URL."""
    return f"{http_server.url}/{seed(http_server.root)}"


@pytest.fixture
def gcs_seeded(gcs_server: procs.GcsServer, gcs_bucket: str) -> str:
    """A bucket holding ``SEEDED``, written through the emulator's JSON API."""
    for key, data in SEEDED.items():
        gcs_server.upload(gcs_bucket, key, data)
    return gcs_bucket

"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zarr_vectors.storage import refresh_backends


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test change the environment or sys.path, and rediscover afterwards."""
    monkeypatch.delenv("ZARR_VECTORS_BACKEND", raising=False)
    monkeypatch.delenv("ZARR_VECTORS_DISABLE_PLUGINS", raising=False)
    refresh_backends()
    yield
    monkeypatch.undo()
    refresh_backends()

"""A base class that turns the kit into ordinary pytest tests of a plugin's own suite.

Subclass :class:`BackendConformance` in a module named ``test_*.py``, say which
backend and where (a fixed scratch ``backend_url``, or :meth:`make_url` from
pytest's ``tmp_path``), and every check of the kit becomes one test::

    class TestMyBackend(BackendConformance):
        backend_name = "sqlite"

        def make_url(self, tmp_path):
            return f"sqlite:///{tmp_path}/kit.db"

A failure shows the property that broke and hypothesis's minimal example.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.runner import run_check
from zarr_vectors.testing.target import KitTarget

__all__ = ["BackendConformance"]


class BackendConformance:
    """Every check of the conformance kit as a test method; configure by class attributes."""

    #: Registered name of the backend under test (``None``: the one serving the URL).
    backend_name: ClassVar[str | None] = None
    #: A scratch location the kit may empty; or override :meth:`make_url`.
    backend_url: ClassVar[str | None] = None
    #: Options passed to the backend's constructor.
    backend_options: ClassVar[dict[str, Any]] = {}
    #: Settings; ``None`` picks :meth:`KitConfig.for_url`.
    kit_config: ClassVar[KitConfig | None] = None

    def make_url(self, tmp_path: Path) -> str:
        """The scratch URL for one test (default: :attr:`backend_url`)."""
        if self.backend_url is None:
            raise pytest.UsageError(
                f"{type(self).__name__} needs a location: set backend_url = '...' or override "
                "make_url(self, tmp_path) to return a fresh scratch URL."
            )
        return self.backend_url

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Path) -> KitTarget:
        """The backend under test; override to use fixtures (``request.getfixturevalue``)."""
        return KitTarget.from_name(
            self.backend_name, self.make_url(tmp_path), **dict(self.backend_options)
        )

    def make_config(self, target: KitTarget) -> KitConfig:
        """The kit settings (default: :attr:`kit_config`, else chosen from the URL)."""
        return self.kit_config or KitConfig.for_url(target.url)

    @pytest.fixture
    def zv_kit(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Iterator[tuple[KitTarget, KitConfig]]:
        """The target and settings of one check; the scratch location is emptied afterwards."""
        target = self.make_target(request, tmp_path)
        config = self.make_config(target)
        target.ensure_scratch()
        try:
            yield target, config
        finally:
            target.cleanup()

    def _check(self, name: str, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        target, config = zv_kit
        if name in config.skip:
            pytest.skip(f"{name} is in kit_config.skip")
        result = run_check(name, target, config)
        if not result.ok:
            pytest.fail(result.describe(), pytrace=False)

    def test_sync_state_machine(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Every sync call agrees with the in-memory model, step by step."""
        self._check("sync-state-machine", zv_kit)

    def test_async_state_machine(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Every async call agrees with the in-memory model, step by step."""
        self._check("async-state-machine", zv_kit)

    def test_invalid_keys(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Invalid keys and prefixes raise InvalidKeyError and touch nothing."""
        self._check("invalid-keys", zv_kit)

    def test_concurrent_async(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Concurrent async puts and gets lose, mix up and tear nothing."""
        self._check("concurrent-async", zv_kit)

    def test_persistence(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Contents survive close() and reopening the same URL."""
        self._check("persistence", zv_kit)

    def test_zarr_array(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """A zarr array round-trips through the backend."""
        self._check("zarr-array", zv_kit)

    def test_point_cloud(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """A point cloud round-trips through the backend, whole and by box."""
        self._check("point-cloud", zv_kit)

"""The kit's tests as collected by ``pytest --zv-backend NAME --zv-url URL``."""

from __future__ import annotations

from pathlib import Path

import pytest

from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.suite import BackendConformance
from zarr_vectors.testing.target import KitTarget


class TestBackendFromCommandLine(BackendConformance):
    """The backend, URL and options given on the pytest command line."""

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Path) -> KitTarget:
        from zarr_vectors.cli.options import parse_options

        config = request.config
        options = parse_options(list(config.getoption("zv_option")))
        return KitTarget.from_name(
            config.getoption("zv_backend"), config.getoption("zv_url"), **options
        )

    def make_config(self, target: KitTarget) -> KitConfig:
        config = self.kit_config or KitConfig.for_url(target.url)
        return config.with_changes(
            max_examples=self.request_config.getoption("zv_max_examples"),
            skip=frozenset(self.request_config.getoption("zv_skip")) or None,
        )

    @pytest.fixture(autouse=True)
    def _remember_config(self, request: pytest.FixtureRequest) -> None:
        self.request_config = request.config

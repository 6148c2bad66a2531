"""The kit's tests as collected by ``pytest --zv-backend NAME --zv-url URL``."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.suite import BackendConformance, _replay_switches
from zarr_vectors.testing.target import KitTarget


class TestBackendFromCommandLine(BackendConformance):
    """The backend, URL and options given on the pytest command line.

    ``--zv-option KEY=VALUE`` values are converted as ``check-backend --option``
    converts them (``true``/``false`` to bool, numbers to int or float).
    """

    def make_target(self, request: pytest.FixtureRequest, tmp_path: Path) -> KitTarget:
        from zarr_vectors.storage.option_text import parse_option_pairs as parse_options

        config = request.config
        options = parse_options(list(config.getoption("zv_option")))
        return KitTarget.from_name(
            config.getoption("zv_backend"), config.getoption("zv_url"), **options
        )

    def make_config(self, target: KitTarget) -> KitConfig:
        config = self.kit_config or KitConfig.for_url(target.url)
        return config.with_changes(skip=frozenset(self.request_config.getoption("zv_skip")) or None)

    def replay_command(self, request: pytest.FixtureRequest, seed: int | None) -> str:
        from zarr_vectors.storage.option_text import parse_option_pairs as parse_options
        from zarr_vectors.storage.secrets import redact_options, redact_url

        config = request.config
        args = ["pytest", "--zv-backend", config.getoption("zv_backend")]
        args += ["--zv-url", redact_url(config.getoption("zv_url"))]
        shown = redact_options(parse_options(list(config.getoption("zv_option"))))
        for key, value in shown.items():
            args += ["--zv-option", f"{key}={value}"]
        args += [*_replay_switches(config), "-k", request.node.name]
        if seed is not None:
            args += ["--zv-seed", str(seed)]
        return shlex.join(args)

    @pytest.fixture(autouse=True)
    def _remember_config(self, request: pytest.FixtureRequest) -> None:
        self.request_config = request.config

"""A base class that turns the kit into ordinary pytest tests of a plugin's own suite.

Subclass :class:`BackendConformance` in a module named ``test_*.py``, say which
backend and where (a fixed scratch ``backend_url``, or :meth:`make_url` from
pytest's ``tmp_path``), and every check of the kit becomes one test::

    class TestMyBackend(BackendConformance):
        backend_name = "sqlite"

        def make_url(self, tmp_path):
            return f"sqlite:///{tmp_path}/kit.db"

A failure shows the property that broke, hypothesis's minimal example, the
backend calls it made, the seed and the pytest command that replays it. The
command-line switches of the kit's pytest plugin (``--zv-max-examples``,
``--zv-steps``, ``--zv-timeout``, ``--zv-seed``) apply to these tests too.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from zarr_vectors.testing.config import KitConfig
from zarr_vectors.testing.runner import run_check
from zarr_vectors.testing.target import KitTarget

__all__ = ["BackendConformance", "config_from_options"]

#: pytest option -> KitConfig field it sets
_OPTIONS = {
    "zv_max_examples": "max_examples",
    "zv_steps": "stateful_step_count",
    "zv_timeout": "call_timeout",
    "zv_seed": "seed",
}


def config_from_options(config: KitConfig, pytest_config: pytest.Config) -> KitConfig:
    """``config`` with the kit's pytest switches applied (those given on the command line)."""
    changes = {field: pytest_config.getoption(option, None) for option, field in _OPTIONS.items()}
    return config.with_changes(**changes)


def _replay_switches(pytest_config: pytest.Config) -> list[str]:
    """The effort switches of this run, to repeat in a replay command."""
    out: list[str] = []
    for option in ("zv_max_examples", "zv_steps", "zv_timeout"):
        value = pytest_config.getoption(option, None)
        if value is not None:
            out += [f"--{option.replace('_', '-')}", str(value)]
    return out


class BackendConformance:
    """Every check of the conformance kit as a test method; configure by class attributes."""

    #: Registered name of the backend under test (``None``: the one serving the URL).
    backend_name: ClassVar[str | None] = None
    #: A scratch location the kit may empty; or override :meth:`make_url`.
    backend_url: ClassVar[str | None] = None
    #: Options passed to the backend's constructor (as given: not converted).
    backend_options: ClassVar[dict[str, Any]] = {}
    #: Settings; ``None`` picks :meth:`KitConfig.for_url`.
    kit_config: ClassVar[KitConfig | None] = None
    #: True when the objects live in the test process only (an in-memory store): the
    #: two-processes check is then skipped (``memory://`` URLs are recognised anyway).
    in_process: ClassVar[bool] = False

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
        target = KitTarget.from_name(
            self.backend_name, self.make_url(tmp_path), **dict(self.backend_options)
        )
        target.in_process = self.in_process
        return target

    def make_config(self, target: KitTarget) -> KitConfig:
        """The kit settings (default: :attr:`kit_config`, else chosen from the URL)."""
        return self.kit_config or KitConfig.for_url(target.url)

    def replay_command(self, request: pytest.FixtureRequest, seed: int | None) -> str:
        """The command that runs this test again with the same examples."""
        args = ["pytest", request.node.nodeid, *_replay_switches(request.config)]
        if seed is not None:
            args += ["--zv-seed", str(seed)]
        return shlex.join(args)

    @pytest.fixture
    def zv_kit(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> Iterator[tuple[KitTarget, KitConfig]]:
        """The target and settings of one check; the scratch location is emptied afterwards."""
        target = self.make_target(request, tmp_path)
        config = config_from_options(self.make_config(target), request.config)
        target.configure(config.call_timeout)
        target.ensure_scratch()
        self._zv_request = request
        try:
            yield target, config
        finally:
            target.cleanup()

    def _check(self, name: str, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        target, config = zv_kit
        if name in config.skip:
            pytest.skip(f"{name} is in kit_config.skip")
        request = self._zv_request
        result = run_check(
            name, target, config, replay=lambda _, seed: self.replay_command(request, seed)
        )
        if not result.ok:
            pytest.fail(result.describe(), pytrace=False)
        if result.status == "skipped":
            pytest.skip(result.message)

    def test_sync_state_machine(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Every sync call agrees with the in-memory model, step by step."""
        self._check("sync-state-machine", zv_kit)

    def test_async_state_machine(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Every async call agrees with the in-memory model, step by step."""
        self._check("async-state-machine", zv_kit)

    def test_edge_cases(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Fixed scripts: parents are not objects, ranges at the end, listings after deletes."""
        self._check("edge-cases", zv_kit)

    def test_large_batches(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """put_many, move_many and delete_many of more than a thousand keys."""
        self._check("large-batches", zv_kit)

    def test_write_fences(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Every batch stops at a closed write fence, having changed nothing."""
        self._check("write-fences", zv_kit)

    def test_two_instances(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Two instances of one URL at once: interleaved, in threads, in tasks."""
        self._check("two-instances", zv_kit)

    def test_two_processes(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Two processes using one URL at once (skipped for in-process stores)."""
        self._check("two-processes", zv_kit)

    def test_key_contract(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Keys of the contract are stored, listed and read back byte-exact."""
        self._check("key-contract", zv_kit)

    def test_invalid_keys(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Invalid keys and prefixes raise InvalidKeyError and touch nothing."""
        self._check("invalid-keys", zv_kit)

    def test_concurrent_async(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Concurrent async puts and gets lose and mix up nothing."""
        self._check("concurrent-async", zv_kit)

    def test_torn_writes(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """A read during an overwrite sees the old or the new value, never a mixture."""
        self._check("torn-writes", zv_kit)

    def test_conditional_writes(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Racing put_if calls: exactly one wins; or put_if is refused as unsupported."""
        self._check("conditional-writes", zv_kit)

    def test_persistence(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """Contents survive close() and reopening the same URL."""
        self._check("persistence", zv_kit)

    def test_zarr_array(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """A zarr array round-trips through the backend."""
        self._check("zarr-array", zv_kit)

    def test_point_cloud(self, zv_kit: tuple[KitTarget, KitConfig]) -> None:
        """A point cloud round-trips through the backend, whole and by box."""
        self._check("point-cloud", zv_kit)

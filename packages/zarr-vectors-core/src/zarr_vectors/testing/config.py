"""How hard the conformance kit pushes a backend: examples, steps, time limits, value sizes, seed.

A local disk answers in microseconds and can take hundreds of examples; a real
object store answers in tens of milliseconds and costs money per request. So
:meth:`KitConfig.for_url` picks one of two profiles from the URL's scheme: the
local profile for bare paths, ``file://``, ``memory://`` and every scheme an
installed plugin declares local (``BackendInfo.local_schemes``), the remote
profile for the rest. Every field can be changed by the author
(:meth:`KitConfig.with_changes`, or ``--max-examples``, ``--steps``,
``--timeout``, ``--seed`` on the command line and their ``--zv-`` twins
under pytest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from hypothesis import settings as Settings

__all__ = ["CHECK_NAMES", "MIB", "KitConfig", "local_schemes"]

MIB = 1024 * 1024
T = TypeVar("T")

#: Every check of the kit, in the order it runs.
CHECK_NAMES: tuple[str, ...] = (
    "sync-state-machine",
    "async-state-machine",
    "edge-cases",
    "key-contract",
    "invalid-keys",
    "large-batches",
    "write-fences",
    "two-instances",
    "two-processes",
    "concurrent-async",
    "torn-writes",
    "conditional-writes",
    "persistence",
    "zarr-array",
    "point-cloud",
)

#: Host names of this machine: a server there answers like local storage.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

#: Schemes that are local whatever is installed: bare paths, file:// and memory://.
_ALWAYS_LOCAL = frozenset({"", "file", "memory"})


def local_schemes() -> frozenset[str]:
    """Schemes the local profile is used for: the built-in ones and every plugin's own."""
    from zarr_vectors.storage import get_registry

    return _ALWAYS_LOCAL | get_registry().schemes_where("local_schemes")


@dataclass(frozen=True)
class KitConfig:
    """Settings of one kit run.

    Attributes
    ----------
    max_examples:
        Examples per property test (and state-machine runs per machine).
    stateful_step_count:
        Most steps in one state-machine run.
    deadline:
        Longest one example may take before hypothesis reports it as too slow;
        ``None`` disables the check. Remote stores need seconds, not milliseconds.
    max_value_size:
        Largest value the kit writes, in bytes (values go from 0 bytes up to this).
    roundtrip_examples:
        Examples of the zarr-array and point-cloud round trips (each writes a store).
    call_timeout:
        Seconds one backend call may take before the check fails with a message
        naming the call, its key and the backend (the kit never hangs).
    seed:
        The seed of the random examples; the same seed (and settings) replays the
        same run. ``None``: a new one per run, printed with every failure.
    skip:
        Names of checks not to run (see :data:`CHECK_NAMES`), e.g. ``{"persistence"}``
        for a store that forgets everything when closed, such as an in-memory one.
    shrink:
        Look for the smallest failing example once one is found (the default); off,
        a failure is reported as found, which is quicker but longer to read.
    shrink_seconds:
        Longest the search for the smallest failing example may take, per failure;
        after it the failure is reported as it was found (the unshrunk example).
    batch_keys:
        Keys in the large batches of the ``large-batches`` check (over 1,000: storages
        page their batch requests by 100 or 1,000 keys).
    isolate:
        Run each check in a child process the kit can end (the default where the
        platform can fork): a backend call stuck in C code holding Python's GIL, or a
        crash of the backend's native code, then fails the check instead of freezing
        or killing the run.
    derandomize:
        Draw the same examples on every run (stable CI), whatever the seed.
    database:
        Keep failing examples in hypothesis's example database (``.hypothesis/``) and
        replay them first next time (not with a seed, which replays on its own).
    """

    max_examples: int = 40
    stateful_step_count: int = 30
    deadline: timedelta | None = timedelta(seconds=10)
    max_value_size: int = 4 * MIB
    roundtrip_examples: int = 4
    call_timeout: float = 30.0
    seed: int | None = None
    skip: frozenset[str] = field(default_factory=frozenset)
    shrink: bool = True
    shrink_seconds: float = 60.0
    batch_keys: int = 1100
    isolate: bool = True
    derandomize: bool = False
    database: bool = False

    def __post_init__(self) -> None:
        from zarr_vectors.exceptions import ValidationError

        unknown = sorted(set(self.skip) - set(CHECK_NAMES))
        if unknown:
            raise ValidationError(
                f"Unknown kit check(s) to skip: {', '.join(unknown)}. "
                f"The checks are: {', '.join(CHECK_NAMES)}."
            )
        for name in ("max_examples", "stateful_step_count", "roundtrip_examples"):
            if getattr(self, name) < 1:
                raise ValidationError(f"KitConfig.{name} must be >= 1, got {getattr(self, name)}.")
        if not self.call_timeout > 0:
            raise ValidationError(
                f"KitConfig.call_timeout must be a number of seconds > 0, got {self.call_timeout}."
            )
        if self.batch_keys < 1:
            raise ValidationError(f"KitConfig.batch_keys must be >= 1, got {self.batch_keys}.")
        if not self.shrink_seconds > 0:
            raise ValidationError(
                f"KitConfig.shrink_seconds must be > 0 seconds, got {self.shrink_seconds}."
            )
        if self.max_value_size < 0:
            raise ValidationError(
                f"KitConfig.max_value_size must be >= 0, got {self.max_value_size}."
            )
        object.__setattr__(self, "skip", frozenset(self.skip))

    @classmethod
    def local(cls) -> KitConfig:
        """Defaults for storage on this machine (files, memory, a local database)."""
        return cls()

    @classmethod
    def remote(cls) -> KitConfig:
        """Defaults for a store across a network: fewer examples, room for latency."""
        return cls(
            max_examples=12,
            stateful_step_count=20,
            deadline=timedelta(seconds=60),
            max_value_size=3 * MIB,
            roundtrip_examples=2,
            call_timeout=120.0,
            batch_keys=1001,
        )

    @classmethod
    def for_url(cls, url: str) -> KitConfig:
        """:meth:`local` for local schemes (see :func:`local_schemes`) and for servers on
        this machine (``localhost``, ``127.0.0.1``, ``::1``: client/server storage such as a
        database server, whose scheme is local or remote depending on the host),
        :meth:`remote` else."""
        from urllib.parse import urlsplit

        from zarr_vectors.storage import url_scheme

        if url_scheme(url) in local_schemes():
            return cls.local()
        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        return cls.local() if host in _LOOPBACK else cls.remote()

    def with_changes(self, **changes: Any) -> KitConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def settings(self, *, examples: int | None = None, stateful: bool = False) -> Settings:
        """The hypothesis settings of one check."""
        from hypothesis import HealthCheck, Phase, settings

        kwargs: dict[str, Any] = {}
        if not self.database:
            kwargs["database"] = None
        if stateful:
            kwargs["stateful_step_count"] = self.stateful_step_count
        phases = [Phase.explicit, Phase.reuse, Phase.generate]
        if self.shrink:
            phases.append(Phase.shrink)
        return settings(
            phases=phases,
            max_examples=examples or self.max_examples,
            deadline=self.deadline,
            derandomize=self.derandomize,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            report_multiple_bugs=False,
            **kwargs,
        )

    def seeded(self, test: T) -> T:
        """``test`` (a hypothesis test or state machine class) drawing from :attr:`seed`."""
        if self.seed is None or self.derandomize:
            return test
        from hypothesis import seed

        decorate: Callable[[Any], Any] = seed(self.seed)
        seeded: T = decorate(test)
        return seeded

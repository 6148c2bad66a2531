"""How hard the conformance kit pushes a backend: example counts, deadlines, value sizes.

A local disk answers in microseconds and can take hundreds of examples; a real
object store answers in tens of milliseconds and costs money per request. So
:meth:`KitConfig.for_url` picks one of two profiles from the URL's scheme, and
every field can be changed by the author (``dataclasses.replace`` or the
``--zv-max-examples`` / ``--max-examples`` switches).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis import settings as Settings

__all__ = ["CHECK_NAMES", "MIB", "KitConfig"]

MIB = 1024 * 1024

#: Every check of the kit, in the order it runs.
CHECK_NAMES: tuple[str, ...] = (
    "sync-state-machine",
    "async-state-machine",
    "invalid-keys",
    "concurrent-async",
    "persistence",
    "zarr-array",
    "point-cloud",
)

_LOCAL_SCHEMES = ("", "file", "memory")


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
    skip:
        Names of checks not to run (see :data:`CHECK_NAMES`), e.g. ``{"persistence"}``
        for a store that forgets everything when closed, such as an in-memory one.
    derandomize:
        Draw the same examples on every run (stable CI); random otherwise.
    database:
        Keep failing examples in hypothesis's example database (``.hypothesis/``) and
        replay them first next time.
    """

    max_examples: int = 40
    stateful_step_count: int = 30
    deadline: timedelta | None = timedelta(seconds=10)
    max_value_size: int = 4 * MIB
    roundtrip_examples: int = 4
    skip: frozenset[str] = field(default_factory=frozenset)
    derandomize: bool = False
    database: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.skip) - set(CHECK_NAMES))
        if unknown:
            from zarr_vectors.exceptions import ValidationError

            raise ValidationError(
                f"Unknown kit check(s) to skip: {', '.join(unknown)}. "
                f"The checks are: {', '.join(CHECK_NAMES)}."
            )
        for name in ("max_examples", "stateful_step_count", "roundtrip_examples"):
            if getattr(self, name) < 1:
                from zarr_vectors.exceptions import ValidationError

                raise ValidationError(f"KitConfig.{name} must be >= 1, got {getattr(self, name)}.")
        object.__setattr__(self, "skip", frozenset(self.skip))

    @classmethod
    def local(cls) -> KitConfig:
        """Defaults for storage on this machine (files, memory): many examples, short deadline."""
        return cls()

    @classmethod
    def remote(cls) -> KitConfig:
        """Defaults for a store across a network: few examples, a deadline for latency."""
        return cls(
            max_examples=12,
            stateful_step_count=20,
            deadline=timedelta(seconds=60),
            max_value_size=3 * MIB,
            roundtrip_examples=2,
        )

    @classmethod
    def for_url(cls, url: str) -> KitConfig:
        """:meth:`local` for paths, ``file://`` and ``memory://``; :meth:`remote` for the rest."""
        from zarr_vectors.core.backends.resolve import url_scheme

        return cls.local() if url_scheme(url) in _LOCAL_SCHEMES else cls.remote()

    def with_changes(self, **changes: Any) -> KitConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def settings(self, *, examples: int | None = None, stateful: bool = False) -> Settings:
        """The hypothesis settings of one check."""
        from hypothesis import HealthCheck, settings

        kwargs: dict[str, Any] = {}
        if not self.database:
            kwargs["database"] = None
        if stateful:
            kwargs["stateful_step_count"] = self.stateful_step_count
        from hypothesis import Phase

        return settings(
            phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
            max_examples=examples or self.max_examples,
            deadline=self.deadline,
            derandomize=self.derandomize,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            report_multiple_bugs=False,
            **kwargs,
        )

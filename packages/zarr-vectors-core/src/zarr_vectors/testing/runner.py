"""Running the kit's checks outside pytest, collecting hypothesis's minimal examples.

Used by ``zarr-vectors check-backend`` and by :func:`run_kit`. Each check
either passes, is skipped (named in :attr:`KitConfig.skip`), or fails; a
failure keeps the exception and the text hypothesis printed about it (the
falsifying example, or the shortest sequence of steps of a state machine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
from zarr_vectors.testing.target import KitTarget

__all__ = ["CHECKS", "CheckResult", "check_function", "run_check", "run_kit"]


def _sync_machine(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.stateful import run_machine

    run_machine(target, config, "sync")


def _async_machine(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.stateful import run_machine

    run_machine(target, config, "async")


def _invalid_keys(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_invalid_keys

    check_invalid_keys(target, config)


def _concurrent(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_concurrent_async

    check_concurrent_async(target, config)


def _persistence(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.properties import check_persistence

    check_persistence(target, config)


def _zarr_array(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.roundtrip import check_zarr_array

    check_zarr_array(target, config)


def _point_cloud(target: KitTarget, config: KitConfig) -> None:
    from zarr_vectors.testing.roundtrip import check_point_cloud

    check_point_cloud(target, config)


#: check name -> (function, one line saying what it proves)
CHECKS: dict[str, tuple[Callable[[KitTarget, KitConfig], None], str]] = {
    "sync-state-machine": (_sync_machine, "every sync call agrees with the in-memory model"),
    "async-state-machine": (_async_machine, "every async call agrees with the in-memory model"),
    "invalid-keys": (_invalid_keys, "invalid keys and prefixes are refused, storage untouched"),
    "concurrent-async": (_concurrent, "concurrent async puts/gets lose, mix and tear nothing"),
    "persistence": (_persistence, "contents survive close() and reopening the URL"),
    "zarr-array": (_zarr_array, "a zarr array round-trips through the backend"),
    "point-cloud": (_point_cloud, "a point cloud round-trips, whole and by box"),
}
assert tuple(CHECKS) == CHECK_NAMES


def check_function(name: str) -> Callable[[KitTarget, KitConfig], None]:
    """The function that runs check ``name``."""
    return CHECKS[name][0]


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    status: str  # "passed", "failed" or "skipped"
    message: str = ""
    example: str = ""
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def describe(self) -> str:
        """A few lines for a terminal: the property, what went wrong, the minimal example."""
        head = f"{self.status.upper():7} {self.name}: {CHECKS[self.name][1]}"
        if self.status != "failed":
            return head
        lines = [head, f"        {self.message}"]
        if self.example:
            lines.append("        minimal example found by hypothesis:")
            lines.extend(f"            {line}" for line in self.example.splitlines())
        return "\n".join(lines)


def _notes(exc: BaseException) -> list[str]:
    notes: Any = getattr(exc, "__notes__", [])
    return [str(n) for n in notes]


def run_check(name: str, target: KitTarget, config: KitConfig) -> CheckResult:
    """Run one check and return its result (exceptions are captured, not raised)."""
    if name in config.skip:
        return CheckResult(name, "skipped", "skipped by configuration")
    from hypothesis.reporting import with_reporter

    printed: list[str] = []
    try:
        with with_reporter(lambda value: printed.append(str(value))):
            check_function(name)(target, config)
    except Exception as exc:
        from zarr_vectors.core.backends.secrets import is_secret_option, redact_text

        secrets = [str(v) for k, v in target.options.items() if is_secret_option(k) and v]
        lines = [*printed, *(n for n in _notes(exc) if n not in printed)]
        example = "\n".join(line for line in lines if line.strip())
        message = f"{type(exc).__name__}: {exc}"
        return CheckResult(
            name, "failed", redact_text(message, secrets), redact_text(example, secrets), exc
        )
    return CheckResult(name, "passed")


def run_kit(
    target: KitTarget,
    config: KitConfig | None = None,
    checks: Iterable[str] | None = None,
    *,
    require_empty: bool = True,
) -> list[CheckResult]:
    """Run the checks (all by default) against ``target``; the scratch location is emptied after.

    With ``require_empty`` the run refuses a location that already holds objects,
    since the kit deletes everything there.
    """
    config = config or KitConfig()
    names = list(checks) if checks is not None else list(CHECK_NAMES)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        from zarr_vectors.exceptions import ValidationError

        raise ValidationError(
            f"Unknown kit check(s): {', '.join(unknown)}. The checks are: {', '.join(CHECKS)}."
        )
    if require_empty:
        target.ensure_scratch()
    try:
        return [run_check(name, target, config) for name in names]
    finally:
        target.cleanup()

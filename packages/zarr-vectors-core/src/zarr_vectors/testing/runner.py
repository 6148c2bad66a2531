"""Running the kit's checks, reporting as they go, and keeping what a failure needs to replay.

Used by ``zarr-vectors check-backend``, the pytest base class and :func:`run_kit`.
Each check either passes, is skipped (named in :attr:`KitConfig.skip`), or
fails; a failure keeps the exception, the text hypothesis printed about it (the
falsifying example, or the shortest sequence of steps of a state machine), the
backend calls that minimal example made, the seed, and the command that
replays it.

A :class:`KitReporter` hears about each check when it starts, as its examples
run, and when it ends, so a long run shows where it is.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.checks import CHECKS, FIXED, check_function
from zarr_vectors.testing.config import CHECK_NAMES, KitConfig
from zarr_vectors.testing.guard import KitTimeoutError
from zarr_vectors.testing.isolation import Attempt, can_isolate, run_here, run_in_child
from zarr_vectors.testing.target import KitTarget

__all__ = [
    "CHECKS",
    "CheckResult",
    "KitReporter",
    "check_function",
    "new_seed",
    "run_check",
    "run_kit",
]


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    status: str  # "passed", "failed" or "skipped"
    message: str = ""
    example: str = ""
    error: BaseException | None = None
    #: the seed the check drew its examples from (``None`` when derandomized)
    seed: int | None = None
    #: backend calls of the failing (minimal) example, oldest first
    calls: list[str] = field(default_factory=list)
    #: how to run the same check with the same examples again
    replay: str = ""
    seconds: float = 0.0
    examples: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def headline(self) -> str:
        """One line: status, name, what the check proves, and its time."""
        took = f" ({self.seconds:.1f} s)" if self.status != "skipped" else ""
        return f"{self.status.upper():7} {self.name}: {CHECKS[self.name][1]}{took}"

    def describe(self) -> str:
        """Lines for a terminal: the property, what went wrong, the minimal example, replay."""
        if self.status == "skipped" and self.message:
            return f"{self.headline()}\n        {self.message}"
        if self.status != "failed":
            return self.headline()
        lines = [self.headline(), f"        {self.message}"]
        if self.example:
            lines.append("        minimal example found by hypothesis:")
            lines.extend(f"            {line}" for line in self.example.splitlines())
        if self.calls:
            lines.append("        backend calls of that example, oldest first:")
            lines.extend(f"            {call}" for call in self.calls)
        if self.seed is not None:
            lines.append(f"        seed: {self.seed}")
        if self.replay:
            lines.append(f"        replay: {self.replay}")
        return "\n".join(lines)


class KitReporter(Protocol):
    """Hears about a run as it goes (the command line prints it; see ``check-backend``)."""

    def started(self, name: str, planned: int) -> None:
        """Check ``name`` starts; about ``planned`` examples are drawn if all pass."""

    def example(self, name: str, count: int) -> None:
        """Check ``name`` runs its ``count``-th example (shrinking included)."""

    def finished(self, result: CheckResult) -> None:
        """Check ``result.name`` ended."""


def new_seed() -> int:
    """A fresh seed for a run that was given none."""
    return random.SystemRandom().randrange(2**32)


def _notes(exc: BaseException) -> list[str]:
    notes: Any = getattr(exc, "__notes__", [])
    return [str(n) for n in notes]


def _planned(name: str, config: KitConfig) -> int:
    """About how many examples check ``name`` runs when nothing fails (for progress)."""
    examples = config.max_examples
    return {
        "zarr-array": config.roundtrip_examples,
        "point-cloud": config.roundtrip_examples,
        "key-contract": 2 + max(4, examples // 2),
        "invalid-keys": 2 * examples,
        "torn-writes": max(4, examples // 4),
        "conditional-writes": max(4, examples // 4),
        "edge-cases": 8,
        "large-batches": 2,
        "write-fences": 6,
        "two-instances": 3,
        "two-processes": 1,
    }.get(name, examples)


def run_check(
    name: str,
    target: KitTarget,
    config: KitConfig,
    *,
    reporter: KitReporter | None = None,
    replay: Callable[[str, int | None], str] | None = None,
) -> CheckResult:
    """Run one check and return its result (exceptions are captured, not raised).

    Without a seed in ``config`` (and not derandomized) a new one is drawn and
    kept in the result. ``replay(name, seed)`` makes the command shown to rerun it.

    With :attr:`KitConfig.isolate` the check runs in a child process (see
    :mod:`~.isolation`). A failure is then found without shrinking first; the
    search for its minimal example runs again in a child that is stopped after
    :attr:`KitConfig.shrink_seconds`, and if it is stopped the failure is reported
    as found. A failure of the time limit, or of a check without a search
    (:data:`~.checks.FIXED`), is reported as found: running it again would only
    repeat the wait, or the same script.
    """
    if name in config.skip:
        result = CheckResult(name, "skipped", "skipped by configuration")
        if reporter is not None:
            reporter.finished(result)
        return result
    if config.seed is None and not config.derandomize:
        config = config.with_changes(seed=new_seed())
    target.configure(config.call_timeout)
    count = 0

    def progress() -> None:
        nonlocal count
        count += 1
        if reporter is not None:
            reporter.example(name, count)

    if reporter is not None:
        reporter.started(name, _planned(name, config))
    started = time.monotonic()
    attempt, note = _attempt(name, target, config, progress)
    if attempt.status == "failed":
        result = _failure(name, target, config, attempt, replay)
        if note:
            result.message += f" ({note})"
    else:
        result = CheckResult(name, attempt.status, attempt.message, seed=config.seed)
    result.seconds = time.monotonic() - started
    result.examples = count
    if reporter is not None:
        reporter.finished(result)
    return result


def _attempt(
    name: str, target: KitTarget, config: KitConfig, progress: Callable[[], None]
) -> tuple[Attempt, str]:
    """Run the check (isolated and with bounded shrinking where possible); the outcome
    and a note for the report."""
    if not (config.isolate and can_isolate()):
        return run_here(name, target, config, progress), ""
    found = run_in_child(name, target, config.with_changes(shrink=False), progress)
    if (
        found.status != "failed"
        or not config.shrink
        or name in FIXED  # no search: nothing smaller to find
        or _timed_out(found.error)  # the same wait again, for the same call
    ):
        return found, ""
    took = time.monotonic()
    shrunk = run_in_child(name, target, config, progress, deadline=config.shrink_seconds)
    if shrunk.status == "failed":
        return shrunk, ""
    if shrunk.status == "deadline":
        seconds = time.monotonic() - took
        return found, (
            f"the search for a smaller example was stopped after {seconds:.0f} s "
            f"(KitConfig.shrink_seconds); the example is shown as found"
        )
    return found, "the same seed did not fail a second time: the fault comes and goes"


def _failure(
    name: str,
    target: KitTarget,
    config: KitConfig,
    attempt: Attempt,
    replay: Callable[[str, int | None], str] | None,
) -> CheckResult:
    from zarr_vectors.storage.secrets import redact_text, secret_values

    exc = attempt.error or ConformanceError(attempt.message or "the check failed")
    secrets = [str(v) for v in secret_values(target.options) if v]
    printed = attempt.printed
    lines = [*printed, *(n for n in _notes(exc) if n not in printed)]
    example = "\n".join(line for line in lines if line.strip())
    message = f"{type(exc).__name__}: {exc}"
    calls = attempt.calls
    inner = _kit_failure(exc)
    if inner is not None and inner is not exc:
        # hypothesis wraps a failure it could not repeat (FlakyFailure): show the kit's own
        message = (
            f"{type(inner).__name__}: {inner} (it did not happen again when hypothesis "
            "replayed the example: the fault comes and goes, e.g. a race)"
        )
        calls = list(getattr(inner, "kit_calls", None) or calls)
    command = (
        replay(name, config.seed)
        if replay is not None
        else f"run_check({name!r}, target, config.with_changes(seed={config.seed}))"
    )
    return CheckResult(
        name,
        "failed",
        redact_text(message, secrets),
        redact_text(example, secrets),
        exc,
        seed=config.seed,
        calls=[redact_text(c, secrets) for c in calls],
        replay=redact_text(command, secrets),
    )


def _timed_out(exc: BaseException | None) -> bool:
    """Whether ``exc`` is (or groups) the kit's time limit failing a call."""
    if isinstance(exc, KitTimeoutError):
        return True
    return any(_timed_out(sub) for sub in getattr(exc, "exceptions", ()))


def _kit_failure(exc: BaseException) -> BaseException | None:
    """The kit's own failure in ``exc`` or in the exceptions it groups (hypothesis's
    FlakyFailure is an exception group), or ``None``."""
    if isinstance(exc, ConformanceError):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = _kit_failure(sub)
        if found is not None:
            return found
    return None


def run_kit(
    target: KitTarget,
    config: KitConfig | None = None,
    checks: Iterable[str] | None = None,
    *,
    require_empty: bool = True,
    reporter: KitReporter | None = None,
    replay: Callable[[str, int | None], str] | None = None,
) -> list[CheckResult]:
    """Run the checks (all by default) against ``target``; the scratch location is emptied after.

    With ``require_empty`` the run refuses a location that already holds objects,
    since the kit deletes everything there. One seed serves the whole run (drawn
    here when ``config`` has none), so one number replays any of its failures.
    """
    config = config or KitConfig()
    names = list(checks) if checks is not None else list(CHECK_NAMES)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        from zarr_vectors.exceptions import ValidationError

        raise ValidationError(
            f"Unknown kit check(s): {', '.join(unknown)}. The checks are: {', '.join(CHECKS)}."
        )
    if config.seed is None and not config.derandomize:
        config = config.with_changes(seed=new_seed())
    target.configure(config.call_timeout)
    if require_empty:
        target.ensure_scratch()
    try:
        return [run_check(name, target, config, reporter=reporter, replay=replay) for name in names]
    finally:
        target.cleanup()

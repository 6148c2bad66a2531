"""The kit's progress tick: checks call :func:`tick` as each example starts.

Its own module so the checks (properties, stateful, roundtrip) and the runner that
counts their examples do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["counting_examples", "tick"]

_progress: Callable[[], None] | None = None


def tick() -> None:
    """Called by a check as each example starts, for the reporter's progress display."""
    if _progress is not None:
        _progress()


@contextmanager
def counting_examples(progress: Callable[[], None]) -> Iterator[None]:
    """Send every :func:`tick` inside the block to ``progress`` (nesting restores the outer one)."""
    global _progress
    previous, _progress = _progress, progress
    try:
        yield
    finally:
        _progress = previous

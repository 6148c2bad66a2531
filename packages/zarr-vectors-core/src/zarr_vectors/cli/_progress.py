"""Progress of the commands: labelled phases on a terminal, nothing in a log.

The bars are :class:`zarr_vectors.progress.PhaseBars` (tqdm), drawn on standard
error while it is an interactive terminal: reading the input (points read,
against the count in the file's header when it has one), then the phases of
the write or read itself (see :mod:`zarr_vectors.progress`). Off a terminal (a
pipe, a log file, CI) nothing is drawn, so logs stay clean and scripts that
parse standard output are not disturbed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from zarr_vectors.progress import PhaseBars

__all__ = ["is_terminal", "phase_bars"]


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (standard error by default) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def phase_bars(*, enabled: bool | None = None) -> Iterator[PhaseBars | None]:
    """Bars on standard error for the ``with`` block, or ``None`` off a terminal."""
    if enabled is None:
        enabled = is_terminal()
    if not enabled:
        yield None
        return
    with PhaseBars(file=sys.stderr, notebook=False) as bars:
        yield bars

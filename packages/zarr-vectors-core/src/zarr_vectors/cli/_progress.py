"""Progress bars that appear only on a terminal.

Writes call ``progress(done, total)`` as chunk objects go out, reads as cells
arrive (see :func:`zarr_vectors.types.points.write_points` and ``read_points``).
When standard output is not a terminal (a pipe, a log file, CI) nothing is
drawn, so logs stay clean and scripts that parse the output are not disturbed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["is_terminal", "write_progress"]

Progress = Callable[[int, int], None]


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (standard output by default) is an interactive terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def write_progress(description: str, *, enabled: bool | None = None) -> Iterator[Progress | None]:
    """A ``progress(done, total)`` callback drawing a rich bar, or ``None`` off a terminal."""
    if enabled is None:
        enabled = is_terminal()
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update

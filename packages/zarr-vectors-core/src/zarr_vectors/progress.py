"""Progress of a write or a read: bars for people, ``(done, total)`` for programs.

``write_points`` and ``read_points`` take ``progress=``:

* ``None`` or ``False``: nothing is reported (and nothing is batched for it);
* ``True``: bars drawn by tqdm (``tqdm.auto``: a text bar in a terminal, a
  widget in a notebook), one per phase, each labelled, with its count, rate
  and time left;
* a callable: ``progress(done, total)`` is called as points are written (a
  write: the points whose cells have gone out) or cells arrive (a read).

The phases are told apart from the callback's own rhythm, so the storage code
reports one thing (counts) and this module says what they mean. A write first
groups and encodes the points (before the first call), then writes cells
(``done`` from 0 to ``total`` points), then commits (after ``done == total``);
a read opens the store's metadata, fetches cells, then decodes them.
The count a bar shows is the one the callback receives, which is the one the
summary of a write quotes: points written; for a read, cells.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from zarr_vectors.exceptions import ValidationError

__all__ = [
    "READ_PHASES",
    "WRITE_PHASES",
    "PhaseBars",
    "PhasedProgress",
    "Phases",
    "Progress",
    "progress_callback",
]

#: ``progress(done, total)``.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Phases:
    """What a callback's silence, counting and completion mean for one kind of operation."""

    before: str
    during: str
    unit: str
    after: str


WRITE_PHASES = Phases("grouping points into cells", "writing cells", "points", "committing")
READ_PHASES = Phases("opening the store", "reading cells", "cells", "decoding")

_COUNTED = (
    "{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
)
_OPEN_ENDED = "{desc}: {n:,}{unit} [{elapsed}, {rate_fmt}]"
_WAITING = "{desc} ..."
_DONE = "{desc}: done in {elapsed}"


class PhaseBars:
    """One tqdm bar per phase; a finished phase stays as a line saying how long it took.

    ``file`` defaults to standard error (tqdm's choice), which keeps standard
    output for results. ``notebook`` picks ``tqdm.auto`` (a widget under Jupyter)
    instead of the terminal bar.
    """

    def __init__(self, *, file: IO[str] | None = None, notebook: bool = True) -> None:
        import tqdm
        import tqdm.auto

        self._tqdm: type[tqdm.tqdm[Any]] = tqdm.auto.tqdm if notebook else tqdm.tqdm
        self._file = file
        self._bar: Any = None
        self._counted = False

    def start(self, label: str, total: int | None = None, unit: str = "") -> None:
        """Close the phase in progress and start ``label`` (counted when ``unit`` is given)."""
        self.finish()
        self._counted = bool(unit)
        if not unit:
            fmt = _WAITING
        elif total is None:
            fmt = _OPEN_ENDED
        else:
            fmt = _COUNTED
        ncols = nrows = None
        if self._tqdm.__module__ == "tqdm.std":
            # tqdm asks the terminal itself, and a terminal that never set its size
            # (a fresh pseudo-terminal) answers 0 columns and rows: no bar at all. shutil
            # reads COLUMNS and LINES first and falls back to 100x20.
            size = shutil.get_terminal_size((100, 20))
            ncols, nrows = size.columns or 100, size.lines or 20
        self._bar = self._tqdm(
            total=total,
            desc=label,
            unit=f" {unit}" if unit else "it",
            unit_scale=True,
            bar_format=fmt,
            file=self._file,
            leave=True,
            ncols=ncols,
            nrows=nrows,
        )
        self._bar.refresh()

    def set(self, done: int, total: int | None = None) -> None:
        """Set the count of the phase in progress to ``done`` (of ``total``)."""
        bar = self._bar
        if bar is None:
            return
        if total is not None and total != bar.total:
            bar.total = total
        bar.update(done - bar.n)

    def advance(self, n: int) -> None:
        """Add ``n`` to the count of the phase in progress."""
        if self._bar is not None:
            self._bar.update(n)

    def finish(self) -> None:
        """Close the phase in progress, leaving its line."""
        bar, self._bar = self._bar, None
        if bar is None:
            return
        if not self._counted:
            bar.bar_format = _DONE
        bar.close()

    close = finish

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


class PhasedProgress:
    """A ``progress(done, total)`` callback that moves ``bars`` through ``phases``.

    Before the first call the ``before`` phase runs; the first call starts the
    counted ``during`` phase; the call with ``done == total`` starts ``after``.
    ``total`` is the last total seen (the count a summary should quote); with
    ``bars=None`` that count is all it keeps.
    """

    def __init__(self, bars: PhaseBars | None, phases: Phases) -> None:
        self._bars = bars
        self._phases = phases
        self._state = "before"
        self.total: int | None = None
        if bars is not None:
            bars.start(phases.before)

    def __call__(self, done: int, total: int) -> None:
        self.total = total
        bars = self._bars
        if bars is None:  # counting only (a summary quotes the total)
            return
        phases = self._phases
        if self._state == "before":
            bars.start(phases.during, total, phases.unit)
            self._state = "during"
        bars.set(done, total)
        if self._state == "during" and done >= total:
            bars.start(phases.after)
            self._state = "after"


@contextmanager
def progress_callback(progress: Any, phases: Phases) -> Iterator[Progress | None]:
    """``progress=`` of the public functions as a callback for the storage code.

    ``True`` draws bars for the duration of the ``with`` block; a callable is
    passed through unchanged; ``None``/``False`` give ``None``.
    """
    if progress is None or progress is False:
        yield None
    elif progress is True:
        with PhaseBars() as bars:
            yield PhasedProgress(bars, phases)
    elif callable(progress):
        yield progress
    else:
        raise ValidationError(
            f"progress must be True (draw bars), a callable progress(done, total), or None; "
            f"got {type(progress).__name__} {progress!r}"
        )

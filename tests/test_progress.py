"""Progress (zarr_vectors.progress): `progress=` as a callback, bars moved through phases.

The bars are drawn into a StringIO (``notebook=False``: the terminal bar), so what
a user sees is read back as text; a real write's progress is in the write tests.
"""

from __future__ import annotations

import io

import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.progress import (
    READ_PHASES,
    WRITE_PHASES,
    PhaseBars,
    PhasedProgress,
    progress_callback,
)


def test_progress_argument_becomes_a_callback_or_none() -> None:
    def mine(done: int, total: int) -> None:
        del done, total

    for off in (None, False):
        with progress_callback(off, WRITE_PHASES) as callback:
            assert callback is None
    with progress_callback(mine, WRITE_PHASES) as callback:
        assert callback is mine
    with progress_callback(True, READ_PHASES) as callback:
        assert isinstance(callback, PhasedProgress)
    with (
        pytest.raises(ValidationError, match=r"progress must be True.*got str 'yes'"),
        progress_callback("yes", WRITE_PHASES),
    ):
        pass


def test_the_phases_follow_the_callbacks_rhythm() -> None:
    out = io.StringIO()
    with PhaseBars(file=out, notebook=False) as bars:
        progress = PhasedProgress(bars, WRITE_PHASES)
        assert "grouping points into cells ..." in out.getvalue()  # before the first call
        progress(0, 1_000)
        progress(400, 1_000)
        assert "writing cells:" in out.getvalue() and "committing" not in out.getvalue()
        progress(1_000, 1_000)
        assert "committing" in out.getvalue()
    text = out.getvalue()
    assert "grouping points into cells: done in" in text  # a finished phase stays, timed
    assert "1,000/1,000 points" in text
    assert "committing: done in" in text
    assert progress.total == 1_000


def test_without_bars_only_the_total_is_kept() -> None:
    progress = PhasedProgress(None, READ_PHASES)
    assert progress.total is None
    progress(3, 7)
    progress(7, 9)
    assert progress.total == 9

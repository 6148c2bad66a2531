"""Progress bars of the commands: on standard error while it is a terminal, nothing otherwise."""

from __future__ import annotations

import io
import sys

import pytest

from zarr_vectors.cli._progress import is_terminal, phase_bars


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_a_terminal_is_what_says_it_is_one() -> None:
    assert is_terminal(_Tty())
    assert not is_terminal(io.StringIO())
    assert not is_terminal(_Closed())  # a closed stream is no terminal
    assert not is_terminal(object())  # type: ignore[arg-type]  # no isatty at all


def test_standard_error_is_asked_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert is_terminal()
    with phase_bars() as bars:
        assert bars is not None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with phase_bars() as bars:
        assert bars is None


def test_phase_bars_are_none_off_a_terminal_and_draw_labelled_phases_on_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from zarr_vectors.progress import WRITE_PHASES, PhasedProgress

    with phase_bars(enabled=False) as bars:
        assert bars is None
    with phase_bars(enabled=True) as bars:
        assert bars is not None
        progress = PhasedProgress(bars, WRITE_PHASES)
        progress(0, 10)
        progress(10, 10)
    err = capsys.readouterr().err
    assert "grouping points into cells: done in" in err
    assert "writing cells: 100%" in err and "10/10 points" in err
    assert "committing: done in" in err

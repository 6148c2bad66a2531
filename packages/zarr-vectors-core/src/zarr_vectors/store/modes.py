"""The access modes every public function takes, in one place.

``"r"`` reads; ``"r+"`` reads and changes an existing store; ``"a"`` appends
(creating the store if missing); ``"w"`` replaces whatever is there; ``"w-"``
creates and fails if something is there. Each public function accepts the
subset that makes sense for it and says so through :func:`check_mode`.
"""

from __future__ import annotations

from collections.abc import Sequence

from zarr_vectors.exceptions import ValidationError

__all__ = ["MODES", "MODE_MEANINGS", "WRITE_MODES", "check_mode"]

#: Every mode, with what it means (used in messages).
MODE_MEANINGS = {
    "r": "read",
    "r+": "read and change an existing store",
    "a": "append (create if missing)",
    "w": "replace",
    "w-": "create, failing if something is there",
}
MODES = tuple(MODE_MEANINGS)
#: The modes that may change the store.
WRITE_MODES = ("r+", "a", "w", "w-")


def check_mode(mode: object, allowed: Sequence[str] = MODES, what: str = "mode") -> str:
    """``mode`` if it is one of ``allowed``; otherwise a ValidationError listing them."""
    if not isinstance(mode, str) or mode not in allowed:
        choices = ", ".join(f"{m!r} ({MODE_MEANINGS[m]})" for m in allowed)
        raise ValidationError(f"{what} must be one of {choices}; got {mode!r}")
    return mode

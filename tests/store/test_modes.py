"""The access modes (zarr_vectors.store.modes): one check, one message listing what is allowed."""

from __future__ import annotations

import pytest

from zarr_vectors.exceptions import ValidationError
from zarr_vectors.store.modes import MODE_MEANINGS, MODES, WRITE_MODES, check_mode


def test_an_allowed_mode_is_returned() -> None:
    for mode in MODES:
        assert check_mode(mode) == mode
    assert check_mode("a", ("w-", "w", "a")) == "a"


def test_a_refused_mode_names_what_is_allowed_and_what_each_means() -> None:
    with pytest.raises(ValidationError) as raised:
        check_mode("r", ("w-", "w"), "create_store mode")
    assert str(raised.value) == (
        "create_store mode must be one of 'w-' (create, failing if something is there), "
        "'w' (replace); got 'r'"
    )
    for wrong in ("rw", "W", None, 1, b"r"):
        with pytest.raises(ValidationError, match=f"got {wrong!r}"):
            check_mode(wrong)


def test_every_mode_has_a_meaning_and_only_r_cannot_change_the_store() -> None:
    assert set(MODES) == set(MODE_MEANINGS) == {"r", "r+", "a", "w", "w-"}
    assert set(MODES) - set(WRITE_MODES) == {"r"}

"""WriteOptions: the options a type's write_* passes on, gathered in one place."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from zarr_vectors.types._objects import write_store, write_stream
from zarr_vectors.types._write_options import WriteOptions


def _options() -> WriteOptions:
    return WriteOptions("a", ("x", "y"), False, 5.0, {"anon": True}, "local", {"k": 1})


def test_keywords_carry_the_options_and_the_types_own() -> None:
    got = _options().keywords(print, "line", "implicit_sequential", {"trk": {}})
    assert got == {
        "mode": "a",
        "axes": ("x", "y"),
        "consolidate": False,
        "lock_timeout": 5.0,
        "storage_options": {"anon": True},
        "backend": "local",
        "backend_kwargs": {"k": 1},
        "caller": print,
        "geometry_type": "line",
        "links_convention": "implicit_sequential",
        "metadata": {"trk": {}},
    }


@pytest.mark.parametrize("writer", [write_store, write_stream])
def test_every_keyword_is_taken_by_the_writers(writer: Callable[..., Any]) -> None:
    params = inspect.signature(writer).parameters
    assert set(_options().keywords(print, "line", "explicit")) <= set(params)

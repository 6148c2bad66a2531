"""How the kit prints keys, values and calls (show.py): hidden differences show, long keys fit."""

from __future__ import annotations

from hypothesis.vendor.pretty import pretty

from zarr_vectors.testing.show import LONG_LIST, Key, show, show_call, show_key, show_keys
from zarr_vectors.testing.strategies import NFC, NFD, long_keys

LONG_KEYS = long_keys()


def test_invisible_differences_are_shown() -> None:
    assert show_key(NFC) == "'caf\\xe9'" and show_key(NFD) == "'cafe\\u0301'"
    long = show_key(LONG_KEYS[0])
    assert long.startswith("'long/kkk") and long.endswith("(1024 bytes)") and len(long) < 80
    assert show(b"x" * 100).startswith("<100 bytes starting")
    assert show_call("put_bytes", "a b", b"xyz") == "put_bytes('a b', <3 bytes>)"
    assert pretty([NFD]) == "['cafe\\u0301']"  # minimal examples print keys escaped too


def test_long_lists_and_dicts_are_cut() -> None:
    keys = [f"k{i}" for i in range(LONG_LIST + 3)]
    assert show_keys(keys).endswith(", ... 3 more]") and "'k11'" in show_keys(keys)
    assert show(keys) == show_keys(keys)
    shown = show({k: b"v" for k in keys})
    assert shown.startswith("{'k0': b'v'") and shown.endswith(", ... 3 more}")
    assert show([1, 2]) == "[1, 2]" and show((b"a", 2)) == "(b'a', 2)"


def test_exceptions_show_their_type_and_a_shortened_message() -> None:
    assert show(KeyError("a")) == "KeyError: 'a'"
    text = show(ValueError("x" * 500))
    assert text.startswith("ValueError: xxx") and text.endswith("(500 characters)")
    assert len(text) < 260


def test_calls_show_values_by_size_and_pairs_by_key() -> None:
    pairs = [(f"k{i}", b"12") for i in range(8)]
    shown = show_call("put_many", pairs)
    assert shown.startswith("put_many([('k0', <2 bytes>), ") and shown.endswith("... 2 more])")
    assert show_call("put_if", "k", b"", expect=None) == "put_if('k', <0 bytes>, expect=None)"
    assert show_key(7) == "7" and isinstance(Key("a"), str)

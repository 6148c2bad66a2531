"""Hypothesis strategies for keys and values that hit the hard cases of a key/value store.

Keys are built from a small pool of segments so that they collide often: the
same key is written twice (an overwrite), ``a`` and ``ab`` are siblings sharing
a prefix, ``a`` and ``a/b`` are an object and a key under it. Unicode and long
segments come up often enough to find an encoding bug. Values are described by
a length and a seed and made with :func:`random.Random.randbytes`, so a
several-MiB value costs hypothesis a few bytes of choices and shrinks to a
short one.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "INVALID_KEYS",
    "INVALID_PREFIXES",
    "KEYS",
    "PREFIXES",
    "SEGMENTS",
    "invalid_keys",
    "keys",
    "prefixes_of",
    "value_of",
    "values",
]

#: Segments most keys are made of: siblings sharing a prefix, unicode, dots, dashes.
SEGMENTS: tuple[str, ...] = ("a", "ab", "b", "é", "日本")

_ALPHABET = st.sampled_from("abcxyz019-_.éßü日本語Ωж")
_LONG = st.integers(60, 180).map(lambda n: ("long" * 60)[:n])


def _free_segment() -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=1, max_size=12).filter(
        lambda s: s not in (".", "..") and not s.startswith(".zv-")
    )


def prefixes_of(key: str) -> list[str]:
    """Every directory prefix of ``key``, with and without the trailing '/'."""
    parts = key.split("/")
    out: list[str] = []
    for i in range(1, len(parts)):
        base = "/".join(parts[:i])
        out.extend([base, base + "/"])
    return out


_LONG_KEY = "long/" + "k" * 120 + "/" + "日本語" * 20


def _universe() -> tuple[str, ...]:
    return ("a", "ab", "b", "é", "a/b", "a/ab", "ab/a", "a/b/c", "a/日本", "日本/é", _LONG_KEY)


#: The small key universe most operations draw from, so that keys collide: the same
#: key twice (an overwrite), siblings sharing a prefix (``a``, ``ab``), an object and
#: a key under it (``a``, ``a/b``), unicode and a long key.
KEYS: tuple[str, ...] = _universe()

#: Directory prefixes of :data:`KEYS`, with and without the trailing '/', and the root.
PREFIXES: tuple[str, ...] = (
    "",
    *sorted({p for k in KEYS for p in prefixes_of(k)}),
    *SEGMENTS,
)

_FREE = st.lists(st.one_of(_free_segment(), _LONG), min_size=1, max_size=3).map("/".join)

#: Valid keys: mostly from :data:`KEYS`, sometimes anything valid.
keys: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(KEYS), st.sampled_from(KEYS), st.sampled_from(KEYS), _FREE
)


def values(max_size: int) -> st.SearchStrategy[bytes]:
    """Values of 0 bytes up to ``max_size``, mostly small, sometimes MiB-sized."""
    small = st.integers(0, min(64, max_size))
    medium = st.integers(0, min(64 * 1024, max_size))
    large = st.integers(0, max_size)
    sizes = st.one_of(small, small, medium, large)
    return st.builds(value_of, sizes, st.integers(0, 2**32 - 1))


def value_of(size: int, seed: int) -> bytes:
    """``size`` pseudo-random bytes from ``seed`` (the same every time)."""
    return random.Random(seed).randbytes(size)


#: Keys every backend must refuse with InvalidKeyError before touching storage.
INVALID_KEYS: tuple[Any, ...] = (
    "",
    "/a",
    "a/",
    "a//b",
    ".",
    "..",
    "../a",
    "a/../b",
    "a/./b",
    "a\\b",
    "a\x00b",
    b"a",
    None,
    7,
)

#: Prefixes every backend must refuse (the empty prefix and ``"a/"`` are valid).
INVALID_PREFIXES: tuple[Any, ...] = ("/a", "a//", "a//b", "..", "a/../b", "a\\b", "a\x00", None)


def invalid_keys() -> st.SearchStrategy[Any]:
    """The fixed bad keys plus generated ones: a valid key broken by one rule."""
    broken = st.tuples(
        keys, st.sampled_from(["/{}", "{}/", "{}//x", "../{}", "{}/..", "{}\\x", "{}\x00"])
    )
    return st.one_of(st.sampled_from(INVALID_KEYS), broken.map(lambda kt: kt[1].format(kt[0])))

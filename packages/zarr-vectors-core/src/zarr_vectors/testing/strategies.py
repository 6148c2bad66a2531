"""Hypothesis strategies for keys and values that hit the hard cases of a key/value store.

Keys come from three pools and a generator, gathered in a :class:`KeySpace`.
:data:`CORE_KEYS` collide on purpose: the same key twice (an overwrite), ``a``
and ``ab`` siblings sharing a prefix, ``a`` and ``a/b`` an object and a key
under it, deep keys for deep deletes. The contract keys sit at the edges of
the key contract (``docs/storage.md``, :func:`~.model.contract_problem`): the
same word composed (NFC) and decomposed (NFD), spaces, ``%``, ``+``, ``~``,
characters outside the Basic Multilingual Plane, and the longest keys the
store must take, in 255-byte segments. Generated keys mix all of those
characters. The longest key depends on the store: S3, GCS and Azure count the
store's own prefix in their 1,024 bytes, so :func:`key_space` is asked for the
byte budget of the target (:attr:`~.target.KitTarget.max_key_bytes`).

Keys are :class:`~.show.Key` strings, which hypothesis prints with escapes and
long ones shortened. Values are described by a length and a seed and made by
:func:`value_of`, so a several-MiB value costs hypothesis a few bytes of
choices and shrinks to a short one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from zarr_vectors.testing.model import (
    CORE_PRIVATE_KEYS,
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    PRIVATE_SEGMENT_PREFIX,
    contract_problem,
)
from zarr_vectors.testing.show import Key

__all__ = [
    "CORE_KEYS",
    "INVALID_KEYS",
    "INVALID_PREFIXES",
    "NFC",
    "NFD",
    "KeySpace",
    "contract_sample",
    "invalid_keys",
    "key_space",
    "long_keys",
    "prefixes_of",
    "sizes",
    "value_of",
    "values",
]

#: The same word composed (one code point per letter) and decomposed (letter + accent).
NFC = Key("caf\u00e9")
NFD = Key("cafe\u0301")


def _exact_key(first: str, fill: str, total: int, last: str = "k") -> Key:
    """A key of exactly ``total`` bytes of UTF-8: ``first``, then segments as long as allowed."""
    parts = [first]
    size = len(first.encode())
    while size < total:
        room = min(MAX_SEGMENT_BYTES, total - size - 1)
        unit = len(fill.encode())
        count = max(0, (room - 1) // unit)
        segment = fill * count
        segment += "k" * (room - 1 - len(segment.encode())) + last
        parts.append(segment)
        size += 1 + len(segment.encode())
    key = "/".join(parts)
    assert len(key.encode()) == total, (len(key.encode()), total)
    return Key(key)


def long_keys(total: int = MAX_KEY_BYTES) -> tuple[Key, ...]:
    """Keys of exactly ``total`` bytes of UTF-8 with segments of up to 255 bytes: two ASCII
    siblings sharing every directory, and one of three-byte characters."""
    return (
        _exact_key("long", "k", total, last="a"),
        _exact_key("long", "k", total, last="b"),
        _exact_key("\u9577", "\u65e5", total),
    )


#: Keys at the edges of the key contract (the long ones are added per budget); no key
#: is the parent of another, so a file system can hold all of them at once.
_EDGE_KEYS: tuple[Key, ...] = tuple(
    Key(k)
    for k in (
        NFC,
        NFD,
        f"{NFC}-dir/x",
        f"{NFD}-dir/x",
        "a b",
        "a%20b",
        "a+b",
        "a~b",
        "100%",
        "%41",
        "space in/side too",
        "~home/x",
        "\u65e5\u672c/\u00e9",
        "\u03a9/\u0436/\u00df",
        "\U0001d11e",
        "\uff71",
        "punct/!$&'(),;=@[]^_`{}",
        "Case/X",
        "case/x",
        "order-1",
        "order.1",
        "order/1",
        "order0",
        *CORE_PRIVATE_KEYS,
    )
)


def contract_sample(total: int = MAX_KEY_BYTES) -> tuple[Key, ...]:
    """The contract's edge keys, with the longest ones ``total`` bytes long."""
    return (*_EDGE_KEYS, *long_keys(total))


#: Segments most generated keys are made of: siblings sharing a prefix, unicode.
SEGMENTS: tuple[str, ...] = ("a", "ab", "b", "\u00e9", "\u65e5\u672c")

#: Keys that collide often: overwrites, siblings sharing a prefix, objects and keys
#: below them, deep keys for deep deletes.
CORE_KEYS: tuple[Key, ...] = tuple(
    Key(k)
    for k in (
        "a",
        "ab",
        "b",
        "a/b",
        "a/ab",
        "ab/a",
        "a/b/c",
        "a/b/c/d",
        "a/\u65e5\u672c",
        "\u65e5\u672c/\u00e9",
    )
)


def prefixes_of(key: str) -> list[str]:
    """Every directory prefix of ``key``, with and without the trailing '/'."""
    parts = key.split("/")
    out: list[str] = []
    for i in range(1, len(parts)):
        base = "/".join(parts[:i])
        out.extend([base, base + "/"])
    return out


# Characters of generated segments: letters of several scripts, the decomposed accent,
# space, '%', '+', '~' and the rest of the printable punctuation the contract allows.
_LETTERS: tuple[str, ...] = (
    *"abcxyz019-_.~%+ ",
    *("\u00e9", "e\u0301", "\u00df", "\u65e5", "\u03a9", "\u0436"),
    *"!$&'(),;=@[]^`{}",
    "\U0001d11e",
)


def _tidy(segment: str) -> str:
    """A segment the contract allows: no space at either end, no '.' at the end, not reserved."""
    segment = segment.strip(" ").rstrip(".").strip(" ")
    if not segment or segment.startswith(PRIVATE_SEGMENT_PREFIX):
        return "x" + segment
    return segment


def _join(segments: list[str], total: int) -> Key:
    """Segments joined with '/', dropping the last ones while the key is over ``total`` bytes."""
    while len(segments) > 1 and len("/".join(segments).encode()) > total:
        segments = segments[:-1]
    return Key("/".join(segments))


def _long_segment() -> st.SearchStrategy[str]:
    """Segments of 100 to 255 bytes, ASCII or three-byte characters."""
    ascii_segment = st.integers(100, MAX_SEGMENT_BYTES).map(lambda n: "s" * n)
    wide = st.integers(34, MAX_SEGMENT_BYTES // 3).map(lambda n: "\u8a9e" * n)
    return st.one_of(ascii_segment, wide)


def _segment() -> st.SearchStrategy[str]:
    short = st.lists(st.sampled_from(_LETTERS), min_size=1, max_size=10).map("".join)
    return st.one_of(short, short, short, _long_segment()).map(_tidy)


def _pool(rng: random.Random, count: int) -> tuple[Key, ...]:
    """``count`` keys made as :attr:`KeySpace.generated` makes them, from a fixed generator."""
    out: list[Key] = []
    while len(out) < count:
        segments = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.15:
                segments.append(rng.choice("s\u8a9e") * rng.randint(34, 85))
            else:
                segments.append(_tidy("".join(rng.choices(_LETTERS, k=rng.randint(1, 10)))))
        key = _join(segments, MAX_KEY_BYTES)
        if contract_problem(key) is None and key not in out:
            out.append(key)
    return tuple(out)


#: Keys of the contract drawn once from a fixed generator: the state machines sample
#: them (cheap to draw and to shrink); :attr:`KeySpace.generated` makes new ones.
_POOL: tuple[Key, ...] = _pool(random.Random(20240610), 64)


@dataclass(frozen=True)
class KeySpace:
    """The keys and prefixes the kit draws for a store taking keys of ``budget`` bytes."""

    budget: int
    contract: tuple[Key, ...]
    pool: tuple[Key, ...]
    #: Every fixed key: :data:`CORE_KEYS`, then the contract's.
    fixed: tuple[Key, ...]
    #: Directory prefixes of the fixed keys, with and without the trailing '/', and ''.
    prefixes: tuple[str, ...]
    #: Prefixes at least two directories deep (for deep deletes and listings).
    deep: tuple[str, ...]
    #: Valid keys as the state machines draw them: mostly colliding ones, often edges.
    keys: st.SearchStrategy[Key]
    #: Any key of the contract: 1 to 5 segments of contract characters, long ones too.
    generated: st.SearchStrategy[Key]
    #: Prefixes for listings and deletes: directories of the fixed keys, and keys.
    list_prefixes: st.SearchStrategy[str]


@lru_cache(maxsize=8)
def key_space(budget: int = MAX_KEY_BYTES) -> KeySpace:
    """The :class:`KeySpace` of a store whose keys may be ``budget`` bytes long."""
    contract = contract_sample(budget)
    pool = tuple(k for k in _POOL if len(k.encode()) <= budget)
    fixed = CORE_KEYS + tuple(k for k in contract if k not in CORE_KEYS)
    prefixes = ("", *sorted({p for k in fixed for p in prefixes_of(k)}), *SEGMENTS)
    deep = tuple(p for p in prefixes if "/" in p.rstrip("/") and len(p) < 64)
    keys = st.one_of(
        st.sampled_from(CORE_KEYS),
        st.sampled_from(CORE_KEYS),
        st.sampled_from(CORE_KEYS),
        st.sampled_from(contract),
        st.sampled_from(pool),
    )
    generated = (
        st.lists(_segment(), min_size=1, max_size=5)
        .map(lambda segments: _join(segments, budget))
        .filter(lambda k: contract_problem(k) is None and len(k.encode()) <= budget)
    )
    list_prefixes = st.one_of(st.sampled_from(prefixes), keys, keys.map(lambda k: k + "/"))
    return KeySpace(budget, contract, pool, fixed, prefixes, deep, keys, generated, list_prefixes)


def sizes(max_size: int) -> st.SearchStrategy[int]:
    """Value lengths: often empty or small, sometimes up to 64 KiB, now and then MiB-sized."""
    return st.one_of(
        st.just(0),
        st.integers(0, min(300, max_size)),
        st.integers(0, min(300, max_size)),
        st.integers(0, min(64 * 1024, max_size)),
        st.integers(min(1024 * 1024, max_size), max_size),
    )


def values(max_size: int) -> st.SearchStrategy[bytes]:
    """Values of 0 bytes up to ``max_size`` (see :func:`sizes`)."""
    return st.builds(value_of, sizes(max_size), st.integers(0, 2**32 - 1))


#: Values repeat a random block of this size: different seeds give different bytes
#: everywhere, and a 4 MiB value costs a copy, not 4 MiB of random numbers.
_BLOCK = 64 * 1024


def value_of(size: int, seed: int) -> bytes:
    """``size`` pseudo-random bytes from ``seed`` (the same every time)."""
    block = random.Random(seed).randbytes(min(size, _BLOCK))
    if size <= _BLOCK:
        return block
    return (block * (size // _BLOCK + 1))[:size]


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
        st.sampled_from(CORE_KEYS),
        st.sampled_from(["/{}", "{}/", "{}//x", "../{}", "{}/..", "{}\\x", "{}\x00"]),
    )
    return st.one_of(st.sampled_from(INVALID_KEYS), broken.map(lambda kt: kt[1].format(kt[0])))


def _check_pools() -> None:
    """The fixed keys are all inside the contract (a wrong pool would blame a good backend)."""
    for key in (*CORE_KEYS, *contract_sample(), *_POOL):
        problem = contract_problem(key)
        assert problem is None, (key, problem)


_check_pools()

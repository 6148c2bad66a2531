"""The keys and values the kit draws (strategies.py): at the contract's edges, inside it.

A key outside the contract would make the kit blame a good backend, so every fixed
and generated key is checked against :func:`~zarr_vectors.testing.model.contract_problem`;
the longest keys follow the store's byte budget; values are the same for the same seed.
"""

from __future__ import annotations

from hypothesis import given, settings

from zarr_vectors.testing.model import MAX_KEY_BYTES, contract_problem
from zarr_vectors.testing.strategies import (
    INVALID_KEYS,
    NFC,
    NFD,
    key_space,
    long_keys,
    prefixes_of,
    value_of,
)

SPACE = key_space()
CONTRACT_KEYS, LONG_KEYS = SPACE.contract, long_keys()


def test_the_contract_keys_are_at_its_edges() -> None:
    assert NFC != NFD and len({NFC, NFD}) == 2
    assert {len(k.encode()) for k in LONG_KEYS} == {MAX_KEY_BYTES}
    assert max(len(s.encode()) for k in LONG_KEYS for s in k.split("/")) == 255
    assert any(" " in k for k in CONTRACT_KEYS) and any("%" in k for k in CONTRACT_KEYS)
    assert any("+" in k for k in CONTRACT_KEYS) and any("~" in k for k in CONTRACT_KEYS)
    assert all(contract_problem(k) is None for k in (*CONTRACT_KEYS, *SPACE.pool))


@settings(max_examples=200, database=None)
@given(key_space(900).generated)
def test_generated_keys_stay_inside_the_contract_and_the_budget(key: str) -> None:
    assert contract_problem(key) is None and len(key.encode()) <= 900


def test_the_longest_keys_follow_the_stores_budget() -> None:
    assert {len(k.encode()) for k in long_keys(1004)} == {1004}
    assert all(len(k.encode()) <= 1004 for k in key_space(1004).pool)


def test_values_differ_by_seed_everywhere() -> None:
    a, b = value_of(200_000, 1), value_of(200_000, 2)
    assert len(a) == len(b) == 200_000 and a != b
    assert a[-1000:] != b[-1000:] and value_of(200_000, 1) == a
    assert value_of(0, 3) == b"" and len(value_of(65_537, 4)) == 65_537


def test_prefixes_are_every_directory_with_and_without_its_slash() -> None:
    assert prefixes_of("a/b/c") == ["a", "a/", "a/b", "a/b/"]
    assert prefixes_of("a") == []
    assert {"", "a", "a/", "a/b/"} <= set(SPACE.prefixes)
    assert all("/" in p.rstrip("/") for p in SPACE.deep)


def test_invalid_keys_are_outside_the_contract_or_not_strings() -> None:
    for key in INVALID_KEYS:
        assert not isinstance(key, str) or contract_problem(key) is not None, key

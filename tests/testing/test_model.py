"""The kit's model and key contract, on their own (no backend involved)."""

from __future__ import annotations

import pytest

from zarr_vectors.testing.model import Model, contract_problem, explain_keys
from zarr_vectors.testing.strategies import NFD, key_space

CONTRACT_KEYS = key_space().contract


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("a" * 1025, "more than 1024"),
        ("a/" + "b" * 256, "segment is 256 bytes"),
        ("a:b", "':'"),
        ("a\tb", "'\\t'"),
        (" a", "space"),
        ("a./b", "ends with '.'"),
        (".zv-tmp-1", "kept for a backend's own temporary files"),
        ("a/.zv-tmp-x/b", "kept for a backend's own temporary files"),
        ("a//b", "empty segment"),
    ],
)
def test_keys_outside_the_contract_are_named(key: str, problem: str) -> None:
    found = contract_problem(key)
    assert found is not None and problem in found


def test_the_keys_the_core_writes_under_zv_are_inside_the_contract() -> None:
    """Commit records, claims and staged copies are stored like any key (issue 18)."""
    from zarr_vectors.format.journal import CLAIMS_PREFIX, LOG_PREFIX, PRIVATE_PREFIX, log_key
    from zarr_vectors.testing.model import CORE_PRIVATE_KEYS

    core = [log_key(7), f"{CLAIMS_PREFIX}/abc.json", f"{PRIVATE_PREFIX}staged-0123456789ab/x"]
    for key in (*core, *CORE_PRIVATE_KEYS):
        assert contract_problem(key) is None, key
    assert {k.split("/")[0] for k in CORE_PRIVATE_KEYS} >= {LOG_PREFIX, CLAIMS_PREFIX}
    assert any(k.startswith(f"{PRIVATE_PREFIX}staged-") for k in CORE_PRIVATE_KEYS)
    assert set(CORE_PRIVATE_KEYS) <= set(CONTRACT_KEYS)  # the kit writes every one of them


@pytest.mark.parametrize(
    ("got", "want", "cause"),
    [
        (["caf\u00e9"], [NFD], "NFC normalisation"),
        (["a%20b"], ["a b"], "'%20'"),
        (["a b"], ["a+b"], "'+' decoded to a space"),
        (["A"], ["%41"], "percent-decoding"),
        (["long/kk"], ["long/kkkk"], "truncated"),
        (["b", "a"], ["a", "b"], "another order"),
    ],
)
def test_listing_differences_name_their_likely_cause(
    got: list[str], want: list[str], cause: str
) -> None:
    assert cause in explain_keys(got, want)


def test_a_repeated_key_in_a_batch_keeps_its_last_value() -> None:
    model = Model()
    model.put_many([("a", b"1"), ("b", b"2"), ("a", b"3")])
    assert model.data == {"a": b"3", "b": b"2"}
    model.delete_many(["a", "a", "missing"])
    assert model.listing() == ["b"]
    assert model.head("b") == 1 and model.head("a") is None


def test_versions_must_change_with_the_object_and_only_then() -> None:
    model = Model()
    model.put("k", b"one")
    assert model.version_problem("k", "v1") is None
    assert model.version_problem("k", "v1") is None  # not written since: the same
    changed = model.version_problem("k", "v2")
    assert changed is not None and "not written in between" in changed
    model.put("k", b"two")
    reused = model.version_problem("k", "v1")
    assert reused is not None and "already given to other contents" in reused
    assert model.version_problem("k", "v3") is None
    assert model.stale_version("k") == "v1"
    model.put("k", b"two")  # the same bytes again: an ETag may stay the same
    assert model.version_problem("k", "v3") is None

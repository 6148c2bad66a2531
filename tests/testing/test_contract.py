"""The key contract and key validation (contract.py): keys kept byte-exact, bad keys refused.

The faults of ``tests/helpers/kit_faulty.py`` listed for ``key-contract`` fail it
with a message naming the key and the likely cause; a backend that lets an invalid
key through, or touches storage before refusing it, fails ``invalid-keys``.
"""

from __future__ import annotations

import pytest

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.contract import check_invalid_keys, check_key_contract, private_hint

QUICK = FEWER.with_changes(max_examples=4, seed=1, isolate=False)


class TestFaultsCaught(FaultsCaught):
    module = "contract"


def test_a_correct_backend_passes_both_checks() -> None:
    check_key_contract(fault_target(DictBackend), QUICK)
    check_invalid_keys(fault_target(DictBackend), QUICK)


def test_an_invalid_key_let_through_is_caught() -> None:
    class ExistsOfAnyKey(DictBackend):
        """exists() answers without validating the key."""

        def exists(self, key: str) -> bool:
            return key in self.objects

        async def aexists(self, key: str) -> bool:
            return key in self.objects

    with pytest.raises(ConformanceError, match=r"exists\(.*returned False; an invalid key must"):
        check_invalid_keys(fault_target(ExistsOfAnyKey), QUICK.with_changes(max_examples=40))


def test_the_hint_names_the_private_keys_the_core_writes() -> None:
    assert private_hint(["a/b", "c"]) == ""
    hint = private_hint(["a", ".zv-log/00000001.json"])
    assert "'.zv-log/00000001.json'" in hint and "zarr-vectors itself writes" in hint
    assert "'.zv-tmp-'" in hint

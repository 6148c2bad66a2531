"""Which of the kit's checks must catch each broken backend of ``kit_faulty.py``, and how.

One table for every test file of the kit (each tests the faults its own module's
checks catch, see :func:`cases`) and for ``kit_fault_matrix.py``, which runs them
at the kit's full default settings. The tests run with fewer examples (10 instead
of 40) and no shrinking, to stay quick.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, ClassVar

import pytest

from tests.helpers.kit_faulty import FAULTY, DictBackend
from zarr_vectors.testing import KitConfig, KitTarget, run_check

#: Seeds every fault must be caught in.
SEEDS = (1, 2, 3)
#: The default local settings, with fewer examples and without the search for the smallest
#: failing example (test_runner.py checks that search).
FEWER = KitConfig.local().with_changes(max_examples=10, shrink=False)

#: fault -> the checks that must catch it and what their message must say. A fault of a
#: sync method shows in both machines (the async twins default to the sync methods);
#: running one of them keeps the suite quick.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "list-misses-nested": [("sync-state-machine", r"list_prefix")],
    # the machines find it in most seeds; the fixed script every time
    "delete-prefix-sibling": [("edge-cases", r"missing \[.*after delete_prefix\('q/a'\)")],
    "range-off-by-one": [("sync-state-machine", r"get_range\(.*\d+ bytes instead of")],
    # a get of a missing key, or a get_many that reports missing keys as empty values
    "missing-get-empty": [
        (
            "async-state-machine",
            r"the protocol says 'KeyError'|get_many.*returned.*b''.*unexpected \[",
        )
    ],
    "put-not-visible": [("sync-state-machine", r"right after put_bytes|just written by put_many")],
    "async-twin-disagrees": [("async-state-machine", r"\[async\] get_range")],
    "lists-recursively": [
        ("sync-state-machine", r"list_prefix\(.*recursive=False\)"),
        ("key-contract", r"recursive=False"),
    ],
    "normalises-nfc": [("key-contract", r"'cafe\\u0301'.*NFC normalisation")],
    "spaces-as-%20": [("key-contract", r"'a b'.*came back as 'a%20b'.*'%20'")],
    "refuses-long-keys": [("key-contract", r"put_bytes\('long/k+\.\.\.k+a' \(1024 bytes\)")],
    "torn-writes": [("torn-writes", r"bytes 0-\d+ of value #\d+, bytes \d+-\d+ of value #\d+")],
    # the dropped item is missing, or still holds the value it had before the batch
    "put-many-drops-item": [
        ("sync-state-machine", r"just written by put_many.*(missing|wrong value for) \[")
    ],
    "head-wrong-size": [("sync-state-machine", r"head\(.*\.size .*returned 65536")],
    # the default move_many deletes its sources with delete_many, so it shows there too
    "delete-many-leaves-key": [
        ("sync-state-machine", r"after (delete_many|delete_prefix|move_many)")
    ],
    "move-many-leaves-source": [
        ("sync-state-machine", r"after move_many\(.*unexpected \["),
        ("async-state-machine", r"\[async\].*after move_many\(.*unexpected \["),
    ],
    "move-many-drops-pair": [("large-batches", r"after move_many of 1100 pairs")],
    "put-if-ignores-expect": [
        ("sync-state-machine", r"put_if\(.*the protocol says 'PreconditionFailedError'"),
        ("conditional-writes", r"concurrent put_if.*succeeded"),
    ],
}

#: The faults the kit used to miss or catch only sometimes (issue 18), caught every time;
#: tested in one seed in the everyday loop and in the others among the slow tests.
NEW_EXPECTED: dict[str, list[tuple[str, str]]] = {
    "get-returns-bytearray": [
        ("edge-cases", r"returned a bytearray, not bytes"),
        ("sync-state-machine", r"returned a bytearray, not bytes"),
    ],
    "exists-sees-children": [("edge-cases", r"exists\('p/a'\) .*returned True.*only 'p/a/b'")],
    "range-past-end-raises": [
        ("edge-cases", r"get_range\('r/small', 1001, None\) .*raised StoreError")
    ],
    "lists-deleted-under-prefix": [
        ("edge-cases", r"list_prefix\('d/x/?', .*unexpected \['d/x/1'\].*after delete\('d/x/1'\)")
    ],
    "range-to-end-short": [
        ("edge-cases", r"get_range\('r/small', 0, None\) .*999 bytes instead of 1000")
    ],
    "hides-zv-keys": [
        ("edge-cases", r"list_prefix\(''.*missing \['\.zv-claims/"),
        ("key-contract", r"zarr-vectors itself writes keys like these"),
    ],
    "refuses-zv-keys": [
        ("edge-cases", r"put_many of .*'\.zv-log/.*raised InvalidKeyError"),
        ("key-contract", r"zarr-vectors itself writes keys like these"),
    ],
    # the default move_many deletes its sources with delete_many, so it shows there first
    "delete-many-first-page": [
        ("large-batches", r"after (move_many of 1100 pairs|delete_many of 1101 keys)")
    ],
    "put-many-first-page": [("large-batches", r"after put_many of 1100 objects .*expected 1100")],
    "move-many-first-page": [("large-batches", r"after move_many of 1100 pairs")],
    "put-many-ignores-fence": [
        ("write-fences", r"put_many of 4 objects .*succeeded although the write fence closed")
    ],
    "delete-many-ignores-fence": [
        ("write-fences", r"delete_many of 4 objects .*succeeded although the write fence closed")
    ],
    "move-many-ignores-fence": [
        ("write-fences", r"move_many of 4 objects .*succeeded although the write fence closed")
    ],
    "private-snapshot": [("two-instances", r"second instance|another instance of the same URL")],
}

#: Faults caught through the time limit (test_guard.py, test_sharing.py, test_isolation.py).
TIMED = {"get-blocks-forever"}
#: Faults that stop a call (tested one by one, with a short time limit).
STOPPING = {"one-instance-at-a-time", "get-holds-the-gil", "get-crashes"}

#: Checks whose calls do not depend on the seed: one seed shows what every seed would.
FIXED = {"edge-cases", "large-batches", "write-fences", "two-instances"}

#: check -> the module of ``zarr_vectors.testing`` it lives in (its test file tests it).
MODULE_OF = {
    "sync-state-machine": "stateful",
    "async-state-machine": "stateful",
    "edge-cases": "edges",
    "key-contract": "contract",
    "invalid-keys": "contract",
    "large-batches": "batches",
    "write-fences": "batches",
    "two-instances": "sharing",
    "two-processes": "sharing",
    "concurrent-async": "properties",
    "torn-writes": "properties",
    "conditional-writes": "properties",
    "persistence": "properties",
    "zarr-array": "roundtrip",
    "point-cloud": "roundtrip",
}

_COUNTER = itertools.count()


def cases(table: dict[str, list[tuple[str, str]]], module: str) -> list[Any]:
    """``(fault, check, message pattern)`` parameters of the rows of ``table`` whose check
    lives in ``module``, each named ``fault/check``."""
    return [
        pytest.param(fault, check, pattern, id=f"{fault}/{check}")
        for fault, expected in sorted(table.items())
        for check, pattern in expected
        if MODULE_OF[check] == module
    ]


def fault_target(cls: type[DictBackend], in_process: bool = True) -> KitTarget:
    """A target opening ``cls`` on a dict of its own."""
    url = f"dict://kit-{next(_COUNTER)}"
    return KitTarget(lambda: cls(url), f"{cls.__name__} at {url}", url=url, in_process=in_process)


def assert_caught(fault: str, check: str, pattern: str, seeds: tuple[int, ...]) -> None:
    """``check`` fails the backend with ``fault`` in each seed, its message matching ``pattern``."""
    for seed in seeds[:1] if check in FIXED else seeds:
        result = run_check(check, fault_target(FAULTY[fault]), FEWER.with_changes(seed=seed))
        assert result.status == "failed", f"{fault} not caught by {check} in seed {seed}"
        assert re.search(pattern, result.message), result.message
        assert result.seed == seed and f"seed={seed}" in result.replay
        assert result.calls, "the failure lists the backend calls of its example"


class FaultsCaught:
    """The faults the checks of one module must catch, as tests: subclass it as
    ``class TestFaultsCaught(FaultsCaught): module = "edges"`` in that module's test file.

    The faults of :data:`EXPECTED` are caught in every seed; those of :data:`NEW_EXPECTED`
    in the first seed, and in the others among the slow tests.
    """

    #: the module of ``zarr_vectors.testing`` whose checks are tested (see :data:`MODULE_OF`)
    module: ClassVar[str]

    @classmethod
    def pytest_generate_tests(cls, metafunc: pytest.Metafunc) -> None:
        old = metafunc.function.__name__ == "test_each_fault_is_caught_in_several_seeds"
        rows = cases(EXPECTED if old else NEW_EXPECTED, cls.module)
        if not rows:  # no fault of that table for these checks: no test
            rows = [
                pytest.param(
                    "",
                    "",
                    "",
                    marks=pytest.mark.skip(reason="these checks catch no fault of that table"),
                )
            ]
        metafunc.parametrize(("fault", "check", "pattern"), rows)

    def test_each_fault_is_caught_in_several_seeds(
        self, fault: str, check: str, pattern: str
    ) -> None:
        assert_caught(fault, check, pattern, SEEDS)

    def test_each_new_fault_is_caught(self, fault: str, check: str, pattern: str) -> None:
        assert_caught(fault, check, pattern, SEEDS[:1])

    @pytest.mark.slow
    def test_each_new_fault_is_caught_in_other_seeds(
        self, fault: str, check: str, pattern: str
    ) -> None:
        assert_caught(fault, check, pattern, SEEDS[1:])

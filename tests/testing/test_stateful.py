"""The state machines (stateful.py): each machine class drives a backend next to the model.

The faults of ``tests/helpers/kit_faulty.py`` that the sync and async machines must
catch are failed in several seeds, with messages naming the call; a machine class
takes its rules from what the backend declares (put_if where conditional_writes).
"""

from __future__ import annotations

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import DictBackend, VersionedDictBackend
from zarr_vectors.testing.stateful import Features, machine_class, run_machine


class TestFaultsCaught(FaultsCaught):
    module = "stateful"


def test_features_are_read_from_the_backend() -> None:
    assert Features.of(DictBackend("dict://features-1")) == Features(False, False)
    assert Features.of(VersionedDictBackend("dict://features-2")).conditional_writes
    assert Features.of(object()) == Features()


def test_the_rules_follow_what_the_backend_declares() -> None:
    plain = machine_class(fault_target(DictBackend), FEWER, "sync")
    versioned = machine_class(fault_target(VersionedDictBackend), FEWER, "async")
    assert plain.__name__ == "SyncBackendMachine" and versioned.__name__ == "AsyncBackendMachine"
    # the rules are the class's own; the steps they call are MachineBase's
    assert "put_if_unsupported" in vars(plain) and "put_if_absent" not in vars(plain)
    assert {"put_if_absent", "put_if_match"} <= set(vars(versioned))
    assert "put_if_unsupported" not in vars(versioned) and vars(versioned)["conditional"]
    hierarchical = machine_class(
        fault_target(DictBackend), FEWER, "sync", Features(hierarchical=True)
    )
    assert vars(hierarchical)["hierarchical"] and not vars(plain)["hierarchical"]


def test_a_correct_backend_passes_both_machines() -> None:
    config = FEWER.with_changes(max_examples=3, stateful_step_count=8, seed=1)
    for mode in ("sync", "async"):
        run_machine(fault_target(VersionedDictBackend), config, mode)

"""The fixed scripts (edges.py): faults random examples find only sometimes, caught every time.

Each script is run through both protocols against the model; a correct backend
passes them all, and each fault of ``tests/helpers/kit_faulty.py`` listed for
``edge-cases`` fails them with a message naming the call and why.
"""

from __future__ import annotations

import pytest

from tests.helpers.kit_expected import FEWER, FaultsCaught, fault_target
from tests.helpers.kit_faulty import DictBackend
from zarr_vectors.exceptions import ConformanceError
from zarr_vectors.testing.edges import check_edge_cases


class TestFaultsCaught(FaultsCaught):
    module = "edges"


def test_a_correct_backend_passes_every_script() -> None:
    check_edge_cases(fault_target(DictBackend), FEWER)


def test_a_parent_answered_as_an_object_names_the_script() -> None:
    class ParentIsAnObject(DictBackend):
        def _exists(self, key: str) -> bool:
            return key in self.objects or key == "p"

    with pytest.raises(ConformanceError, match=r"\[sync\] exists\('p'\) .*only keys below 'p/'"):
        check_edge_cases(fault_target(ParentIsAnObject), FEWER)

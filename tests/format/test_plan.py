"""A write decided before the store is touched (``zarr_vectors.format.plan``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zarr_vectors.format.plan import WritePlan


def plan(**kw: object) -> WritePlan:
    return WritePlan(mode="w", positions=np.zeros((0, 3)), attributes={}, codecs=[], **kw)  # type: ignore[arg-type]


def test_a_plan_with_batches_streams() -> None:
    assert not plan().streaming
    assert plan(batches=lambda: iter([])).streaming


def test_a_plan_is_fixed_once_made() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan().levels = 3  # type: ignore[misc]

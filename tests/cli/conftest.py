"""Point clouds the command tests share."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def cloud() -> np.ndarray:
    return np.random.default_rng(7).uniform(0, 100, (1500, 3)).astype(np.float32)


@pytest.fixture
def labels() -> np.ndarray:
    return np.random.default_rng(8).integers(0, 6, 1500).astype(np.uint8)

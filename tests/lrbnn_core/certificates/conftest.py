"""Fixtures of the certificate tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def seed(rng: np.random.Generator) -> int:
    """A torch seed derived from the test's own seeded numpy Generator."""
    return int(rng.integers(0, 2**31))

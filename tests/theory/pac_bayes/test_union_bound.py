"""Union bounds over finite grids: the split, the penalty and the validity of the best point."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory.pac_bayes import mcallester_bound
from theory.pac_bayes.union_bound import best_over_grid, union_bound_split
from verification.testing.strategies import confidences


@given(delta=confidences(), k=st.integers(1, 1000))
def test_uniform_split_sums_to_delta_and_pays_log_k(delta: float, k: int) -> None:
    split = union_bound_split(delta, k)
    assert math.isclose(float(split.deltas.sum()), delta, rel_tol=1e-12)
    assert np.allclose(split.penalties, math.log(k), rtol=1e-14, atol=0)


@given(delta=confidences(), kl=st.floats(0, 1e4), n=st.integers(1, 10**6), k=st.integers(1, 64))
def test_split_delta_equals_log_penalty_in_mcallester(delta, kl, n, k) -> None:
    """Twin: the bound at delta/K equals the bound at delta with ln K added to the KL."""
    split = union_bound_split(delta, k)
    at_split = mcallester_bound(0.1, kl, n, float(split.deltas[0]))
    with_penalty = mcallester_bound(0.1, kl + float(split.penalties[0]), n, delta)
    assert math.isclose(at_split, with_penalty, rel_tol=1e-12)


def test_weighted_split_over_ranks() -> None:
    ranks = np.arange(1, 33)
    w = 6 / (math.pi**2 * ranks**2)  # sums to < 1 over any finite set of ranks
    split = union_bound_split(0.05, weights=w)
    assert np.allclose(split.deltas, 0.05 * w)
    assert np.all(np.diff(split.penalties) > 0)
    best, idx = best_over_grid([0.9, 0.5, 0.7] + [1.0] * 29, split)
    assert (best, idx) == (0.5, 1)


def test_union_bound_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        union_bound_split(0.05)
    with pytest.raises(ValueError, match=r"`weights` must sum to at most 1; got sum 1.5"):
        union_bound_split(0.05, weights=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"`n_points` must be an int in \[1, inf\]; got 0"):
        union_bound_split(0.05, 0)
    with pytest.raises(ValueError, match="one value per grid point"):
        best_over_grid([0.1, 0.2], union_bound_split(0.05, 3))

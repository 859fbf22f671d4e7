"""The plain-float kl-inverse against the vectorised solver (its twin) and mpmath."""

from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory.pac_bayes.kl_inverse_scalar as ks
from theory.pac_bayes.kl_inverse import SAFETY_MARGIN, kl_bernoulli, kl_inv_upper
from verification.testing import oracles as ref
from verification.testing.strategies import kl_budgets, probabilities

#: two conservative results, each within SAFETY_MARGIN plus a few ulps of the truth
PAIR_SLACK = 2.0 * SAFETY_MARGIN + 8.0 * np.finfo(np.float64).eps

_Q = [
    0.0,
    5e-324,
    1e-310,
    1e-300,
    1e-200,
    1e-12,
    1e-6,
    0.01,
    0.1,
    0.3,
    0.5,
    0.7,
    0.9,
    0.99,
    1 - 1e-9,
    0.9999999999999999,
    1.0,
]
_C = [
    0.0,
    5e-324,
    1e-300,
    1e-30,
    1e-12,
    1e-6,
    1e-3,
    0.01,
    0.1,
    0.5,
    1.0,
    5.0,
    50.0,
    700.0,
    1e6,
    1e300,
    math.inf,
]


def _grid() -> list[tuple[float, float]]:
    rng = np.random.default_rng(0)
    qs = _Q + [float(v) for v in rng.uniform(0.0, 1.0, 40)]
    cs = _C + [float(v) for v in 10.0 ** rng.uniform(-8.0, 1.0, 40)]
    return list(itertools.product(qs, cs))


def test_scalar_matches_the_vectorised_solver_on_a_grid_with_the_edges() -> None:
    grid = _grid()
    q = np.array([g[0] for g in grid])
    c = np.array([g[1] for g in grid])
    # the vectorised solver warns of an overflow at c = 1e300 (its result is right): silenced
    # for both, since the plain-float one hands such points to it
    with np.errstate(over="ignore", invalid="ignore"):
        fast = np.array([ks.kl_inv_upper_scalar(a, b) for a, b in grid])
        slow = kl_inv_upper(q, c)
    assert np.max(np.abs(fast - slow)) <= PAIR_SLACK
    assert np.all(fast >= q) and np.all(fast <= 1.0)
    # conservative: on or past the root, by the vectorised kl (or saturated at 1)
    assert np.all((kl_bernoulli(q, fast) >= c) | (fast == 1.0))
    # the edges exactly
    assert ks.kl_inv_upper_scalar(0.3, 0.0) == 0.3
    assert ks.kl_inv_upper_scalar(1.0, 0.2) == 1.0
    assert ks.kl_inv_upper_scalar(0.3, math.inf) == 1.0
    assert ks.kl_inv_upper_scalar(0.0, 0.2) == kl_inv_upper(0.0, 0.2)


def test_the_fast_path_solves_ordinary_points_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised fallback is for extreme points only: the twin test above compares the
    plain-float solver, not the fallback with itself."""
    calls: list[tuple[float, float]] = []
    monkeypatch.setattr(ks, "kl_inv_upper", lambda q, c: calls.append((q, c)) or 0.0)
    rng = np.random.default_rng(1)
    for q, c in zip(rng.uniform(1e-6, 1 - 1e-6, 200), 10.0 ** rng.uniform(-8, 1, 200), strict=True):
        ks.kl_inv_upper_scalar(float(q), float(c))
    assert calls == []


def test_a_displacement_short_of_the_root_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: a solver that stops 1e-9 short; the final check hands the point to the
    vectorised solver, whose answer is returned instead."""
    monkeypatch.setattr(ks, "_displacement", lambda a, b, c: 0.999999999 * (b * 0.0 + 0.1))
    assert ks.kl_inv_upper_scalar(0.1, 0.2) == kl_inv_upper(0.1, 0.2)
    mutant = 0.1 + 0.999999999 * 0.1 + SAFETY_MARGIN
    assert kl_bernoulli(0.1, mutant) < 0.2  # the mutant's value would not have been conservative


@given(q=probabilities(), c=kl_budgets())
def test_scalar_against_mpmath(q: float, c: float) -> None:
    p = ks.kl_inv_upper_scalar(q, c)
    truth = ref.kl_inv_upper(q, c)
    with mp.workdps(ref.DPS):
        err = mp.mpf(p) - truth
    assert 0 <= err <= 1e-12


@given(q=probabilities(), p=probabilities())
def test_scalar_kl_matches_the_vectorised_kl(q: float, p: float) -> None:
    fast, slow = ks.kl_bernoulli_scalar(q, p), float(kl_bernoulli(q, p))
    assert fast == slow or abs(fast - slow) <= 1e-14 * max(1.0, abs(slow))


@pytest.mark.parametrize(
    ("q", "c", "name"),
    [
        (1.5, 0.1, "q"),
        (-0.1, 0.1, "q"),
        (math.nan, 0.1, "q"),
        (0.1, -1.0, "c"),
        (0.1, math.nan, "c"),
    ],
)
def test_scalar_rejects_bad_input(q: float, c: float, name: str) -> None:
    with pytest.raises(ValueError, match=rf"`{name}` must be"):
        ks.kl_inv_upper_scalar(q, c)


@given(st.floats(0.0, 1.0), st.floats(0.0, 1e3))
def test_scalar_is_conservative_everywhere(q: float, c: float) -> None:
    p = ks.kl_inv_upper_scalar(q, c)
    assert p == 1.0 or float(kl_bernoulli(q, p)) >= c

"""Binary kl and its inverses against mpmath, at the edges, and their properties (claim D2)."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from theory.pac_bayes.kl_inverse import SAFETY_MARGIN, kl_bernoulli, kl_inv_lower, kl_inv_upper
from verification.testing import oracles as ref
from verification.testing.strategies import kl_budgets, probabilities

#: The accuracy promised by the API (absolute, in p).
ACCURACY = 1e-12
#: Rounding slack for inequalities between two separately computed inverses: each result is
#: within SAFETY_MARGIN plus a few ulps of the truth, so two of them may cross by at most this.
PAIR_SLACK = 2.0 * SAFETY_MARGIN + 8.0 * np.finfo(np.float64).eps


@given(q=probabilities(), c=kl_budgets())
@example(q=0.5, c=1e-300)
@example(q=1e-310, c=1e-300)
@example(q=0.999999, c=700.0)
@example(q=1e-12, c=1e-12)
@example(q=0.9999999999999999, c=1e-3)
def test_kl_inv_upper_matches_mpmath_and_is_conservative(q: float, c: float) -> None:
    p = kl_inv_upper(q, c)
    truth = ref.kl_inv_upper(q, c)
    with mp.workdps(ref.DPS):
        err = mp.mpf(p) - truth
    assert err >= 0, f"below the true value by {err}"
    assert err <= ACCURACY


@given(q=probabilities(), c=kl_budgets())
@example(q=0.5, c=1e-300)
@example(q=1e-310, c=3.0)
@example(q=1.0, c=2.0)
@example(q=1e-5, c=1e-12)
def test_kl_inv_lower_matches_mpmath_and_is_conservative(q: float, c: float) -> None:
    p = kl_inv_lower(q, c)
    truth = ref.kl_inv_lower(q, c)
    with mp.workdps(ref.DPS):
        err = truth - mp.mpf(p)
    assert err >= 0, f"above the true value by {err}"
    assert err <= ACCURACY


@given(q=probabilities(), p=probabilities())
@example(q=0.3, p=0.3 + 1e-12)
@example(q=1e-300, p=0.5)
@example(q=2.225073858507203e-309, p=0.5)
def test_kl_bernoulli_matches_mpmath(q: float, p: float) -> None:
    value = kl_bernoulli(q, p)
    if (p in (0.0, 1.0)) and q != p:
        assert value == math.inf
        return
    truth = ref.kl(q, p)
    # Relative accuracy, with an absolute floor for values that are themselves rounding-sized.
    assert abs(value - float(truth)) <= 1e-13 * float(truth) + 1e-300


def test_kl_inverses_exact_at_edges() -> None:
    cs = np.array([1e-300, 1e-8, 0.3, 5.0, 700.0])
    assert kl_inv_upper(0.37, 0.0) == 0.37
    assert kl_inv_lower(0.37, 0.0) == 0.37
    assert kl_inv_upper(1.0, 0.5) == 1.0
    assert kl_inv_upper(0.2, math.inf) == 1.0
    assert kl_inv_lower(0.0, 0.5) == 0.0
    assert kl_inv_lower(0.2, math.inf) == 0.0
    # q = 0: 1 - exp(-c), rounded up by one ulp; q = 1: exp(-c), rounded down by one ulp.
    up = kl_inv_upper(np.zeros_like(cs), cs)
    assert np.array_equal(up, np.minimum(np.nextafter(-np.expm1(-cs), np.inf), 1.0))
    low = kl_inv_lower(np.ones_like(cs), cs)
    assert np.array_equal(low, np.nextafter(np.exp(-cs), 0.0))
    for c in cs:
        assert mp.mpf(kl_inv_upper(0.0, float(c))) >= ref.kl_inv_upper(0.0, float(c))
        assert mp.mpf(kl_inv_lower(1.0, float(c))) <= ref.kl_inv_lower(1.0, float(c))


def test_kl_inv_upper_million_points_in_one_call(rng: np.random.Generator) -> None:
    n = 10**6
    q = rng.uniform(size=n)
    c = rng.exponential(size=n) * 10.0 ** rng.integers(-12, 3, size=n)
    p = kl_inv_upper(q, c)
    assert p.shape == (n,)
    assert np.all((p >= q) & (p <= 1.0))
    assert np.all(kl_bernoulli(q, p) >= c)
    assert np.all(p <= q + np.sqrt(c / 2.0) + SAFETY_MARGIN)
    # Spot-check a sample against mpmath.
    for i in rng.choice(n, size=25, replace=False):
        err = mp.mpf(p[i]) - ref.kl_inv_upper(q[i], c[i])
        assert 0 <= err <= ACCURACY


@given(q=probabilities(), c=kl_budgets())
@example(q=2.2250738585e-313, c=1.0)
def test_kl_inv_upper_properties(q: float, c: float) -> None:
    """>= q, equal at c = 0, kl(q, p) >= c, below Pinsker (up to the safety margin)."""
    p = kl_inv_upper(q, c)
    assert q <= p <= 1.0
    assert kl_bernoulli(q, p) >= c or p == 1.0
    assert p <= q + math.sqrt(c / 2.0) + SAFETY_MARGIN + np.finfo(np.float64).eps
    if c == 0.0:
        assert p == q


@given(q=probabilities(), c=kl_budgets())
def test_kl_inv_lower_properties(q: float, c: float) -> None:
    p = kl_inv_lower(q, c)
    assert 0.0 <= p <= q
    assert kl_bernoulli(q, p) >= c or p == 0.0
    assert p >= q - math.sqrt(c / 2.0) - SAFETY_MARGIN - np.finfo(np.float64).eps
    if c == 0.0:
        assert p == q


@given(q1=probabilities(), q2=probabilities(), c1=kl_budgets(), c2=kl_budgets())
@example(q1=1e-301, q2=1e-299, c1=1e-300, c2=1e-300)
def test_kl_inverses_monotone_in_q_and_c(q1: float, q2: float, c1: float, c2: float) -> None:
    q1, q2 = sorted((q1, q2))
    c1, c2 = sorted((c1, c2))
    assert kl_inv_upper(q1, c1) <= kl_inv_upper(q2, c1) + PAIR_SLACK
    assert kl_inv_upper(q1, c1) <= kl_inv_upper(q1, c2) + PAIR_SLACK
    assert kl_inv_lower(q1, c1) <= kl_inv_lower(q2, c1) + PAIR_SLACK
    assert kl_inv_lower(q1, c2) <= kl_inv_lower(q1, c1) + PAIR_SLACK


@given(q=st.lists(probabilities(), min_size=1, max_size=20), c=kl_budgets())
def test_kl_inv_upper_vectorised_equals_scalar(q: list[float], c: float) -> None:
    vec = kl_inv_upper(np.array(q), c)
    assert isinstance(vec, np.ndarray)
    assert [kl_inv_upper(v, c) for v in q] == vec.tolist()


def test_kl_inverse_scalar_in_float_out() -> None:
    assert type(kl_inv_upper(0.1, 0.2)) is float
    assert type(kl_bernoulli(0.1, 0.2)) is float
    assert kl_inv_upper(np.array([[0.1], [0.2]]), np.array([0.1, 0.2, 0.3])).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"q": -0.1, "c": 1.0}, r"`q` must be a float in \[0, 1\]; got -0.1"),
        ({"q": 1.5, "c": 1.0}, r"`q` must be a float in \[0, 1\]; got 1.5"),
        ({"q": float("nan"), "c": 1.0}, r"`q` must not be NaN"),
        ({"q": 0.5, "c": -1.0}, r"`c` must be a float in \[0, inf\]; got -1.0"),
        ({"q": 0.5, "c": float("nan")}, r"`c` must not be NaN"),
        ({"q": [0.5, 2.0], "c": 1.0}, r"`q` must be a float in \[0, 1\]; got 2.0"),
    ],
)
def test_kl_inverse_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    for fn in (kl_inv_upper, kl_inv_lower):
        with pytest.raises(ValueError, match=match):
            fn(**kwargs)


def test_kl_inverse_rejects_wrong_types() -> None:
    with pytest.raises(TypeError, match="`q` must be a real number"):
        kl_inv_upper("0.5", 1.0)
    with pytest.raises(TypeError, match="`c` must be a real number"):
        kl_inv_upper(0.5, True)
    with pytest.raises(ValueError, match="`p` must be a float in"):
        kl_bernoulli(0.5, 1.2)


@given(q=st.floats(min_value=1e-6, max_value=1.0 - 1e-6))
def test_kl_inverse_start_series_matches_symbolic_derivation(q: float) -> None:
    """The Newton start's series coefficients are the sympy-derived ones (theory.symbolic)."""
    import sympy as sp

    from theory.pac_bayes.kl_inverse import _series_coefficients
    from theory.symbolic.kl_inverse_series import kl_inv_upper_coefficients
    from theory.symbolic.symbols import q as q_sym

    numeric = _series_coefficients(np.array([q]), np.array([1.0 - q]))
    for num, expr in zip(numeric, kl_inv_upper_coefficients(3), strict=True):
        exact = float(sp.N(expr.subs(q_sym, sp.Float(q, 40)), 30))
        assert math.isclose(float(num[0]), exact, rel_tol=1e-12, abs_tol=1e-12)

"""The small-c series of the upper kl-inverse (theory.symbolic) against the numeric inverse.

Each sympy expression of :mod:`theory.symbolic` is ``lambdify``-ed and compared with its numeric
counterpart of :mod:`theory.pac_bayes` on hypothesis-drawn points: in float64 where the symbolic
form has no cancellation, and at 50 digits (mpmath) where it has, so that the comparison measures
the numeric function and not the rounding of its twin.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given

from theory.pac_bayes import (
    kl_inv_upper,
)
from theory.symbolic import (
    MAX_TERMS,
    binary_kl_expr,
    kl_inv_upper_coefficients,
    kl_inv_upper_series,
    kl_inv_upper_series_function,
    kl_shift_series,
)
from theory.symbolic.symbols import (
    c,
    d,
    q,
    s,
)
from verification.testing import oracles as ref
from verification.testing.strategies import (
    small_kl_budget_pairs,
)

EPS = float(np.finfo(np.float64).eps)
#: The accuracy of kl_inv_upper promised by the API (absolute, in p).
ACCURACY = 1e-12
#: Digits of the mpmath evaluations (the same as the mpmath oracle of the kl-inverse).
DPS = ref.DPS
#: Safety factor on the derived truncation bound of the kl-inverse series: the bound is the sum
#: of the next four terms |a_j| s^j; for s <= 0.1 sqrt(q (1 - q)) the later terms shrink by more
#: than 10x each (the envelope checked by test_kl_inv_series_coefficient_envelope), so twice the
#: sum covers the rest of the series.
TAIL_FACTOR = 2.0
#: Largest ratio K_{j+1} / K_j of the coefficient envelope K_j = max_q |a_j| (q (1-q))^{(j-1)/2}.
#: Writing s = u sqrt(q (1-q)), term j is at most K_j sqrt(q (1-q)) u^j, so with u <= 0.1 each
#: envelope term is below 0.06 of the one before.
ENVELOPE_RATIO = 0.6


@cache
def _coefficient_fns(module: str) -> tuple[Any, ...]:
    return tuple(sp.lambdify(q, a, module) for a in kl_inv_upper_coefficients(MAX_TERMS))


# --- (c) small-c series of the upper kl-inverse ---------------------------------------------


def test_kl_shift_series_starts_at_the_fisher_information_term() -> None:
    """The Taylor series of kl(q || q + d) starts at d^2 / (2 q (1 - q)) (no d^0 or d^1 term)."""
    series = sp.expand(kl_shift_series(4))
    assert series.coeff(d, 0) == 0
    assert series.coeff(d, 1) == 0
    assert sp.simplify(series.coeff(d, 2) - 1 / (2 * q * (1 - q))) == 0


def test_kl_inv_series_leading_terms_and_prefix_stability() -> None:
    """The upper kl-inverse is q + sqrt(2 q (1-q) c) + (2/3)(1 - 2q) c + O(c^(3/2))."""
    coeffs = kl_inv_upper_coefficients(MAX_TERMS)
    assert sp.simplify(coeffs[0] - sp.sqrt(2 * q * (1 - q))) == 0
    assert sp.simplify(coeffs[1] - sp.Rational(2, 3) * (1 - 2 * q)) == 0
    assert coeffs[:4] == kl_inv_upper_coefficients(4)
    assert sp.simplify(kl_inv_upper_series(2) - (q + coeffs[0] * sp.sqrt(c) + coeffs[1] * c)) == 0


@pytest.mark.parametrize("q_value", [sp.Rational(1, 3), sp.Rational(1, 10)])
def test_kl_inv_series_inverts_the_kl_to_its_order(q_value: sp.Rational) -> None:
    """Substituted back, the 3-term series gives kl(q || series) = c + O(c^(5/2)), exactly."""
    k = 3
    p_series = kl_inv_upper_series(k).subs({q: q_value, c: s**2})
    expansion = sp.series(binary_kl_expr(q_value, p_series) - s**2, s, 0, k + 2)
    assert sp.simplify(expansion.removeO()) == 0


def test_kl_inv_series_coefficient_envelope() -> None:
    """The coefficients scale like (q (1-q))^{-(j-1)/2}, with envelope constants that shrink
    by a factor ENVELOPE_RATIO or more from one order to the next (max over a fine grid of q):
    the premise of TAIL_FACTOR."""
    grid = np.linspace(1e-3, 1 - 1e-3, 4001)
    scale = np.sqrt(grid * (1 - grid))
    envelope = [
        float(np.max(np.abs(np.broadcast_to(f(grid), grid.shape)) * scale ** (j - 1)))
        for j, f in enumerate(_coefficient_fns("numpy"), start=1)
    ]
    # a_1 = sqrt(2 q (1-q)) is largest at q = 1/2.
    assert envelope[0] == pytest.approx(math.sqrt(2) / 2, rel=1e-6)
    for j in range(1, len(envelope)):
        assert envelope[j] <= ENVELOPE_RATIO * envelope[j - 1], (j + 1, envelope)


def _tail_bound(a: list[float], s_value: Any, k: int) -> Any:
    return TAIL_FACTOR * sum(abs(a[j]) * s_value ** (j + 1) for j in range(k, k + 4))


@pytest.mark.parametrize("n_terms", [1, 2, 3, 4])
@given(point=small_kl_budget_pairs())
@example(point=(0.5, 0.25 * 0.01))
@example(point=(0.0839, 1e-4 * 0.0839 * 0.9161))
def test_kl_inv_series_matches_numeric_inverse_within_truncation(
    n_terms: int, point: tuple[float, float]
) -> None:
    """|kl_inv_upper(q, c) - series_k| <= 2 sum_{j=k+1}^{k+4} |a_j| c^{j/2} + 1e-12 (+ rounding).

    The constant of the O(c^{(k+1)/2}) truncation error is derived from the next coefficients.
    """
    q_value, c_value = point
    s_value = math.sqrt(c_value)
    a = [float(f(q_value)) for f in _coefficient_fns("numpy")]
    series = float(kl_inv_upper_series_function(n_terms)(q_value, c_value))
    rounding = 8 * EPS * (q_value + sum(abs(a[j]) * s_value ** (j + 1) for j in range(n_terms)))
    err = abs(kl_inv_upper(q_value, c_value) - series)
    assert err <= _tail_bound(a, s_value, n_terms) + ACCURACY + rounding


@given(point=small_kl_budget_pairs())
@example(point=(0.5, 0.25 * 0.01))
@example(point=(1e-3, 1e-8 * 1e-3 * 0.999))
def test_kl_inv_series_matches_mpmath_inverse_within_truncation(point: tuple[float, float]) -> None:
    """Against the 50-digit inverse, for every truncation k = 1..MAX_TERMS - 4, the error is
    within the derived bound 2 sum_{j=k+1}^{k+4} |a_j| c^{j/2} (no float floor)."""
    q_value, c_value = point
    truth = ref.kl_inv_upper(q_value, c_value)
    with mp.workdps(DPS):
        qm, s_value = mp.mpf(q_value), mp.sqrt(mp.mpf(c_value))
        a = [f(qm) for f in _coefficient_fns("mpmath")]
        for k in range(1, MAX_TERMS - 3):
            series = kl_inv_upper_series_function(k, "mpmath")(qm, mp.mpf(c_value))
            assert abs(truth - series) <= _tail_bound(a, s_value, k), f"k = {k}"


@pytest.mark.parametrize("n_terms", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("q_value", [0.2, 0.7])
def test_kl_inv_series_error_shrinks_at_the_predicted_order(n_terms: int, q_value: float) -> None:
    """Dividing c by 100 divides the truncation error by 10^(k+1) (50-digit reference).

    With E(s) = a_{k+1} s^{k+1} (1 + e(s)) and |e| <= 2 (|a_{k+2}| s + |a_{k+3}| s^2) / |a_{k+1}|,
    the ratio E(s) / E(s/10) lies in 10^{k+1} [(1 - e)/(1 + e), (1 + e)/(1 - e)].
    """
    c_big = 1e-6 * q_value * (1 - q_value)
    with mp.workdps(DPS):
        a = [f(mp.mpf(q_value)) for f in _coefficient_fns("mpmath")]
        lead = abs(a[n_terms])
        assert lead > 1e-3, "choose q where the next coefficient does not vanish"
        s_big = mp.sqrt(mp.mpf(c_big))
        e = 2 * (abs(a[n_terms + 1]) * s_big + abs(a[n_terms + 2]) * s_big**2) / lead
        fn = kl_inv_upper_series_function(n_terms, "mpmath")

        def error(cv: float) -> Any:
            return abs(ref.kl_inv_upper(q_value, cv) - fn(mp.mpf(q_value), mp.mpf(cv)))

        ratio = error(c_big) / error(c_big / 100) / mp.mpf(10) ** (n_terms + 1)
        assert (1 - e) / (1 + e) <= ratio <= (1 + e) / (1 - e), mp.nstr(ratio, 10)


def test_kl_inv_series_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"`n_terms` must be an int in \[1, 8\]; got 9"):
        kl_inv_upper_coefficients(9)
    with pytest.raises(TypeError, match=r"`n_terms` must be an int; got 2.0"):
        kl_inv_upper_coefficients(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`module` must be 'numpy' or 'mpmath'; got 'torch'"):
        kl_inv_upper_series_function(2, "torch")

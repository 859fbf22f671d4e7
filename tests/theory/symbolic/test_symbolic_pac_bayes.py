"""Symbolic twins of the PAC-Bayes formulas against the numeric ones (claims D2, D3, P1, T3.8).

Each sympy expression of :mod:`theory.symbolic` is ``lambdify``-ed and compared with its numeric
counterpart of :mod:`theory.pac_bayes` on hypothesis-drawn points: in float64 where the symbolic
form has no cancellation, and at 50 digits (mpmath) where it has, so that the comparison measures
the numeric function and not the rounding of its twin.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from typing import Any

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from theory.pac_bayes import (
    catoni_bound,
    complexity_ratio,
    gaussian_kl,
    kl_bound,
    mcallester_bound,
    param_counts,
)
from theory.symbolic import (
    catoni_expr,
    complexity_ratio_derivative,
    complexity_ratio_expr,
    complexity_ratio_function,
    complexity_ratio_residual,
    complexity_ratio_target,
    full_rank_bound_expr,
    gaussian_kl_expr,
    gaussian_kl_function,
    kl_bound_equation,
    log_term_is_positive,
    low_rank_bound_expr,
    mcallester_function,
    param_counts_function,
    t38_bounds_function,
    t38c_condition_expr,
    t38c_sign_proof,
)
from theory.symbolic.symbols import (
    C_LR,
    KL,
    B,
    C,
    C_full,
    N,
    d_in,
    d_out,
    delta,
    emp,
    m,
    mu_p,
    mu_q,
    n,
    n_grid,
    r,
    sigma_p,
    sigma_q,
)
from verification.testing import oracles as ref
from verification.testing.strategies import (
    catoni_grids,
    confidences,
    gaussian_params,
    kl_ceilings,
    kl_values,
    layer_shapes,
    probabilities,
    sample_sizes,
)

EPS = float(np.finfo(np.float64).eps)
#: Agreement asked of two float64 evaluations of one formula (the brief's "rtol ~1e-12"): far
#: above the few-eps rounding of either, far below any transcription slip.
RTOL = 1e-12
#: The accuracy of kl_inv_upper promised by the API (absolute, in p).
ACCURACY = 1e-12
#: Digits of the mpmath evaluations (the same as the mpmath oracle of the kl-inverse).
DPS = ref.DPS
#: Digits for the derived Gaussian KL, whose closed form cancels: with means up to 1e3 its terms
#: reach ~1e6 while the result can be as small as (a subnormal mean gap)^2 ~ 1e-647, so 653
#: digits can cancel; 800 leaves > 100 correct digits in every case the strategies draw.
GAUSS_DPS = 800
#: Rounding of the float budget c = (KL + ln(2 sqrt n / delta)) / n: a log, a sqrt, two
#: divisions and two additions of non-negative terms, each <= eps relative; 16 eps leaves >= 2x.
BUDGET_RTOL = 16 * EPS


def _mp(fn: Any, *args: Any, dps: int = DPS) -> Any:
    """``fn`` at ``dps`` digits, every argument converted exactly to mpf first (so that no
    product or quotient of two arguments is rounded in float64 before mpmath sees it)."""
    with mp.workdps(dps):
        return fn(*(mp.mpf(a) for a in args))


@cache
def _mp_gaussian_kl() -> Any:
    return sp.lambdify((mu_q, sigma_q, mu_p, sigma_p), gaussian_kl_expr(), "mpmath")


@cache
def _mp_kl_residual() -> Any:
    eq = kl_bound_equation()
    return sp.lambdify((emp, KL, N, delta, B), eq.lhs - eq.rhs, "mpmath")


@cache
def _mp_catoni() -> Any:
    return sp.lambdify((emp, KL, N, delta, C, n_grid), catoni_expr(), "mpmath")


@cache
def _mp_t38_bounds() -> Any:
    args = (emp, C_full, C_LR, d_in, d_out, r, N, delta)
    return sp.lambdify(args, (full_rank_bound_expr(), low_rank_bound_expr()), "mpmath")


# --- (a) Gaussian KL, derived by integration -------------------------------------------------


def test_gaussian_kl_expr_is_an_evaluated_integral_vanishing_at_equality() -> None:
    """Claim D3: sympy integrated q ln(q/p) to a closed form that is 0 when q = p."""
    expr = gaussian_kl_expr()
    assert not expr.has(sp.Integral)
    assert expr.free_symbols == {mu_q, sigma_q, mu_p, sigma_p}
    assert sp.simplify(expr.subs({mu_p: mu_q, sigma_p: sigma_q})) == 0
    # Unit variances: KL = (mu_q - mu_p)^2 / 2, exactly.
    assert sp.simplify(expr.subs({sigma_q: 1, sigma_p: 1}) - (mu_q - mu_p) ** 2 / 2) == 0


@pytest.mark.claim("D3")
@given(post=gaussian_params(), prior=gaussian_params())
@example(post=(0.0, 1e-3), prior=(0.0, 1.0))
@example(post=(0.0, 1.0), prior=(0.0, 1.0 + 2.0**-52))
def test_gaussian_kl_numeric_matches_derived_integral_at_high_precision(
    post: tuple[float, float], prior: tuple[float, float]
) -> None:
    """Claim D3: gaussian_kl agrees with the sympy-integrated KL (evaluated at 800 digits).

    The numeric form sums two non-negative terms, each with a relative error of a few eps, so a
    relative tolerance suffices down to the underflow floor (the absolute 1e-300).
    """
    exact = _mp(_mp_gaussian_kl(), *post, *prior, dps=GAUSS_DPS)
    got = gaussian_kl(*post, *prior)
    with mp.workdps(GAUSS_DPS):
        err = abs(mp.mpf(got) - exact)
        assert err <= RTOL * exact + 1e-300, f"numeric {got!r}, exact {mp.nstr(exact, 20)}"


@pytest.mark.claim("D3")
@given(post=gaussian_params(), prior=gaussian_params())
@example(post=(0.0, 1e-3), prior=(0.0, 1.0))
def test_gaussian_kl_lambdified_matches_numeric(
    post: tuple[float, float], prior: tuple[float, float]
) -> None:
    """Claim D3: the float64 lambdified twin equals gaussian_kl up to its own rounding.

    The twin's closed form cancels (mu_p^2 - 2 mu_p mu_q + mu_q^2; log - 1 + ratio), so the
    absolute slack is 16 eps times the sum of the magnitudes of its terms (<= 8 terms summed).
    """
    (mq, sq), (mp_, sp_) = post, prior
    got = gaussian_kl(mq, sq, mp_, sp_)
    twin = float(gaussian_kl_function()(mq, sq, mp_, sp_))
    magnitude = (mp_**2 + 2 * abs(mp_ * mq) + mq**2 + sp_**2 * (abs(math.log(sp_**2 / sq**2)) + 1)
                 + sq**2) / (2 * sp_**2)  # fmt: skip
    assert abs(twin - got) <= RTOL * abs(got) + 16 * EPS * magnitude


@pytest.mark.claim("D3")
@given(pairs=st.lists(st.tuples(gaussian_params(), gaussian_params()), min_size=1, max_size=6))
def test_gaussian_kl_total_is_the_sum_of_derived_terms(
    pairs: list[tuple[tuple[float, float], tuple[float, float]]],
) -> None:
    """Claim D3: the KL of a product measure is the sum of the per-coordinate derived KLs."""
    arr = np.array([[*a, *b] for a, b in pairs])
    got = gaussian_kl(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
    with mp.workdps(GAUSS_DPS):
        exact = mp.fsum(_mp(_mp_gaussian_kl(), *row, dps=GAUSS_DPS) for row in arr.tolist())
        assert abs(mp.mpf(got) - exact) <= RTOL * exact + 1e-300


# --- (b) bounds and counts ------------------------------------------------------------------


@pytest.mark.claim("D2")
@given(e=probabilities(), k=kl_values(), size=sample_sizes(), conf=confidences())
def test_mcallester_lambdified_matches_numeric(e: float, k: float, size: int, conf: float) -> None:
    """Claim D2: the lambdified McAllester bound equals mcallester_bound (sums of positives)."""
    twin = float(mcallester_function()(e, k, size, conf))
    got = mcallester_bound(e, k, size, conf)
    assert abs(twin - got) <= RTOL * got


@pytest.mark.claim("D2")
@given(e=probabilities(interior=True), k=kl_values(), size=sample_sizes(), conf=confidences())
@example(e=0.1, k=10.0, size=1000, conf=0.05)
@example(e=0.999, k=1e6, size=1, conf=0.5)
@example(e=1e-310, k=0.0, size=10**7, conf=0.999)
def test_kl_bound_solves_the_symbolic_equation(e: float, k: float, size: int, conf: float) -> None:
    """Claim D2 (kl-inverse bound): kl(emp || B) = (KL + ln(2 sqrt N/delta))/N at B = kl_bound.

    Conservative: kl(emp || B) >= c; accurate: kl(emp || B - 1e-12) <= c (both up to the
    rounding of the float budget c, judged by the sympy equation at 50 digits).
    """
    bound = kl_bound(e, k, size, conf)
    assert e <= bound <= 1.0
    residual = _mp_kl_residual()
    with mp.workdps(DPS):
        budget = mp.mpf(k) + mp.log(2 * mp.sqrt(size) / mp.mpf(conf))
        slack = BUDGET_RTOL * budget / size
        # kl(q || 1) = +inf for q < 1: B = 1 is conservative whatever the budget.
        above = mp.inf if bound == 1.0 else _mp(residual, e, k, size, conf, bound)
        below = _mp(residual, e, k, size, conf, max(e, bound - ACCURACY))
    assert above >= -slack, f"kl(emp || B) - c = {mp.nstr(above, 5)}: B is below the root"
    assert below <= slack, f"kl(emp || B - 1e-12) - c = {mp.nstr(below, 5)}: B is too loose"


@pytest.mark.claim("D2")
@given(
    e=probabilities(), k=kl_values(), size=sample_sizes(), conf=confidences(), grid=catoni_grids()
)
@example(e=0.1, k=10.0, size=1000, conf=0.05, grid=[1.0])
@example(e=0.0, k=0.0, size=10**7, conf=0.5, grid=[1e-3])
def test_catoni_lambdified_matches_numeric(
    e: float, k: float, size: int, conf: float, grid: list[float]
) -> None:
    """Catoni's bound (CLAIMS.md section 5): the minimum over the grid of the symbolic single-C
    bound with the union-bound penalty ln(|grid|/delta), at 50 digits, equals catoni_bound."""
    got = catoni_bound(e, k, size, conf, lambdas=grid)
    with mp.workdps(DPS):
        exact = min(_mp(_mp_catoni(), e, k, size, conf, cv, len(grid)) for cv in grid)
        assert abs(mp.mpf(got) - exact) <= RTOL * exact


@pytest.mark.claim("P1")
@given(shape=layer_shapes())
def test_param_counts_lambdified_equal_numeric(shape: tuple[int, int, int]) -> None:
    """Claim P1: the lambdified counts 2mn, 2r(m+n), mn, r(m+n) equal param_counts exactly."""
    twin = param_counts_function()(*shape)
    got = param_counts(*shape)
    assert twin.keys() == got.keys()
    for key, value in got.items():
        assert int(twin[key]) == value, key


@pytest.mark.claim("T3.8")
@given(shape=layer_shapes(max_dim=4096))
def test_complexity_ratio_lambdified_matches_numeric(shape: tuple[int, int, int]) -> None:
    """Claim T3.8: the ratio derived from the two bounds equals complexity_ratio numerically."""
    m_, n_, r_ = shape
    twin = float(complexity_ratio_function()(n_, m_, r_))
    assert abs(twin - complexity_ratio(m_, n_, r_)) <= RTOL * twin


@pytest.mark.claim("T3.8")
@given(
    shape=layer_shapes(max_dim=2048),
    e=probabilities(),
    c_full=kl_ceilings(),
    c_lr=kl_ceilings(),
    size=sample_sizes(),
    conf=confidences(),
)
def test_t38_bounds_lambdified_match_mcallester(
    shape: tuple[int, int, int], e: float, c_full: float, c_lr: float, size: int, conf: float
) -> None:
    """Claim T3.8: both symbolic bounds are mcallester_bound with KL = C_max times D."""
    do, di, rk = shape
    full, low = t38_bounds_function()(e, c_full, c_lr, di, do, rk, size, conf)
    want_full = mcallester_bound(e, c_full * di * do, size, conf)
    want_low = mcallester_bound(e, c_lr * rk * (di + do), size, conf)
    assert abs(full - want_full) <= RTOL * want_full
    assert abs(low - want_low) <= RTOL * want_low


# --- (d) claims T3.8 and T3.8c --------------------------------------------------------------


@pytest.mark.claim("T3.8")
def test_t38_ratio_simplifies_to_the_printed_form() -> None:
    """Claim T3.8: (B_LR - emp)/(B_full - emp), equal C_max, no log term, is
    sqrt(r (1/d_in + 1/d_out)) = sqrt(r (m + n)/(m n)) exactly."""
    assert complexity_ratio_residual() == 0
    api_form = sp.sqrt(r * (m + n) / (m * n)).subs({m: d_out, n: d_in})
    assert sp.simplify(complexity_ratio_expr() - api_form) == 0
    assert sp.simplify(complexity_ratio_expr() ** 2 - complexity_ratio_target() ** 2) == 0


@pytest.mark.claim("T3.8")
def test_t38_ratio_is_increasing_in_rank() -> None:
    """Claim T3.8: d/dr of the ratio is positive for all positive d_in, d_out, r."""
    derivative = complexity_ratio_derivative()
    assert derivative.is_positive is True
    assert sp.simplify(derivative - sp.diff(complexity_ratio_target(), r)) == 0


@pytest.mark.claim("T3.8c")
def test_t38c_sign_of_bound_gap_is_sign_of_condition() -> None:
    """Claim T3.8c: (B_full - B_LR)(sqrt a + sqrt b) = margin / 2N, sqrt a + sqrt b > 0."""
    proof = t38c_sign_proof()
    assert proof.residual == 0
    assert proof.factor_positive is True
    assert log_term_is_positive() is True
    assert proof.holds
    assert t38c_condition_expr() == C_full * d_in * d_out - C_LR * r * (d_in + d_out)


@pytest.mark.claim("T3.8c")
@given(
    shape=layer_shapes(max_dim=1024),
    e=probabilities(),
    c_full=kl_ceilings(),
    c_lr=kl_ceilings(),
    size=sample_sizes(),
    conf=confidences(),
)
@example(shape=(2, 2, 1), e=0.5, c_full=1.0, c_lr=1.0, size=100, conf=0.05)
def test_t38c_low_rank_tighter_iff_condition(
    shape: tuple[int, int, int], e: float, c_full: float, c_lr: float, size: int, conf: float
) -> None:
    """Claim T3.8c: B_LR < B_full exactly when C_LR r (d_in + d_out) < C_full d_in d_out.

    The margin's sign is exact (Fraction); the bounds are compared in float64 and, where they
    are too close for float64 to order, at 50 digits.
    """
    do, di, rk = shape
    margin = Fraction(c_full) * (di * do) - Fraction(c_lr) * (rk * (di + do))
    full, low = t38_bounds_function()(e, c_full, c_lr, di, do, rk, size, conf)
    if (low < full) != (margin > 0):
        with mp.workdps(DPS):
            full_mp, low_mp = _mp(_mp_t38_bounds(), e, c_full, c_lr, di, do, rk, size, conf)
            assert (low_mp < full_mp) == (margin > 0)

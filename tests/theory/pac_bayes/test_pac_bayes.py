"""PAC-Bayes bounds and parameter counts: twins, properties and bad input (claims D2, P1, T3.8)."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import integrate, stats

from theory import pac_bayes as pb
from theory.pac_bayes.kl_inverse import SAFETY_MARGIN
from verification.testing.strategies import (
    confidences,
    gaussian_params,
    kl_values,
    layer_shapes,
    probabilities,
    sample_sizes,
)

#: Rounding slack for "a <= b" between two bounds computed by different float64 formulas.
ROUND = 1e-12


def _mcallester_mp(e: float, kl: float, n: int, delta: float) -> float:
    """A direct high-precision transcription of claim D2 (the twin)."""
    with mp.workdps(40):
        e_, k_, n_, d_ = mp.mpf(e), mp.mpf(kl), mp.mpf(n), mp.mpf(delta)
        return float(e_ + mp.sqrt((k_ + mp.log(2 * mp.sqrt(n_) / d_)) / (2 * n_)))


@pytest.mark.claim("D2")
@given(e=probabilities(), kl=kl_values(), n=sample_sizes(), delta=confidences())
def test_mcallester_bound_matches_high_precision_twin(e, kl, n, delta) -> None:
    """D2: the formula as printed, against an mpmath transcription."""
    assert math.isclose(
        pb.mcallester_bound(e, kl, n, delta),
        _mcallester_mp(e, kl, n, delta),
        rel_tol=1e-13,
        abs_tol=1e-300,
    )


@given(e=probabilities(), kl=kl_values(), n=sample_sizes(), delta=confidences())
@example(e=0.0, kl=0.0, n=1, delta=0.5)
def test_kl_bound_below_mcallester(e, kl, n, delta) -> None:
    """Pinsker: kl^-1(q, c) <= q + sqrt(c/2), so the kl bound never loses to McAllester."""
    assert pb.kl_bound(e, kl, n, delta) <= pb.mcallester_bound(e, kl, n, delta) + SAFETY_MARGIN


@given(
    e=probabilities(),
    kl=kl_values(),
    n=sample_sizes(),
    delta=confidences(),
    lam=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=8),
)
def test_catoni_bound_never_beats_kl_inverse_at_same_confidence(e, kl, n, delta, lam) -> None:
    """Catoni's bound at C is the linearisation sup_C of the kl: it is never below
    kl^-1(emp, (KL + ln(|grid|/delta))/n) (the same confidence term)."""
    cat = pb.catoni_bound(e, kl, n, delta, lambdas=lam)
    kl_same = pb.kl_inv_upper(e, (kl + math.log(len(lam) / delta)) / n)
    assert cat >= kl_same - ROUND
    assert e - ROUND <= cat


def test_catoni_bound_single_lambda_matches_formula() -> None:
    e, kl, n, d, c = 0.1, 5.0, 500, 0.05, 1.3
    expected = (1 - math.exp(-c * e - (kl + math.log(1 / d)) / n)) / (1 - math.exp(-c))
    assert math.isclose(pb.catoni_bound(e, kl, n, d, lambdas=[c]), expected, rel_tol=1e-14)


@pytest.mark.parametrize("name", ["mcallester_bound", "kl_bound", "catoni_bound"])
@given(
    e=probabilities(),
    kl=kl_values(),
    n=sample_sizes(max_value=10**6),
    delta=confidences(),
    scale=st.floats(1.0, 100.0),
)
def test_bounds_monotone_in_n_kl_delta(name, e, kl, n, delta, scale) -> None:
    """Every bound grows with KL, shrinks with n and with delta."""
    fn = getattr(pb, name)
    kw = {"lambdas": [0.5, 1.0, 2.0]} if name == "catoni_bound" else {}
    base = fn(e, kl, n, delta, **kw)
    assert fn(e, kl * scale + 1.0, n, delta, **kw) >= base - ROUND
    assert fn(e, kl, int(n * scale) + 1, delta, **kw) <= base + ROUND
    assert fn(e, kl, n, delta / scale, **kw) >= base - ROUND


@given(e=probabilities(), ns=st.integers(1, 10**6), delta=confidences())
def test_sample_convergence_bound_is_kl_inverse_and_monotone(e, ns, delta) -> None:
    b = pb.sample_convergence_bound(e, ns, delta)
    assert b == pb.kl_inv_upper(e, math.log(2 / delta) / ns)
    assert pb.sample_convergence_bound(e, ns + 1000, delta) <= b + ROUND


@pytest.mark.claim("D3")
@given(
    p=st.lists(gaussian_params(), min_size=1, max_size=6),
    q=st.lists(gaussian_params(), min_size=1, max_size=6),
)
def test_gaussian_kl_nonnegative_zero_iff_equal(p, q) -> None:
    k = min(len(p), len(q))
    mq, sq = np.array(q[:k]).T
    mp_, sp = np.array(p[:k]).T
    value = pb.gaussian_kl(mq, sq, mp_, sp)
    assert value >= 0.0
    assert pb.gaussian_kl(mq, sq, mq, sq) == 0.0
    # Zero exactly when the Gaussians coincide, up to underflow: compare with the exact value.
    with mp.workdps(60):
        exact = (
            mp.fsum(
                (mp.mpf(a) / mp.mpf(b)) ** 2
                - 1
                - 2 * mp.log(mp.mpf(a) / mp.mpf(b))
                + ((mp.mpf(u) - mp.mpf(v)) / mp.mpf(b)) ** 2
                for a, b, u, v in zip(sq, sp, mq, mp_, strict=True)
            )
            / 2
        )
    if exact >= np.finfo(np.float64).tiny:
        assert value > 0.0
    if value == 0.0:
        assert exact < np.finfo(np.float64).smallest_subnormal


@pytest.mark.claim("D3")
@given(q=gaussian_params(max_mean=10.0), p=gaussian_params(max_mean=10.0))
def test_gaussian_kl_matches_quadrature(q, p) -> None:
    """Twin: integrate q(x) ln(q(x)/p(x)) numerically."""
    (mq, sq), (mp_, sp) = q, p
    if sq / sp > 30 or sp / sq > 30:  # keep the integrand resolvable by quad
        return
    dq, dp = stats.norm(mq, sq), stats.norm(mp_, sp)
    lo, hi = mq - 40 * sq, mq + 40 * sq
    val, err = integrate.quad(
        lambda x: dq.pdf(x) * (dq.logpdf(x) - dp.logpdf(x)),
        lo,
        hi,
        points=[mq],
        limit=200,
        epsabs=1e-13,
        epsrel=1e-11,
    )
    assert abs(pb.gaussian_kl(mq, sq, mp_, sp) - val) <= 1e-9 * max(1.0, abs(val)) + 10 * err


def test_gaussian_kl_sums_and_broadcasts() -> None:
    per = pb.gaussian_kl_elementwise([0.0, 1.0], [1.0, 2.0], 0.0, 1.0)
    assert per.shape == (2,)
    assert pb.gaussian_kl([0.0, 1.0], [1.0, 2.0], 0.0, 1.0) == pytest.approx(per.sum(), rel=1e-15)
    assert pb.gaussian_kl(np.zeros((3, 4)), 1.0, 1.0, 1.0) == pytest.approx(6.0, rel=1e-15)


@pytest.mark.claim("P1")
@given(shape=layer_shapes())
def test_param_counts_match_formula(shape) -> None:
    m, n, r = shape
    c = pb.param_counts(m, n, r)
    assert c == {
        "mean_field": 2 * m * n,
        "low_rank": 2 * r * (m + n),
        "d_full": m * n,
        "d_low_rank": r * (m + n),
    }
    assert all(type(v) is int for v in c.values())


@pytest.mark.claim("T3.8")
@given(shape=layer_shapes())
def test_complexity_ratio_is_ratio_of_dimensions(shape) -> None:
    m, n, r = shape
    c = pb.param_counts(m, n, r)
    assert math.isclose(
        pb.complexity_ratio(m, n, r) ** 2, c["d_low_rank"] / c["d_full"], rel_tol=1e-14
    )


def test_complexity_ratio_broadcasts_over_ranks() -> None:
    ratios = pb.complexity_ratio(64, 32, np.arange(1, 33))
    assert ratios.shape == (32,)
    assert np.all(np.diff(ratios) > 0)


@given(
    m=st.integers(1, 60),
    n=st.integers(1, 60),
    c=st.floats(0.0, 10.0),
    n_samples=st.integers(1, 10**6),
    delta=confidences(),
    e=probabilities(),
)
def test_critical_rank_matches_brute_force(m, n, c, n_samples, delta, e) -> None:
    expected = 0
    for r in range(1, min(m, n) + 1):
        if pb.mcallester_bound(e, c * r * (m + n), n_samples, delta) < 1.0:
            expected = r
    assert pb.critical_rank(m, n, c_max=c, n_samples=n_samples, delta=delta, emp_risk=e) == expected


@given(m=st.lists(st.integers(1, 300), min_size=1, max_size=5), data=st.data())
def test_crossover_rank_equalises_dimensions(m, data) -> None:
    n = data.draw(st.lists(st.integers(1, 300), min_size=len(m), max_size=len(m)))
    r = pb.crossover_rank(m, n)
    assert math.isclose(
        r * sum(a + b for a, b in zip(m, n, strict=True)),
        sum(a * b for a, b in zip(m, n, strict=True)),
        rel_tol=1e-13,
    )


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: pb.mcallester_bound(0.1, 1.0, 100, 1.5),
            ValueError,
            r"`delta` must be a float in \(0, 1\); got 1.5",
        ),
        (lambda: pb.mcallester_bound(0.1, 1.0, 100, 0.0), ValueError, r"`delta` .* got 0.0"),
        (lambda: pb.kl_bound(0.1, 1.0, 0, 0.05), ValueError, r"`n` must be an int >= 1; got 0"),
        (lambda: pb.kl_bound(0.1, 1.0, 10.5, 0.05), TypeError, r"`n` must be an int"),
        (lambda: pb.kl_bound(0.1, 1.0, True, 0.05), TypeError, r"`n` must be an int"),
        (lambda: pb.mcallester_bound(1.2, 1.0, 10, 0.05), ValueError, r"`emp_risk` .* got 1.2"),
        (lambda: pb.mcallester_bound(0.1, -1.0, 10, 0.05), ValueError, r"`kl` .* got -1.0"),
        (
            lambda: pb.mcallester_bound(0.1, float("nan"), 10, 0.05),
            ValueError,
            r"`kl` must not be NaN",
        ),
        (lambda: pb.catoni_bound(0.1, 1.0, 10, 0.05, lambdas=[]), ValueError, r"`lambdas`"),
        (
            lambda: pb.catoni_bound(0.1, 1.0, 10, 0.05, lambdas=[1.0, -2.0]),
            ValueError,
            r"`lambdas` .* got -2.0",
        ),
        (lambda: pb.sample_convergence_bound(0.1, 0, 0.05), ValueError, r"`n_samples`"),
        (
            lambda: pb.gaussian_kl(0.0, 0.0, 0.0, 1.0),
            ValueError,
            r"`sigma_q` must be a float in \(0, inf\); got 0.0",
        ),
        (lambda: pb.gaussian_kl(0.0, 1.0, float("inf"), 1.0), ValueError, r"`mu_p` must be finite"),
        (
            lambda: pb.param_counts(4, 3, 4),
            ValueError,
            r"`r` must be an int in \[1, min\(m, n\)\] = \[1, 3\]; got 4",
        ),
        (lambda: pb.param_counts(4, 3, 0), ValueError, r"`r` must be an int >= 1; got 0"),
        (lambda: pb.complexity_ratio(4, 3.0, 1), TypeError, r"`n` must be an int"),
        (
            lambda: pb.critical_rank([4, 5], [3], c_max=1.0, n_samples=10, delta=0.1),
            ValueError,
            r"same number of layers",
        ),
    ],
)
def test_pac_bayes_rejects_bad_input(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_bounds_return_float_for_scalars_and_arrays_otherwise() -> None:
    assert type(pb.mcallester_bound(0.1, 1.0, 100, 0.05)) is float
    out = pb.kl_bound(np.array([0.0, 0.1]), 1.0, 100, 0.05)
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    assert math.isinf(pb.mcallester_bound(0.1, math.inf, 100, 0.05))
    assert pb.kl_bound(0.1, math.inf, 100, 0.05) == 1.0

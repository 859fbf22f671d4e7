"""theory.singular_kl and theory.product_density (claim KLF): every formula against a twin."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from scipy import integrate, stats

from theory.pac_bayes import gaussian_kl
from theory.product_density import (
    centred_product_log_density,
    product_kl,
    product_kl_mc,
    product_log_density,
)
from theory.singular_kl import (
    clopper_pearson_lower,
    det_small_ball_bound,
    det_small_ball_mc,
    minor_vanishes,
    singular_kl_lower_bound,
    smoothed_det_over_eps,
    smoothed_kl_lower_bound,
)
from verification.testing import oracles
from verification.testing.strategies import product_factor_params

#: False-failure probability of each Monte Carlo assertion in this file.
ALPHA = 1e-6
#: scipy.integrate.quad twins are asked for relative accuracy 1e-11; comparisons allow 1e-9.
QUAD_RTOL = 1e-9
#: Relative agreement of two float64 evaluations of the same analytic quantity by different
#: formulas (series vs special functions, K0 vs trapezoid): a few hundred ulps.
FLOAT_RTOL = 1e-12
#: Quadrature error estimates must be this small on the strategy's parameter range.
QUAD_ERROR_MAX = 1e-4
#: Rounding floor of the quadrature KL, as in verification.claims.pac_bayes.klf.
DPI_ROUNDING = 1e-10


def _b1_mpmath(t: float, s: float) -> float:
    a = mpmath.mpf(2) * t / (s * s * mpmath.sqrt(2 * mpmath.pi))
    return float(
        mpmath.erf(a / mpmath.sqrt(2)) + a * mpmath.e1(a * a / 2) / mpmath.sqrt(2 * mpmath.pi)
    )


@pytest.mark.claim("KLF")
def test_minor_vanishes_for_rank_deficient_products() -> None:
    """KLF / L3.3: every (r+1)-minor of A B^T is the zero polynomial; a full-rank one is not."""
    assert minor_vanishes(1) is True
    assert minor_vanishes(2) is True
    a = sp.Matrix(2, 2, sp.symbols("a:4"))
    b = sp.Matrix(2, 2, sp.symbols("b:4"))
    assert sp.expand((a * b.T).det()) != 0


def test_det_small_ball_bound_rank1_matches_quadrature_twin() -> None:
    """b_1(t) = E[min(1, 2t / (|w11| s sqrt(2 pi)))] integrated directly over w11."""
    for s in (0.5, 1.0, 2.0):
        for t in (1e-6, 1e-3, 0.05, 0.5, 3.0):
            c = 2.0 * t / (s * math.sqrt(2.0 * math.pi))

            def integrand(w: float, c: float = c, s: float = s) -> float:
                return min(1.0, c / w) * 2.0 * stats.norm.pdf(w, scale=s)

            lo, _ = integrate.quad(integrand, 0.0, c, epsabs=0.0, epsrel=1e-11)
            hi, _ = integrate.quad(integrand, c, np.inf, epsabs=0.0, epsrel=1e-11, limit=200)
            assert det_small_ball_bound(t, std=s) == pytest.approx(lo + hi, rel=QUAD_RTOL)


def test_det_small_ball_bound_rank1_matches_mpmath_down_to_tiny_radii() -> None:
    """The closed form, including its series branch for tiny a, against mpmath."""
    mpmath.mp.dps = 40
    t = np.array([1e-300, 1e-100, 1e-20, 1e-9, 7e-9, 1e-8, 1e-4, 0.3, 10.0])
    ours = np.asarray(det_small_ball_bound(t, std=1.3))
    for ti, oi in zip(t, ours, strict=True):
        assert oi == pytest.approx(_b1_mpmath(ti, 1.3), rel=FLOAT_RTOL)


def test_det_small_ball_bound_rank2_matches_double_integral() -> None:
    """b_2(t) = E[min(1, a / (chi_1 chi_2))] by scipy.dblquad over both chi densities, split
    where the minimum changes branch (u = a / v)."""
    s, t = 0.8, 1.0
    a = 2.0 * t / (s**3 * math.sqrt(2.0 * math.pi))

    def dens(u: float, v: float) -> float:
        return 2.0 * stats.norm.pdf(u) * v * math.exp(-0.5 * v * v)

    below, _ = integrate.dblquad(
        dens, 0.0, np.inf, 0.0, lambda v: a / v, epsabs=1e-13, epsrel=1e-11
    )
    above, _ = integrate.dblquad(
        lambda u, v: a / (u * v) * dens(u, v),
        0.0,
        np.inf,
        lambda v: a / v,
        np.inf,
        epsabs=1e-13,
        epsrel=1e-11,
    )
    assert det_small_ball_bound(t, std=s, rank=2) == pytest.approx(below + above, rel=QUAD_RTOL)


def test_det_small_ball_bound_rank2_matches_mpmath_outer_integral() -> None:
    """The chi_2 average of b_1 at 20 digits (mpmath quad) for radii down to 1e-100."""
    mpmath.mp.dps = 20
    for t in (1e-100, 1e-8, 1e-3, 0.1):
        a = mpmath.mpf(2) * t / mpmath.sqrt(2 * mpmath.pi)

        def f(v: mpmath.mpf, a: mpmath.mpf = a) -> mpmath.mpf:
            x = a / v
            b1 = mpmath.erf(x / mpmath.sqrt(2)) + x * mpmath.e1(x * x / 2) / mpmath.sqrt(
                2 * mpmath.pi
            )
            return v * mpmath.exp(-v * v / 2) * b1

        ref = float(mpmath.quad(f, [0, a, 1, mpmath.inf]))
        assert det_small_ball_bound(t, rank=2) == pytest.approx(ref, rel=QUAD_RTOL)


@pytest.mark.claim("KLF")
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("std", [0.6, 1.4])
def test_det_small_ball_bound_dominates_monte_carlo(
    rank: int, std: float, rng: np.random.Generator
) -> None:
    """KLF: P(|det M| <= t) <= b_r(t); exact one-sided binomial test at level ALPHA / 4."""
    t = np.array([0.01, 0.1, 0.5, 2.0]) * std ** (rank + 1)
    n = 40_000
    counts = det_small_ball_mc(t, std=std, rank=rank, n_samples=n, rng=rng)
    bounds = np.asarray(det_small_ball_bound(t, std=std, rank=rank))
    p_values = stats.binom.sf(counts - 1, n, bounds)
    assert (p_values >= ALPHA / t.size).all(), (counts / n, bounds)


@pytest.mark.claim("KLF")
def test_singular_kl_lower_bound_grows_without_bound() -> None:
    """KLF: ln(1/b(t)) is decreasing in t and exceeds any level as t -> 0."""
    t = np.geomspace(1e-300, 1.0, 60)
    for rank in (1, 2):
        lb = np.asarray(singular_kl_lower_bound(t, rank=rank))
        assert (np.diff(lb) < 0.0).all()
        assert lb[0] > 600.0
        np.testing.assert_array_equal(lb, -np.log(np.asarray(det_small_ball_bound(t, rank=rank))))


def test_smoothed_det_over_eps_is_the_exact_expansion() -> None:
    """Symbolic identity det(a b^T + eps Z) = eps * lin + eps^2 det Z."""
    a1, a2, b1, b2, e = sp.symbols("a1 a2 b1 b2 eps")
    z = sp.Matrix(2, 2, sp.symbols("z11 z12 z21 z22"))
    w = sp.Matrix([a1, a2]) * sp.Matrix([[b1, b2]]) + e * z
    lin = a1 * b1 * z[1, 1] + a2 * b2 * z[0, 0] - a1 * b2 * z[1, 0] - a2 * b1 * z[0, 1]
    assert sp.expand(w.det() - e * lin - e**2 * z.det()) == 0


def test_smoothed_det_over_eps_matches_numpy_determinant() -> None:
    """Same random draws, numpy's determinant divided by eps (moderate eps, no cancellation)."""
    mu_a, mu_b = np.array([1.0, 0.5]), np.array([0.8, -0.6])
    sig = np.array([0.3, 0.3])
    n = 1000
    for eps in (0.5, 1e-2):
        ours = smoothed_det_over_eps(
            mu_a, sig, mu_b, sig, eps, n_samples=n, rng=np.random.default_rng(7)
        )
        g = np.random.default_rng(7)
        a = mu_a + sig * g.standard_normal((n, 2))
        b = mu_b + sig * g.standard_normal((n, 2))
        z = g.standard_normal((n, 2, 2))
        w = a[:, :, None] * b[:, None, :] + eps * z
        direct = np.linalg.det(w) / eps
        # np.linalg.det loses eps_machine * |W|^2 to cancellation of the rank-one part.
        tol = 64 * np.finfo(np.float64).eps * np.sum(w * w, axis=(1, 2)) / eps
        assert (np.abs(ours - direct) <= tol).all()


def test_smoothed_det_over_eps_limit_law(rng: np.random.Generator) -> None:
    """As eps -> 0, det/eps given (a, b) is N(0, |a|^2 |b|^2): P(|D| <= k) against the
    Rao-Blackwellised twin E[2 Phi(k / (|a| |b|)) - 1], two-sided z-test at level ALPHA."""
    mu_a, mu_b, sig = np.array([1.0, 0.5]), np.array([0.8, -0.6]), np.array([0.3, 0.3])
    n, k = 100_000, 1.0
    d = smoothed_det_over_eps(mu_a, sig, mu_b, sig, 1e-14, n_samples=n, rng=rng)
    hits = np.abs(d) <= k
    a = mu_a + sig * rng.standard_normal((n, 2))
    b = mu_b + sig * rng.standard_normal((n, 2))
    rb = 2.0 * stats.norm.cdf(k / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))) - 1.0
    se = math.sqrt(hits.var() / n + rb.var() / n)
    assert abs(hits.mean() - rb.mean()) <= stats.norm.isf(ALPHA / 2) * se


def test_clopper_pearson_lower_solves_its_defining_equation() -> None:
    """P(Bin(n, p_lo) >= k) = 1 - confidence; the edges k = 0 and k = n in closed form."""
    for k, n, c in [(1, 10, 0.9), (90, 100, 0.95), (4999, 5000, 0.999)]:
        p = clopper_pearson_lower(k, n, c)
        assert stats.binom.sf(k - 1, n, p) == pytest.approx(1.0 - c, rel=1e-8)
    assert clopper_pearson_lower(0, 10, 0.95) == 0.0
    assert clopper_pearson_lower(20, 20, 0.95) == pytest.approx(0.05 ** (1 / 20), rel=1e-12)


def test_smoothed_kl_lower_bound_is_the_binary_kl() -> None:
    """kl(q_lo || b) when q_lo > b (against the 50-digit mpmath oracle, an independent twin of
    the binary kl it now calls), 0 otherwise, -ln b at q = 1."""
    for q, b in [(0.99, 1e-3), (0.5, 0.2), (0.9, 0.89)]:
        assert smoothed_kl_lower_bound(q, b) == pytest.approx(
            float(oracles.kl(q, b)), rel=FLOAT_RTOL
        )
    assert smoothed_kl_lower_bound(0.2, 0.3) == 0.0
    assert smoothed_kl_lower_bound(1.0, 1e-5) == pytest.approx(-math.log(1e-5), rel=FLOAT_RTOL)


def test_product_log_density_matches_bessel_closed_form() -> None:
    """Centred factors: the trapezoid density against K0(|w| / (s_a s_b)) / (pi s_a s_b)."""
    w = np.array([-30.0, -2.0, -1e-12, 1e-300, 1e-8, 0.3, 1.0, 5.0, 40.0])
    ours = np.asarray(product_log_density(w, 0.0, 0.7, 0.0, 1.3))
    ref = np.asarray(centred_product_log_density(w, 0.7, 1.3))
    np.testing.assert_allclose(ours, ref, rtol=FLOAT_RTOL)


@pytest.mark.parametrize("params", [(1.0, 0.5, 1.5, 0.7), (-2.0, 0.3, 0.4, 1.2)])
def test_product_log_density_integrates_to_one(params: tuple[float, ...]) -> None:
    """Adaptive quad over ln|w| (a different rule from the module's trapezoid) gives mass 1."""
    total = 0.0
    for sign in (1.0, -1.0):

        def f(v: float, sign: float = sign) -> float:
            return math.exp(float(product_log_density(sign * math.exp(v), *params)) + v)

        value, _ = integrate.quad(f, -60.0, 6.0, limit=400, epsabs=1e-13, epsrel=1e-11)
        total += value
    assert total == pytest.approx(1.0, abs=1e-9)


def test_product_log_density_matches_monte_carlo_mass(rng: np.random.Generator) -> None:
    """P(W in [w1, w2]) by quad of the density against a Monte Carlo frequency (z-test)."""
    params = (1.0, 0.5, -0.8, 0.6)
    n = 200_000
    w = (params[0] + params[1] * rng.standard_normal(n)) * (
        params[2] + params[3] * rng.standard_normal(n)
    )
    for lo, hi in [(-0.5, -0.1), (-0.05, 0.05), (-2.0, -1.0)]:
        mass, _ = integrate.quad(
            lambda x: math.exp(float(product_log_density(x, *params))),
            lo,
            hi,
            points=[0.0] if lo < 0 < hi else None,
            limit=200,
        )
        freq = np.mean((w >= lo) & (w <= hi))
        se = math.sqrt(mass * (1 - mass) / n)
        assert abs(freq - mass) <= stats.norm.isf(ALPHA / 6) * se


def test_product_kl_centred_matches_bessel_quadrature() -> None:
    """Both laws centred: KL between two K0 densities by adaptive quad (independent twin)."""
    sa, sb, s = 0.6, 1.1, 0.9
    total = 0.0
    for lo, hi in [(-60.0, 0.0), (0.0, 6.0)]:

        def f(v: float) -> float:
            w = math.exp(v)
            lq = float(centred_product_log_density(w, sa, sb))
            lp = float(centred_product_log_density(w, s, s))
            return 2.0 * math.exp(lq + v) * (lq - lp)

        value, _ = integrate.quad(f, lo, hi, limit=400, epsabs=1e-14, epsrel=1e-11)
        total += value
    value, err = product_kl(0.0, sa, 0.0, sb, prior_std=s)
    assert value == pytest.approx(total, rel=1e-9)
    assert err < 1e-9


@pytest.mark.parametrize("params", [(1.0, 0.5, 1.5, 0.7, 1.0), (-1.5, 0.8, 0.5, 0.4, 0.7)])
def test_product_kl_matches_monte_carlo(
    params: tuple[float, ...], rng: np.random.Generator
) -> None:
    """The quadrature KL against the Monte Carlo average of the log-density ratio (z-test)."""
    value, _ = product_kl(*params[:4], prior_std=params[4])
    est, se = product_kl_mc(*params[:4], prior_std=params[4], n_samples=20_000, rng=rng)
    assert abs(est - value) <= stats.norm.isf(ALPHA / 2) * se


@pytest.mark.claim("KLF")
@given(product_factor_params())
@example((0.0, 1.0, 0.0, 1.0, 1.0))
@example((2.0, 0.3, 2.0, 0.3, 0.5))
def test_product_kl_obeys_data_processing(params: tuple[float, float, float, float, float]) -> None:
    """KLF: KL(q_W || T#P) <= KL(Q || P) for W = a b, up to the quadrature error and rounding."""
    ma, sa, mb, sb, s = params
    lhs, err = product_kl(ma, sa, mb, sb, prior_std=s)
    rhs = gaussian_kl(np.array([ma, mb]), np.array([sa, sb]), 0.0, s)
    assert err < QUAD_ERROR_MAX
    assert lhs >= -DPI_ROUNDING
    assert lhs <= rhs + err + DPI_ROUNDING


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: det_small_ball_bound(0.0), "`t` must be a float in"),
        (lambda: det_small_ball_bound(0.1, std=-1.0), "`std` must be a float in"),
        (lambda: det_small_ball_bound(0.1, rank=3), "`rank` must be an int in"),
        (lambda: det_small_ball_bound(float("nan")), "`t` must not be NaN"),
        (lambda: product_log_density(0.0, 0.0, 1.0, 0.0, 1.0), "`w` must be non-zero"),
        (lambda: product_log_density(1.0, 0.0, 0.0, 0.0, 1.0), "`sigma_a` must be a float in"),
        (lambda: product_kl(0.0, 1.0, 0.0, 1.0, prior_std=0.0), "`prior_std` must be"),
        (lambda: product_kl([0.0, 1.0], 1.0, 0.0, 1.0, prior_std=1.0), "`mu_a` must be a scalar"),
        (lambda: clopper_pearson_lower(5, 4, 0.9), "`successes` must be an int in"),
        (lambda: clopper_pearson_lower(1, 4, 1.0), "`confidence` must be a float in"),
        (lambda: smoothed_kl_lower_bound(0.5, 0.0), "`b_upper` must be a float in"),
        (lambda: minor_vanishes(0), "`rank` must be an int in"),
        (
            lambda: smoothed_det_over_eps(
                np.zeros(3),
                np.ones(3),
                np.zeros(2),
                np.ones(2),
                0.1,
                n_samples=4,
                rng=np.random.default_rng(0),
            ),
            "`mu_a` must have shape",
        ),
        (
            lambda: smoothed_det_over_eps(
                np.zeros(2),
                np.ones(2),
                np.zeros(2),
                np.ones(2),
                0.0,
                n_samples=4,
                rng=np.random.default_rng(0),
            ),
            "`eps` must be a float in",
        ),
    ],
)
def test_singular_kl_rejects_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]

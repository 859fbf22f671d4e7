"""Factor-space KL against the isotropic and the scale-mixture prior (claims D3, KLF)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from theory.pac_bayes import gaussian_kl
from theory.pac_bayes.factor_kl import (
    gaussian_entropy,
    lowrank_factor_kl,
    scale_mixture_kl_mc,
    scale_mixture_kl_upper,
    scale_mixture_logpdf,
)

#: The paper's prior (s2 read as a standard deviation).
PAPER_PRIOR = {"pi": 0.5, "std1": 1.0, "std2": math.exp(-6.0)}
#: False-failure probability of each Monte Carlo z-test below.
ALPHA = 1e-6
Z = stats.norm.isf(ALPHA / 2)


def _kl_mixture_quad(mu: float, sigma: float, pi: float, std1: float, std2: float) -> float:
    """Twin: the 1-D integral of q ln(q/p) by adaptive quadrature, with breakpoints at the
    scales where the mixture's log density bends (around 0 at width std2)."""
    q = stats.norm(mu, sigma)

    def f(x: float) -> float:
        return q.pdf(x) * (
            q.logpdf(x) - float(scale_mixture_logpdf(x, pi=pi, std1=std1, std2=std2))
        )

    lo, hi = mu - 12 * sigma, mu + 12 * sigma
    pts = sorted({p for p in (0.0, -std2, std2, mu) if lo < p < hi})
    val, _ = integrate.quad(f, lo, hi, points=pts, limit=500, epsabs=1e-12, epsrel=1e-10)
    return float(val)


def test_lowrank_factor_kl_is_sum_over_factors(rng: np.random.Generator) -> None:
    m, n, r = 7, 5, 3
    ma, mb = rng.normal(size=(m, r)), rng.normal(size=(n, r))
    sa, sb = rng.uniform(0.1, 1, size=(m, r)), rng.uniform(0.1, 1, size=(n, r))
    total = lowrank_factor_kl(ma, sa, mb, sb, prior_std=0.7)
    direct = sum(gaussian_kl(ma[i, k], sa[i, k], 0.0, 0.7) for i in range(m) for k in range(r))
    direct += sum(gaussian_kl(mb[j, k], sb[j, k], 0.0, 0.7) for j in range(n) for k in range(r))
    assert total == pytest.approx(direct, rel=1e-13)
    centred = lowrank_factor_kl(ma, sa, mb, sb, prior_std=0.7, prior_mean_a=ma, prior_mean_b=mb)
    assert centred < total


def test_lowrank_factor_kl_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="same rank"):
        lowrank_factor_kl(
            np.zeros((3, 2)), np.ones((3, 2)), np.zeros((4, 1)), np.ones((4, 1)), prior_std=1.0
        )
    with pytest.raises(ValueError, match="`mu_a` and `sigma_a` must have the same shape"):
        lowrank_factor_kl(
            np.zeros((3, 2)), np.ones((3, 1)), np.zeros((4, 2)), np.ones((4, 2)), prior_std=1.0
        )
    with pytest.raises(ValueError, match=r"`prior_std` must be a float in \(0, inf\); got -1.0"):
        lowrank_factor_kl(
            np.zeros((1, 1)), np.ones((1, 1)), np.zeros((1, 1)), np.ones((1, 1)), prior_std=-1.0
        )


def test_scale_mixture_logpdf_integrates_to_one() -> None:
    val, _ = integrate.quad(
        lambda x: math.exp(float(scale_mixture_logpdf(x, **PAPER_PRIOR))),
        -20,
        20,
        points=[0.0],
        limit=400,
    )
    assert val == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (0.3, 0.05), (0.0, 1e-3), (-1.5, 0.2)])
def test_scale_mixture_mc_agrees_with_quadrature(mu, sigma, rng: np.random.Generator) -> None:
    """z-test at false-failure probability ALPHA (per case): |MC - quad| <= Z * SE."""
    est, se = scale_mixture_kl_mc([mu] * 3, [sigma] * 3, **PAPER_PRIOR, n_samples=20_000, rng=rng)
    truth = 3 * _kl_mixture_quad(mu, sigma, **PAPER_PRIOR)
    assert se > 0
    assert abs(est - truth) <= Z * se


@pytest.mark.parametrize(
    ("mu", "sigma"), [(0.0, 1.0), (0.3, 0.05), (0.0, 1e-3), (-1.5, 0.2), (0.0, 1e-4), (2.0, 3.0)]
)
def test_scale_mixture_upper_bound_holds(mu, sigma) -> None:
    truth = _kl_mixture_quad(mu, sigma, **PAPER_PRIOR)
    upper = scale_mixture_kl_upper([mu], [sigma], **PAPER_PRIOR)
    assert upper >= truth - 1e-9
    # and never more than ln(1/pi_k) above the better single-component KL
    assert (
        upper
        <= min(gaussian_kl(mu, sigma, 0, 1.0), gaussian_kl(mu, sigma, 0, math.exp(-6)))
        + math.log(2)
        + 1e-12
    )


def test_gaussian_entropy_matches_scipy() -> None:
    s = np.array([1e-3, 0.5, 2.0])
    assert np.allclose(gaussian_entropy(s), stats.norm(0, s).entropy(), rtol=1e-14)


def test_scale_mixture_rejects_bad_arguments(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"`pi` must be a float in \(0, 1\); got 1.0"):
        scale_mixture_kl_upper([0.0], [1.0], pi=1.0, std1=1.0, std2=0.1)
    with pytest.raises(ValueError, match=r"`n_samples` must be an int in \[2, inf\]; got 1"):
        scale_mixture_kl_mc([0.0], [1.0], **PAPER_PRIOR, n_samples=1, rng=rng)
    with pytest.raises(TypeError, match=r"`rng` must be a numpy\.random\.Generator"):
        scale_mixture_kl_mc([0.0], [1.0], **PAPER_PRIOR, n_samples=10, rng=0)  # type: ignore

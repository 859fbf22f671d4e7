"""Claim L3.5a (statistical twin): the moment test, its calibration and power, and the check."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

import theory.factor_posterior as factor_posterior
import theory.geometry as geometry
import verification.claims.geometry.statistical as gs
from verification.claims.geometry.statistical import (
    check_l35a_monte_carlo,
    correlation_z,
    delta_method_moments,
    moment_test,
    random_posterior,
)
from verification.registry import Verdict, claim_rng

#: False-failure probability of each statistical assertion in this file.
ALPHA = 1e-6
#: The quick budget proposed for the registry (the statistical twin of L3.5a).
QUICK = {"n_samples": 20_000}


def test_moment_test_matches_a_direct_computation(rng: np.random.Generator) -> None:
    """Twin: every z of moment_test rebuilt with explicit loops over entries and pairs."""
    x = rng.standard_normal((300, 2, 2)) + 1.0
    mean, cov = np.ones(4), np.eye(4) + 0.1
    test = moment_test(x, mean, cov, 0.01)
    flat = x.reshape(300, 4)
    for p in range(4):
        z = (flat[:, p].mean() - mean[p]) / np.sqrt(cov[p, p] / 300)
        assert test["z_mean"][p] == pytest.approx(z, rel=1e-12)
        for q in range(4):
            y = (flat[:, p] - mean[p]) * (flat[:, q] - mean[q])
            z = (y.mean() - cov[p, q]) / (y.std(ddof=1) / np.sqrt(300))
            assert test["z_cov"][p, q] == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert test["n_tests"] == 4 + 10
    assert test["z_crit"] == pytest.approx(stats.norm.isf(0.01 / 28), rel=1e-12)


def test_moment_test_chunks_give_the_same_answer(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = rng.standard_normal((1000, 3))
    whole = moment_test(x, np.zeros(3), np.eye(3), 0.01)
    monkeypatch.setattr(gs, "_CHUNK", 77)
    chunked = moment_test(x, np.zeros(3), np.eye(3), 0.01)
    np.testing.assert_allclose(chunked["z_cov"], whole["z_cov"], rtol=1e-10)


def test_moment_test_false_failure_rate_is_at_most_its_level(rng: np.random.Generator) -> None:
    """Calibration: 300 independent runs at level 0.3 on a true 2 x 2 rank-1 law reject at most
    about 30 percent of the time (exact binomial test at ALPHA), and not never (it can reject)."""
    post = random_posterior(2, 2, 1, rng)
    mean, cov = post.moments()
    runs, level = 300, 0.3
    rejections = 0
    for _ in range(runs):
        w = geometry.sample_weights(
            post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=2000, rng=rng
        )
        rejections += moment_test(w, mean, cov, level).rejected
    assert stats.binom.sf(rejections - 1, runs, level) >= ALPHA
    assert rejections > 0


def test_correlation_z_is_standard_normal_under_independence(rng: np.random.Generator) -> None:
    """Both forms: sample variance of 400 independent z's is compatible with 1 (chi-square
    test at ALPHA)."""
    for studentized in (False, True):
        z = np.concatenate(
            [
                correlation_z(
                    rng.standard_normal((500, 20)) ** 2,
                    rng.standard_normal((500, 20)),
                    studentized=studentized,
                )
                for _ in range(20)
            ]
        )
        chi2 = float(np.sum(z * z))
        assert stats.chi2.sf(chi2, z.size) >= ALPHA / 2
        assert stats.chi2.cdf(chi2, z.size) >= ALPHA / 2


def test_correlation_z_only_studentised_is_valid_for_dependent_uncorrelated_pairs(
    rng: np.random.Generator,
) -> None:
    """X ~ N(0, 1) and Y = X^2 - 1 are uncorrelated but dependent: sqrt(S) rho has variance
    E[X^2 Y^2] / Var Y = 10 / 2 = 5, the studentised form variance 1. This is why L3.5b
    studentises the shared-index null statistics."""
    x = rng.standard_normal((2000, 400))
    y = x * x - 1.0
    plain = correlation_z(x, y)
    student = correlation_z(x, y, studentized=True)
    assert stats.chi2.sf(float(np.sum(plain**2)) / 5.0, plain.size) >= ALPHA
    assert stats.chi2.cdf(float(np.sum(plain**2)) / 5.0, plain.size) >= ALPHA
    assert stats.chi2.sf(float(np.sum(student**2)), student.size) >= ALPHA
    assert stats.chi2.cdf(float(np.sum(student**2)), student.size) >= ALPHA


def test_delta_method_moments_differ_only_on_the_diagonal(rng: np.random.Generator) -> None:
    post = random_posterior(3, 2, 2, rng)
    mean, cov = post.moments()
    wrong_mean, wrong_cov = delta_method_moments(post)
    assert (wrong_mean == mean).all()
    off = ~np.eye(6, dtype=bool)
    assert (wrong_cov[off] == cov[off]).all()
    np.testing.assert_allclose(
        np.diag(cov) - np.diag(wrong_cov), ((post.sigma_a**2) @ (post.sigma_b**2).T).reshape(-1)
    )


@pytest.mark.claim("L3.5a")
def test_check_l35a_monte_carlo_quick_budget_verifies() -> None:
    """L3.5a: Monte Carlo mean and covariance agree with weight_moments; the delta method
    covariance (no sA^2 sB^2 term) is rejected on every shape."""
    outcome = check_l35a_monte_carlo(QUICK, claim_rng("L3.5a"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence and "\n" not in outcome.evidence
    rows = outcome.data["rows"]
    assert [r["shape"] for r in rows] == list(gs.L35A_SHAPES)
    assert all(not r["rejected"] and r["wrong_rejected"] for r in rows)


def _drop_cross_terms(*args: Any) -> Any:
    mean, cov = _REAL(*args)
    return mean, np.diag(np.diag(cov))


def _inflate_variance(*args: Any) -> Any:
    mean, cov = _REAL(*args)
    return mean, cov * (1.0 + 0.05 * np.eye(cov.shape[0]))


def _shift_mean(*args: Any) -> Any:
    mean, cov = _REAL(*args)
    return mean + 0.05 * np.sqrt(np.diag(cov)).reshape(mean.shape), cov


_REAL = geometry.weight_moments


@pytest.mark.claim("L3.5a")
@pytest.mark.parametrize(
    "wrong",
    [_drop_cross_terms, _inflate_variance, _shift_mean],
    ids=["no-cross-covariance", "variance-5-percent-high", "mean-off-by-0.05-sd"],
)
def test_check_l35a_monte_carlo_refutes_wrong_moments(
    monkeypatch: pytest.MonkeyPatch, wrong: Any
) -> None:
    """L3.5a check can fail: weight_moments with the cross covariances dropped, the variances
    5 percent high, or the mean off by 5 percent of a standard deviation."""
    monkeypatch.setattr(geometry, "weight_moments", wrong)
    monkeypatch.setattr(factor_posterior, "weight_moments", wrong)
    outcome = check_l35a_monte_carlo(
        {"n_samples": 40_000, "shapes": ((3, 2, 1), (4, 3, 2))}, np.random.default_rng(0)
    )
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("Monte Carlo moments reject weight_moments")


def test_check_l35a_monte_carlo_is_untestable_without_power(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the known-wrong covariance were not rejected, the verdict could not be 'verified'."""
    monkeypatch.setattr(gs, "delta_method_moments", lambda post: post.moments())
    outcome = check_l35a_monte_carlo({"n_samples": 2000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.UNTESTABLE


def test_check_l35a_monte_carlo_is_deterministic_and_checks_its_budget() -> None:
    budget = {"n_samples": 500, "shapes": ((2, 2, 1),)}
    first = check_l35a_monte_carlo(budget, np.random.default_rng(3))
    assert first.evidence == check_l35a_monte_carlo(budget, np.random.default_rng(3)).evidence
    with pytest.raises(ValueError, match=r"`budget\['n_samples'\]` must be an int in"):
        check_l35a_monte_carlo({"n_samples": 5}, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.claim("L3.5a")
def test_check_l35a_monte_carlo_thorough_budget_verifies() -> None:
    """L3.5a statistical twin at 400000 draws per shape."""
    outcome = check_l35a_monte_carlo({"n_samples": 400_000}, claim_rng("L3.5a"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence

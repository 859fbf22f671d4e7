"""Claim D2 on the near-worst-case fair-label design: its Gibbs path against enumeration, its
tightness, its power (a McAllester width 0.8x as wide is refuted) and its trial count."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

import verification.claims.pac_bayes.coverage as cov
from theory.pac_bayes import mcallester_bound
from theory.pac_bayes.kl_inverse import kl_bernoulli
from verification.claims.pac_bayes.coverage_worst_case import (
    FairLabels,
    check_d2_worst_case,
    critical_count,
    detectable_shrink,
    gibbs_path,
    shrink_ratios,
    trials_for_power,
)
from verification.claims.pac_bayes.threshold_problem import posterior_family
from verification.registry import Verdict

_EPS = float(np.finfo(np.float64).eps)


def _enumerated(points: np.ndarray, labels: np.ndarray, k: int, gammas: np.ndarray):
    """Twin: every labelling of k points as one hypothesis, its empirical risk counted on the
    sample, then the tilted family of the threshold check (direction 0 = Gibbs posteriors)."""
    hyps = np.array(list(itertools.product((0, 1), repeat=k)))
    emp = (hyps[:, points] != labels[None, :]).mean(axis=1)
    true = np.full(len(hyps), 0.5)
    _, emp_q, kl = posterior_family(true, emp[None, :], gammas, directions=(0.0,))
    return emp_q[0, len(hyps) :], kl[0, len(hyps) :]


@pytest.mark.claim("D2")
def test_gibbs_path_matches_enumeration_of_every_labelling(rng: np.random.Generator) -> None:
    """D2: the factorised Gibbs posterior's empirical risk and KL equal those of the explicit
    posterior over all 2^K labellings (K = 4), points seen several times included."""
    k, n = 4, 9
    gamma_over_n = np.geomspace(1e-2, 30.0, 25)
    for _ in range(5):
        points = rng.integers(0, k, size=n)
        labels = rng.integers(0, 2, size=n)
        grouped = np.zeros((k, 2), dtype=np.int64)
        np.add.at(grouped, (points, labels), 1)
        pairs, mult = np.unique(grouped, axis=0, return_counts=True)
        emp, kl = gibbs_path(np.column_stack([pairs, mult]), n, gamma_over_n)
        emp_twin, kl_twin = _enumerated(points, labels, k, gamma_over_n * n)
        np.testing.assert_allclose(emp, emp_twin, rtol=0, atol=64 * _EPS)
        np.testing.assert_allclose(kl, kl_twin, rtol=0, atol=1e-9)


def test_gibbs_path_kl_is_kl_bernoulli_to_one_half() -> None:
    grouped = np.array([[0, 1, 3], [2, 1, 1]])
    g = np.array([0.3, 2.0])
    _, kl = gibbs_path(grouped, 6, g)
    q1, q2 = 1 / (1 + np.exp(-g)), 1 / (1 + np.exp(g))
    expected = 3 * kl_bernoulli(q1, 0.5) + kl_bernoulli(q2, 0.5)
    np.testing.assert_allclose(kl, expected, rtol=1e-13)
    with pytest.raises(ValueError, match="summing to n = 7"):
        gibbs_path(grouped, 7, g)


def test_fair_labels_counts_sum_to_n(rng: np.random.Generator) -> None:
    for grouped in FairLabels(5).sample_counts(40, 3, rng):
        assert int((grouped[:, :2].sum(axis=1) * grouped[:, 2]).sum()) == 40
        assert int(grouped[:, 2].sum()) <= 5
    with pytest.raises(ValueError, match="`n_points`"):
        FairLabels(0)


@pytest.mark.claim("D2")
def test_shrink_ratio_decides_violation_of_a_shrunk_bound(rng: np.random.Generator) -> None:
    """D2: a width s times McAllester's is violated on a trial exactly when the ratio exceeds
    s; McAllester itself (s = 1) never is on these samples (the theorem)."""
    n, delta = 500, 0.05
    paths = [gibbs_path(g, n) for g in FairLabels(10**6).sample_counts(n, 20, rng)]
    emp, kl = np.stack([p[0] for p in paths]), np.stack([p[1] for p in paths])
    ratios = shrink_ratios(emp, kl, n, delta)
    assert np.all(ratios <= 1.0)
    width = mcallester_bound(emp, kl, n, delta) - emp
    for s in (0.5, 0.8, 0.9, 0.93, 0.95):
        violated = (0.5 > emp + s * width).any(axis=1)
        assert np.array_equal(violated, ratios > s)


def test_trials_for_power_is_the_smallest_count() -> None:
    """The returned T reaches the power and T - 1 does not (brute force over binomial tails)."""
    for delta, level, rate, beta in ((0.05, 1e-4, 0.5, 1e-3), (0.25, 1e-3, 0.6, 1e-2)):
        t = trials_for_power(delta, level, rate, beta)

        def power(t: int, delta: float = delta, level: float = level, rate: float = rate) -> float:
            k = next(k for k in range(t + 2) if stats.binom.sf(k - 1, t, delta) <= level)
            return float(stats.binom.sf(k - 1, t, rate)) if k <= t else 0.0

        assert power(t) >= 1 - beta > power(t - 1)


def test_detectable_shrink_is_the_critical_order_statistic() -> None:
    ratios = np.linspace(0.5, 0.99, 100)
    k = critical_count(100, 0.05, 1e-3)
    s = detectable_shrink(ratios, 0.05, 1e-3)
    assert s == np.sort(ratios)[::-1][k - 1]
    assert stats.binom.sf((ratios > s - 1e-12).sum() - 1, 100, 0.05) <= 1e-3
    assert stats.binom.sf((ratios > s).sum() - 1, 100, 0.05) > 1e-3
    assert detectable_shrink([0.9], 0.05, 1e-6) == 0.0


@pytest.mark.claim("D2")
def test_check_d2_worst_case_verifies_and_refutes_a_width_0_8x() -> None:
    """D2: McAllester, kl-inverse and Catoni cover; the width shrunk to 0.8x is refuted at every
    N, and any width below 0.95x at N = 5000 (the check's own power statement)."""
    out = check_d2_worst_case({"n_trials": 60}, np.random.default_rng(3))
    assert out.verdict is Verdict.VERIFIED
    assert all(p["shrunk_violations"] == 60 for p in out.data["power"])
    assert max(p["detectable_shrink"] for p in out.data["power"]) > 0.95
    assert "0.8x is violated 60/60" in out.evidence


@pytest.mark.claim("D2")
@pytest.mark.parametrize("shrink", [0.8, 0.95])
def test_check_d2_worst_case_refutes_a_shrunk_mcallester(
    monkeypatch: pytest.MonkeyPatch, shrink: float
) -> None:
    """D2: with McAllester's width shrunk (the mutant), the coverage test refutes it."""
    f = cov.BOUNDS["mcallester"]
    monkeypatch.setitem(
        cov.BOUNDS, "mcallester", lambda e, k, n, d: e + shrink * (f(e, k, n, d) - e)
    )
    out = check_d2_worst_case({"n_trials": 60}, np.random.default_rng(4))
    assert out.verdict is Verdict.REFUTED
    assert out.evidence.startswith("mcallester violated in 60/60 samples")


def test_check_d2_worst_case_without_power_is_untestable() -> None:
    """With every sample on one point, no Q can fit the noise: 0.8x is not refuted."""
    out = check_d2_worst_case(
        {"n_trials": 40, "n_points": 1, "sizes": (200,)}, np.random.default_rng(5)
    )
    assert out.verdict is Verdict.UNTESTABLE
    assert out.data["n_trials"] >= 40

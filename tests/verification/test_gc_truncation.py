"""Claim E29: union-bound accounting of delta_total, its power, and the convexity step."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import verification.claims.generalisation.truncation as tr
from verification.claims.generalisation.truncation import (
    check_e29,
    folded_normal_level,
    jensen_step,
    truncated_mean,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

#: False-failure probability of each statistical assertion in this file.
ALPHA = 1e-6


@pytest.mark.claim("E29")
def test_check_e29_quick_budget_verifies_with_power() -> None:
    """E29: P(E^c) <= delta_total in both settings, the wrong accounting is rejected, Jensen holds
    for the convex loss and fails for the 0-1 loss."""
    outcome = check_e29(claim_by_id("E29").budget(Profile.QUICK), claim_rng("E29"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    j = outcome.data["jensen"]
    assert j["zero_one_bnn"] == 1.0 and j["zero_one_e"] == 0.0


@pytest.mark.claim("E29")
def test_check_e29_refutes_levels_that_fail_too_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """E29: the check can fail: levels at the (1 - 3 delta) quantile break the accounting."""

    def loose(mean: float, std: float, delta: float) -> float:
        return folded_normal_level(mean, std, 3 * delta)

    monkeypatch.setattr(tr, "folded_normal_level", loose)
    assert check_e29({"n_samples": 3000}, np.random.default_rng(2)).verdict is Verdict.REFUTED


@pytest.mark.parametrize(("mu", "s", "d"), [(0.0, 1.0, 0.05), (1.0, 0.5, 0.02), (-2.0, 0.3, 0.1)])
def test_folded_normal_level_matches_monte_carlo(
    mu: float, s: float, d: float, rng: np.random.Generator
) -> None:
    c = folded_normal_level(mu, s, d)
    draws = np.abs(rng.normal(mu, s, size=200_000))
    rate = (draws > c).mean()
    z = stats.norm.isf(ALPHA / 2)
    assert abs(rate - d) <= z * np.sqrt(d * (1 - d) / draws.size)


@pytest.mark.parametrize(("mu", "s", "c"), [(1.0, 0.5, 1.5), (0.0, 1.0, 0.7), (-0.5, 0.4, 1.0)])
def test_truncated_mean_matches_rejection_sampling(
    mu: float, s: float, c: float, rng: np.random.Generator
) -> None:
    a = rng.normal(mu, s, size=400_000)
    kept = a[np.abs(a) <= c]
    z = stats.norm.isf(ALPHA / 2)
    assert abs(kept.mean() - truncated_mean(mu, s, c)) <= z * kept.std(ddof=1) / np.sqrt(kept.size)


def test_jensen_step_decomposes_the_predictive_mean_exactly(rng: np.random.Generator) -> None:
    """p f_E + (1-p) f_Ec = f_BNN, and f_E against a Monte Carlo of the truncated product."""
    scalars = ((1.0, 0.5), (0.8, 0.3))
    deltas = (0.05, 0.05)
    j = jensen_step(scalars, deltas, label=0.0)
    assert j["p"] * j["f_e"] + (1 - j["p"]) * j["f_ec"] == pytest.approx(j["f_bnn"], rel=1e-12)
    levels = [folded_normal_level(mu, s, d) for (mu, s), d in zip(scalars, deltas, strict=True)]
    a = rng.normal(1.0, 0.5, 400_000)
    b = rng.normal(0.8, 0.3, 400_000)
    keep = (np.abs(a) <= levels[0]) & (np.abs(b) <= levels[1])
    prod = (a * b)[keep]
    z = stats.norm.isf(ALPHA / 2)
    assert abs(prod.mean() - j["f_e"]) <= z * prod.std(ddof=1) / np.sqrt(prod.size)
    assert abs(keep.mean() - j["p"]) <= z * np.sqrt(j["p"] * (1 - j["p"]) / keep.size)

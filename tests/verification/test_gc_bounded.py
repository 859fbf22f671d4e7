"""Checks E4 (bounded factors, an assumption) and E5 (rank and spectral norm of A B^T): verdicts,
power, and the helpers (spectral clipping, exact Gaussian tail bounds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import verification.claims.complexity.bounded as gb
from verification.claims.complexity.bounded import (
    E4_ALPHA,
    check_e4,
    check_e5,
    clip_spectral,
    entry_tail_log_bound,
    entry_tail_probability,
)
from verification.registry import Verdict, claim_rng

QUICK = {
    "E4": {"n_cases": 4, "n_samples": 20000},
    "E5": {"n_cases": 30, "max_dim": 8, "n_samples": 200, "n_starts": 2},
}
#: False-failure probability of the Monte Carlo assertions of this file.
ALPHA = 1e-6


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_clip_spectral_is_the_frobenius_projection_onto_the_ball() -> None:
    """Norm <= C, identity inside the ball, and no point of the ball is nearer (random points,
    and the other natural map, scaling A by C / ||A||_2)."""
    g = _rng()
    a = g.standard_normal((50, 6, 3)) * 2.0
    c = 1.5
    p = clip_spectral(a, c)
    assert (np.linalg.norm(p, 2, axis=(1, 2)) <= c * (1 + 1e-14)).all()
    inside = a / np.linalg.norm(a, 2, axis=(1, 2))[:, None, None]
    np.testing.assert_allclose(clip_spectral(inside, c), inside, rtol=0, atol=1e-14)
    scaled = a * np.minimum(1.0, c / np.linalg.norm(a, 2, axis=(1, 2)))[:, None, None]
    dist = np.linalg.norm(a - p, axis=(1, 2))
    assert (dist <= np.linalg.norm(a - scaled, axis=(1, 2)) + 1e-12).all()
    ys = clip_spectral(g.standard_normal((200, 6, 3)) * 3.0, c)
    for ai, di in zip(a[:10], dist[:10], strict=True):
        assert (np.linalg.norm(ai - ys, axis=(1, 2)) >= di - 1e-12).all()


def test_entry_tail_probability_matches_simulation_and_bounds_the_spectral_tail() -> None:
    """P(max |A_ij| > C) exact against a two-sided binomial test, and below P(||A||_2 > C)."""
    g = _rng()
    mean, std, level = g.standard_normal((4, 2)), 0.7, 1.6
    p = entry_tail_probability(mean, std, level)
    a = mean + std * g.standard_normal((40000, 4, 2))
    hits = int(np.sum(np.abs(a).max(axis=(1, 2)) > level))
    assert stats.binomtest(hits, 40000, p).pvalue >= ALPHA
    spectral = int(np.sum(np.linalg.norm(a, 2, axis=(1, 2)) > level))
    assert spectral >= hits  # ||A||_2 >= max |A_ij| draw by draw


def test_entry_tail_log_bound_is_the_log_of_the_largest_entry_tail() -> None:
    mean = np.array([[0.5, -2.0]])
    direct = max(
        stats.norm.sf((3.0 - mu) / 0.8) + stats.norm.cdf((-3.0 - mu) / 0.8) for mu in mean[0]
    )
    assert entry_tail_log_bound(mean, 0.8, 3.0) == pytest.approx(np.log10(direct), rel=1e-12)
    far = entry_tail_log_bound(mean, 0.8, 1e4)
    assert np.isfinite(far) and far < -1e7  # positive, however far


@pytest.mark.claim("E4")
def test_check_e4_quick_budget_is_untestable_with_its_computable_facts() -> None:
    """E4: an assumption (untestable); the Gaussian tail is positive at every level tried and
    consistent with simulation; clipped factors satisfy it."""
    outcome = check_e4(QUICK["E4"], claim_rng("E4"))
    assert outcome.verdict is Verdict.UNTESTABLE, outcome.evidence
    assert "|" not in outcome.evidence and "assumption" in outcome.evidence
    data = outcome.data
    assert data["failures"] == []
    assert data["min_p_value"] >= E4_ALPHA / (4 * 4)
    assert np.isfinite(data["far_log10_bounds"]).all()
    assert data["clip_excess_slacks"] <= 1.0


@pytest.mark.claim("E4")
def test_check_e4_fails_when_clipping_entries_instead_of_singular_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E4: the check can fail: clipping entries to [-C, C] does not bound ||A||_2 by C."""
    monkeypatch.setattr(gb, "clip_spectral", lambda a, c: np.clip(a, -c, c))
    outcome = check_e4({"n_cases": 2, "n_samples": 2000}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    assert "clipped factor has norm" in outcome.evidence


@pytest.mark.claim("E4")
def test_check_e4_fails_on_a_lower_bound_that_is_too_high(monkeypatch: pytest.MonkeyPatch) -> None:
    """E4: a 'lower bound' above the true tail is contradicted by the simulation."""
    true = gb.entry_tail_probability
    monkeypatch.setattr(gb, "entry_tail_probability", lambda m, s, c: min(1.0, true(m, s, c) + 0.2))
    outcome = check_e4({"n_cases": 2, "n_samples": 5000}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    assert "exact lower bound" in outcome.evidence


@pytest.mark.claim("E5")
def test_check_e5_quick_budget_verifies_and_attains_the_bound() -> None:
    """E5: no violation; the aligned factors and the local search reach ||W||_2 = C^A C^B."""
    outcome = check_e5(QUICK["E5"], claim_rng("E5"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    ratios = outcome.data["max_ratio"]
    assert ratios["aligned"] == pytest.approx(1.0, abs=1e-12)
    assert outcome.data["min_aligned_ratio"] == pytest.approx(1.0, abs=1e-12)
    assert ratios["local"] == pytest.approx(1.0, abs=1e-6)
    assert ratios["clipped"] <= 1.0 + 1e-12


@pytest.mark.claim("E5")
def test_check_e5_refutes_a_bound_slightly_too_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """E5: the check can fail: C^A C^B times 0.999 is beaten by the aligned factors."""
    monkeypatch.setattr(gb, "e5_bound", lambda ca, cb: 0.999 * ca * cb)
    outcome = check_e5({"n_cases": 4, "max_dim": 4, "n_samples": 10, "n_starts": 0}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    ce = outcome.data["counterexample"]
    assert ce["norm"] > ce["bound"]
    a, b = np.array(ce["a"]), np.array(ce["b"])
    assert np.linalg.norm(a @ b.T, 2) > ce["bound"]


@pytest.mark.claim("E5")
def test_check_e5_refutes_unclipped_gaussian_factors(monkeypatch: pytest.MonkeyPatch) -> None:
    """E5 needs E4: without the projection, Gaussian factors exceed C^A C^B."""
    monkeypatch.setattr(gb, "clip_spectral", lambda a, c: a)
    outcome = check_e5({"n_cases": 4, "max_dim": 5, "n_samples": 50, "n_starts": 0}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["max_ratio"]["clipped"] > 1.0


def test_checks_reject_bad_budgets() -> None:
    with pytest.raises(ValueError, match=r"`budget\['n_samples'\]` must be an int in \[1, inf\]"):
        check_e4({"n_samples": 0}, _rng())
    with pytest.raises(TypeError, match=r"`budget\['max_dim'\]` must be an int; got 2.5"):
        check_e5({"max_dim": 2.5}, _rng())

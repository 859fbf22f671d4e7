"""Checks E8, E9, E10 (inclusion, convex hulls and closure with common draws): verdicts, power,
and the helpers they rest on (common draws, per-draw twin, rounding slack, LP over the hull)."""

from __future__ import annotations

import numpy as np
import pytest

import verification.claims.complexity.draws as gd
import verification.claims.complexity.hull as gh
from theory.gaussian_complexity import empirical_gaussian_complexity
from verification.claims.complexity.draws import (
    common_estimate,
    common_gamma,
    inner_product_slack,
    per_draw_sups,
    random_class,
)
from verification.claims.complexity.hull import (
    check_e8,
    check_e9,
    check_e10,
    convex_combinations,
    limit_sequence,
    simplex_lp_max,
)
from verification.registry import Verdict, claim_rng

#: Quick budgets (as registered; the registry test runs them too, these pin the evidence).
QUICK = {
    "E8": {"n_cases": 40, "n_draws": 2000},
    "E9": {"n_cases": 20, "n_draws": 2000, "n_new": 20, "n_lp_draws": 5},
    "E10": {"n_cases": 10, "n_draws": 2000, "lengths": [1, 8, 64, 512]},
}


def _rng() -> np.random.Generator:
    return np.random.default_rng(2026)


def test_common_draws_are_the_estimators_draws() -> None:
    """The per-draw twin on common_gamma reproduces the module's estimate to the slack."""
    g = _rng()
    outputs = random_class(7, 5, 3, g)
    gamma = common_gamma(99, 300, 5, 3)
    est, _ = common_estimate(outputs, 300, 99)
    assert (
        abs(per_draw_sups(outputs, gamma).mean() - est)
        <= inner_product_slack(outputs, gamma).mean()
    )
    # and the draws are not the same for another seed
    assert abs(common_estimate(outputs, 300, 98)[0] - est) > 1e-6


def test_inner_product_slack_bounds_a_reordered_summation() -> None:
    """Two summation orders of the same inner products differ by less than the slack."""
    g = _rng()
    outputs = g.standard_normal((4, 30, 3)) * 10.0 ** g.uniform(-3, 3, (4, 30, 3))
    gamma = common_gamma(1, 50, 30, 3)
    forward = per_draw_sups(outputs, gamma)
    backward = per_draw_sups(outputs[:, ::-1], gamma[:, ::-1])
    assert (np.abs(forward - backward) <= inner_product_slack(outputs, gamma)).all()


def test_convex_combinations_are_convex() -> None:
    g = _rng()
    outputs = g.standard_normal((5, 3, 2))
    combos = convex_combinations(outputs, 30, g)
    assert combos.shape == (30, 3, 2)
    np.testing.assert_allclose(combos[0], outputs.mean(axis=0), rtol=1e-14, atol=1e-15)
    # each is a convex combination: its inner product with any direction is <= the vertex max
    for direction in g.standard_normal((20, 3, 2)):
        inner = np.tensordot(outputs, direction, axes=2)
        assert (np.tensordot(combos, direction, axes=2) <= inner.max() + 1e-12).all()


def test_simplex_lp_max_is_the_vertex_maximum() -> None:
    g = _rng()
    outputs = g.standard_normal((6, 4, 2))
    gamma = g.standard_normal((4, 2))
    value, slack = simplex_lp_max(outputs, gamma)
    assert abs(value - np.tensordot(outputs, gamma, axes=2).max() / 4) <= slack


def test_limit_sequence_converges_like_one_over_n() -> None:
    f_star, d = np.ones((3, 2)), np.arange(6.0).reshape(3, 2)
    seq = limit_sequence(f_star, d, 5)
    assert seq.shape == (5, 3, 2)
    np.testing.assert_array_equal(seq[0], f_star + d)
    np.testing.assert_allclose(seq[4], f_star + d / 5, rtol=1e-15)


@pytest.mark.claim("E8")
def test_check_e8_quick_budget_verifies() -> None:
    """E8: monotone under inclusion, strictly on most cases (a subset misses maximisers)."""
    outcome = check_e8(QUICK["E8"], claim_rng("E8"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence and "\n" not in outcome.evidence
    assert outcome.data["violations"] == 0
    assert outcome.data["min_relative_margin"] >= 0.0
    assert outcome.data["strict"] >= QUICK["E8"]["n_cases"] // 2


@pytest.mark.claim("E8")
def test_check_e8_refutes_a_complexity_that_averages_over_the_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E8: the check can fail: E_gamma of the MEAN over functions (not the sup) of
    |<gamma, f>| is not monotone under inclusion (adding small functions lowers it)."""

    def averaged(outputs, *, n_draws, rng):
        n_f, m, k = outputs.shape
        gamma = rng.standard_normal((n_draws, m * k))
        vals = np.abs(gamma @ outputs.reshape(n_f, -1).T).mean(axis=1) / m
        return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(n_draws))

    monkeypatch.setattr(gd, "empirical_gaussian_complexity", averaged)
    outcome = check_e8({"n_cases": 10, "n_draws": 200}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    ce = outcome.data["counterexample"]
    assert ce["est_subset"] > ce["est_class"] + ce["slack"]


@pytest.mark.claim("E9")
def test_check_e9_quick_budget_verifies_with_a_powerful_control() -> None:
    """E9: convex combinations change nothing, exactly (0 slacks here); the LP over the hull
    equals the vertex max; a point outside the hull is seen."""
    outcome = check_e9(QUICK["E9"], claim_rng("E9"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    assert outcome.data["changes"] == 0 and outcome.data["max_change_slacks"] <= 1.0
    assert outcome.data["lp_draws"] == 5 * QUICK["E9"]["n_cases"]
    assert outcome.data["control_min_relative"] > 0.0


@pytest.mark.claim("E9")
def test_check_e9_refutes_affine_combinations(monkeypatch: pytest.MonkeyPatch) -> None:
    """E9: the check can fail: affine (weights sum to 1, some negative) combinations leave the
    hull and raise the estimate."""

    def affine(outputs, n_new, rng):
        w = rng.standard_normal((n_new, outputs.shape[0])) * 2.0
        w += (1.0 - w.sum(axis=1, keepdims=True)) / outputs.shape[0]
        return np.einsum("nf,fmk->nmk", w, outputs)

    monkeypatch.setattr(gh, "convex_combinations", affine)
    outcome = check_e9({"n_cases": 3, "n_draws": 200, "n_new": 10, "n_lp_draws": 0}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    ce = outcome.data["counterexample"]
    assert ce["est_hull"] > ce["est"] + ce["slack"]


@pytest.mark.claim("E9")
def test_check_e9_refutes_an_estimator_that_rewards_interior_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E9: a 'complexity' summing over the functions grows with every added combination."""

    def summed(outputs, *, n_draws, rng):
        gamma = rng.standard_normal((n_draws, outputs[0].size))
        vals = np.abs(gamma @ outputs.reshape(outputs.shape[0], -1).T).sum(axis=1)
        return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(n_draws))

    monkeypatch.setattr(gd, "empirical_gaussian_complexity", summed)
    outcome = check_e9({"n_cases": 2, "n_draws": 100, "n_new": 5, "n_lp_draws": 0}, _rng())
    assert outcome.verdict is Verdict.REFUTED


@pytest.mark.claim("E10")
def test_check_e10_quick_budget_verifies_and_the_gap_vanishes() -> None:
    """E10: the gap from adding the limit is within its 1/N bound and shrinks to ~0."""
    outcome = check_e10(QUICK["E10"], claim_rng("E10"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    data = outcome.data
    assert 0.0 < data["max_gap_over_bound"] <= 1.0
    assert data["mean_gap_last"] < data["mean_gap_first"] / 100


@pytest.mark.claim("E10")
def test_check_e10_refutes_a_sequence_that_does_not_converge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E10: the check can fail: if f* is not a limit of the sequence (f_i = f* + d for all i),
    adding f* keeps changing the estimate and the 1/N bound is violated."""

    def stuck(f_star, direction, n):
        return np.repeat((f_star + direction)[None], n, axis=0)

    monkeypatch.setattr(gh, "limit_sequence", stuck)
    outcome = check_e10({"n_cases": 3, "n_draws": 300, "lengths": [1, 64]}, _rng())
    assert outcome.verdict is Verdict.REFUTED
    ce = outcome.data["counterexample"]
    assert ce["N"] == 64 and ce["gap"] > ce["bound"]


def test_checks_reject_bad_budgets() -> None:
    with pytest.raises(ValueError, match=r"`budget\['n_draws'\]` must be an int in \[2, inf\]"):
        check_e8({"n_cases": 1, "n_draws": 1}, _rng())
    with pytest.raises(TypeError, match=r"`budget\['n_cases'\]` must be an int"):
        check_e9({"n_cases": 1.5}, _rng())
    with pytest.raises(ValueError, match=r"`budget\['lengths'\]` must be an int in \[1, inf\]"):
        check_e10({"lengths": [0]}, _rng())


def test_module_estimator_is_what_the_checks_call() -> None:
    """The checks compare the module's estimator, not a copy of it."""
    assert gd.empirical_gaussian_complexity is empirical_gaussian_complexity

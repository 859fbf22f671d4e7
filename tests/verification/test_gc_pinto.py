"""Claim E17: the restated Pinto bound against exact one-layer complexities; its power and twins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import verification.claims.complexity.pinto as gp
from theory.gaussian_complexity import linear_class_complexity, pinto_bound_as_restated
from theory.gaussian_complexity.corrected import (
    chi_mean,
    one_layer_complexity_bound,
    pinto_bound_corrected,
)
from verification.claims.complexity.pinto import analytic_kappa, check_e17, e17_sample
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

#: False-failure probability of each statistical assertion in this file.
ALPHA = 1e-6
_SMALL = {"cases": gp.E17_CASES[:3], "deep": (), "n_draws": 300, "n_c": 13}


@pytest.mark.claim("E17")
def test_check_e17_quick_budget_refutes_as_stated_for_every_c0() -> None:
    """E17: the restated bound fails at D = 1 for every C0 tried, our one-layer form never does,
    and the depth >= 2 lower estimates leave a finite required C0."""
    outcome = check_e17(claim_by_id("E17").budget(Profile.QUICK), claim_rng("E17"))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED, outcome.evidence
    assert "|" not in outcome.evidence and "\n" not in outcome.evidence
    rows = outcome.data["one_layer"]
    failed = {c0 for row in rows for _, c0 in row["violations"]}
    assert failed == set(gp.E17_C0S)
    assert not any(row["corrected_violated"] for row in rows)
    assert all(row["kappa_ok"] for row in rows)
    assert all(row["restated_exponent"] == pytest.approx(2.0, abs=1e-12) for row in rows)
    assert max(row["linearity_error"] for row in rows) <= gp._LINEARITY_RTOL
    for dd in outcome.data["deep"]:
        assert 0.0 < dd["c0_restated"] < np.inf and 0.0 < dd["c0_corrected"] < np.inf


@pytest.mark.claim("E17")
def test_check_e17_verifies_a_bound_that_is_true(monkeypatch: pytest.MonkeyPatch) -> None:
    """E17: with our (true) one-layer bound in place of the restated one, nothing is violated,
    so the refutation above is not an artefact of the test."""
    monkeypatch.setattr(gp, "pinto_bound_as_restated", pinto_bound_corrected)
    outcome = check_e17(_SMALL, np.random.default_rng(5))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence


@pytest.mark.claim("E17")
def test_check_e17_refutes_a_corrected_form_that_is_too_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E17: halving our bound (kappa ~ 0.8-0.95 > 1/2) must make the check reject it too."""

    def half(X: np.ndarray, **kw: object) -> float:
        return 0.5 * one_layer_complexity_bound(X, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(gp, "one_layer_complexity_bound", half)
    outcome = check_e17(_SMALL, np.random.default_rng(6))
    assert outcome.verdict is Verdict.REFUTED


def test_smallest_counterexample_threshold_matches_a_brute_force_scan() -> None:
    """m = d = k = r = 1: G = C sqrt(2/pi) in closed form; the largest violating C on a fine
    scan equals the analytic threshold sqrt(2/pi) / C0 to the grid spacing."""
    X = np.ones((1, 1))
    grid = np.geomspace(1e-4, 10.0, 4_001)
    step = grid[1] / grid[0]
    for c0 in (0.5, 1.0, 10.0, 100.0):
        exact = grid * chi_mean(1)
        bound = np.array(
            [
                pinto_bound_as_restated(X, spectral_bounds=[c], ranks=[1], widths=[1], c0=c0)
                for c in grid
            ]
        )
        last = grid[exact > bound].max()
        analytic = np.sqrt(2 / np.pi) / c0
        assert analytic / step <= last <= analytic


def test_monte_carlo_threshold_contains_the_analytic_one(rng: np.random.Generator) -> None:
    """d = 1, k = 4, rank 1: the Monte Carlo crossing g1 / (C0 b1) against E chi_4 / (2 C0)."""
    X = e17_sample(8, 1, "gaussian", rng)
    g1, se = linear_class_complexity(
        X, spectral_bound=1.0, rank=1, out_dim=4, n_draws=20_000, rng=rng
    )
    b1 = one_layer_complexity_bound(X, spectral_bound=1.0, rank=1, out_dim=4)
    z = stats.norm.isf(ALPHA / 2)
    kappa = analytic_kappa(X, 1, 4)
    assert kappa == pytest.approx(chi_mean(4) / 2, rel=1e-15)
    for c0 in (1.0, 30.0):
        assert abs(g1 / (c0 * b1) - kappa / c0) <= z * se / (c0 * b1)


@pytest.mark.parametrize(("m", "d", "k"), [(12, 5, 1), (3, 3, 1), (6, 1, 7)])
def test_analytic_kappa_matches_monte_carlo(
    m: int, d: int, k: int, rng: np.random.Generator
) -> None:
    X = e17_sample(m, d, "orthonormal" if d > 1 else "gaussian", rng)
    kappa = analytic_kappa(X, 1, k)
    assert kappa is not None
    g1, se = linear_class_complexity(
        X, spectral_bound=1.0, rank=1, out_dim=k, n_draws=20_000, rng=rng
    )
    b1 = one_layer_complexity_bound(X, spectral_bound=1.0, rank=1, out_dim=k)
    assert abs(g1 - kappa * b1) <= stats.norm.isf(ALPHA / 2) * se


def test_analytic_kappa_is_none_without_a_closed_form(rng: np.random.Generator) -> None:
    X = e17_sample(10, 3, "gaussian", rng)
    assert analytic_kappa(X, 1, 2) is None
    assert analytic_kappa(X, 2, 2) is None
    assert analytic_kappa(X, 1, 1) is None  # X^T X not proportional to I


def test_e17_sample_kinds_and_bad_kind(rng: np.random.Generator) -> None:
    q = e17_sample(9, 4, "orthonormal", rng)
    np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(4), rtol=0, atol=1e-13)
    assert e17_sample(1, 1, "unit", rng).tolist() == [[1.0]]
    with pytest.raises(ValueError, match="`kind` must be 'unit', 'orthonormal' or 'gaussian'"):
        e17_sample(3, 2, "uniform", rng)


def test_ky_fan_supremum_is_lipschitz_with_the_constant_of_the_radius(
    rng: np.random.Generator,
) -> None:
    """The concentration radius rests on |KF_r(G^T X) - KF_r(H^T X)| <= sqrt(r) ‖X‖_2 ‖G - H‖_F."""
    for m, d, k, r in [(6, 3, 4, 2), (10, 5, 5, 5), (4, 1, 3, 1)]:
        X = rng.standard_normal((m, d))
        lip = np.sqrt(r) * np.linalg.norm(X, 2)
        g = rng.standard_normal((500, m, k))
        h = g + rng.standard_normal((500, m, k)) * rng.uniform(1e-3, 2.0, size=(500, 1, 1))
        kf = [
            np.linalg.svd(np.einsum("smk,md->skd", a, X), compute_uv=False)[:, :r].sum(1)
            for a in (g, h)
        ]
        dist = np.linalg.norm(g - h, axis=(1, 2))
        assert (np.abs(kf[0] - kf[1]) <= lip * dist * (1 + 1e-12)).all()

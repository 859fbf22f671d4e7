"""Claims D3.1, L3.2, T3.4: the sampler of q_W, the rank of its draws, and its singularity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import verification.claims.geometry.numeric as gn
from theory.geometry import sample_mean_field, sample_weights
from verification.claims.geometry.numeric import (
    check_d31,
    check_l32,
    check_t34,
    rank_ratios,
    singular_law,
)
from verification.claims.geometry.statistical import random_posterior
from verification.claims.shared.tolerances import RANK_RTOL_FACTOR
from verification.registry import Profile, Verdict, claim_by_id, claim_rng
from verification.testing.strategies import factor_matrices, layer_shapes

_EPS = float(np.finfo(np.float64).eps)


def _quick(claim_id: str) -> Any:
    return claim_by_id(claim_id).budget(Profile.QUICK)


def _clean(evidence: str) -> bool:
    return "|" not in evidence and "\n" not in evidence


@pytest.mark.claim("D3.1")
def test_check_d31_quick_budget_verifies() -> None:
    """D3.1: the sampler draws A B^T of q(A, B), draw for draw and in law."""
    outcome = check_d31(_quick("D3.1"), claim_rng("D3.1"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert _clean(outcome.evidence)
    assert outcome.evidence.startswith("D3.1 is a definition")
    assert all(r["product_ok"] and r["product_err"] <= 1.0 for r in outcome.data["rows"])


@pytest.mark.claim("D3.1")
@pytest.mark.parametrize(
    "wrong",
    [
        # Same law, not the same draws: the draw-for-draw comparison must see it.
        lambda *a, n_samples, rng: sample_weights(
            *a, n_samples=n_samples, rng=np.random.default_rng(rng.integers(2**32) + 1)
        ),
        # Draw for draw up to a relative 1e-12: far above the rounding bound.
        lambda *a, n_samples, rng: sample_weights(*a, n_samples=n_samples, rng=rng) * (1.0 + 1e-12),
    ],
    ids=["other-draws", "perturbed"],
)
def test_check_d31_refutes_a_sampler_that_is_not_the_push_forward(
    monkeypatch: pytest.MonkeyPatch, wrong: Any
) -> None:
    """D3.1 check can fail: a sampler that is not A B^T of the same factor draws."""
    monkeypatch.setattr(gn, "sample_weights", wrong)
    outcome = check_d31({"n_shapes": 2, "n_samples": 500}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("The sampler is not the push-forward")


@pytest.mark.claim("D3.1")
def test_check_d31_refutes_factors_with_the_wrong_law(monkeypatch: pytest.MonkeyPatch) -> None:
    """D3.1 check can fail in law: factor stds 10 percent too large (and W built from them)."""
    real_factors = gn.sample_factors

    def wide(*args: Any, **kw: Any) -> Any:
        mu_a, sigma_a, mu_b, sigma_b = args
        return real_factors(mu_a, 1.1 * sigma_a, mu_b, 1.1 * sigma_b, **kw)

    def wide_w(*args: Any, **kw: Any) -> Any:
        a, b = wide(*args, **kw)
        return a @ np.swapaxes(b, 1, 2)

    monkeypatch.setattr(gn, "sample_factors", wide)
    monkeypatch.setattr(gn, "sample_weights", wide_w)
    outcome = check_d31({"n_shapes": 2, "n_samples": 20_000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert all(r["product_ok"] for r in outcome.data["rows"])
    assert any(r["factors_rejected"] for r in outcome.data["rows"])


def test_rank_ratios_match_explicit_singular_values(rng: np.random.Generator) -> None:
    w = rng.standard_normal((5, 4, 3))
    above, at = rank_ratios(w, 2)
    for x, a, t in zip(w, above, at, strict=True):
        s = np.linalg.svd(x, compute_uv=False)
        assert a == s[2] / s[0] and t == s[1] / s[0]
    full_above, _ = rank_ratios(w, 3)
    assert (full_above == 0.0).all()


@pytest.mark.claim("L3.2")
def test_check_l32_quick_budget_verifies() -> None:
    """L3.2: every draw has rank <= r (and exactly r), over random shapes and every rank."""
    budget = _quick("L3.2")
    outcome = check_l32(budget, claim_rng("L3.2"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert _clean(outcome.evidence)
    data = outcome.data
    assert data["n_draws"] == data["n_cases"] * budget.get("n_samples", 16)
    assert data["max_above_units"] <= RANK_RTOL_FACTOR
    # The threshold does not hide real rank: sigma_r stays far above it.
    assert data["min_at_ratio"] > 1e6 * RANK_RTOL_FACTOR * _EPS * 12


@pytest.mark.claim("L3.2")
def test_check_l32_refutes_a_full_rank_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    """L3.2 check can fail: A B^T plus noise of relative size 1e-9 has full rank."""

    def noisy(*args: Any, n_samples: int, rng: np.random.Generator) -> Any:
        w = sample_weights(*args, n_samples=n_samples, rng=rng)
        scale = np.abs(w).max(axis=(1, 2), keepdims=True)
        return w + 1e-9 * scale * rng.standard_normal(w.shape)

    monkeypatch.setattr(gn, "sample_weights", noisy)
    outcome = check_l32({"n_shapes": 3, "n_samples": 2}, np.random.default_rng(1))
    assert outcome.verdict is Verdict.REFUTED
    m, n, r = outcome.data["counterexample"]["shape"]
    assert r < min(m, n) and outcome.data["counterexample"]["rank"] > r


@pytest.mark.claim("L3.2")
@given(factor_matrices(max_dim=12))
@example((np.ones((2, 1)), np.array([[1e3], [-1e-3]])))
@example((np.zeros((3, 1)), np.zeros((3, 1))))
def test_product_has_rank_at_most_r_at_every_point(ab: tuple[np.ndarray, np.ndarray]) -> None:
    """L3.2 at arbitrary (not only generic) points: sigma_(r+1)(fl(A B^T)) is within the
    rounding of the product, gamma_r ||abs(A) abs(B)^T||_F, plus the SVD's rounding."""
    a, b = ab
    m, r = a.shape
    n = b.shape[0]
    if r == min(m, n):
        return
    s = np.linalg.svd(a @ b.T, compute_uv=False)
    gamma = r * _EPS / (1.0 - r * _EPS)
    product = gamma * np.linalg.norm(np.abs(a) @ np.abs(b).T)
    assert s[r] <= product + RANK_RTOL_FACTOR * _EPS * max(m, n) * s[0]


@pytest.mark.claim("L3.2")
@given(layer_shapes(max_dim=12), st.integers(0, 2**32 - 1))
def test_sampled_weights_have_rank_at_most_r(shape: tuple[int, int, int], seed: int) -> None:
    """L3.2 for the sampler over every admissible shape: the rank threshold of the check."""
    m, n, r = shape
    rng = np.random.default_rng(seed)
    post = random_posterior(m, n, r, rng)
    w = sample_weights(post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=4, rng=rng)
    tol = RANK_RTOL_FACTOR * _EPS * max(m, n)
    for x in w:
        assert np.linalg.matrix_rank(x, tol=tol * np.linalg.norm(x, 2)) <= r


@pytest.mark.claim("T3.4")
def test_check_t34_quick_budget_verifies() -> None:
    """T3.4: every low-rank draw sits on R_r to rounding; no mean-field draw comes near it."""
    outcome = check_t34(_quick("T3.4"), claim_rng("T3.4"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert _clean(outcome.evidence)
    assert "L3.3" in outcome.evidence
    for row in outcome.data["rows"]:
        assert row["low_rank_max_units"] <= RANK_RTOL_FACTOR
        assert row["mean_field_in_null_set"] == 0
        # A continuous law: its smallest draw is many orders above the rounding threshold.
        assert row["mean_field_quantiles"][0] > 1e9 * row["threshold"]


@pytest.mark.claim("T3.4")
def test_check_t34_refutes_full_rank_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """T3.4 check can fail: if the 'low-rank' sampler returned mean-field draws."""

    def mean_field(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, **kw: Any) -> Any:
        return sample_mean_field(mu_a @ mu_b.T, np.ones((len(mu_a), len(mu_b))), **kw)

    monkeypatch.setattr(gn, "sample_weights", mean_field)
    outcome = check_t34({"n_samples": 50}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED


@pytest.mark.claim("T3.4")
def test_check_t34_is_untestable_when_the_laws_look_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the mean-field draws were low rank too, the contrast would prove nothing."""

    def low_rank(mu_w: Any, sigma_w: Any, *, n_samples: int, rng: Any) -> Any:
        m, n = mu_w.shape
        return np.einsum("si,sj->sij", rng.standard_normal((n_samples, m)), np.ones((1, n)))

    monkeypatch.setattr(gn, "sample_mean_field", low_rank)
    outcome = check_t34({"n_samples": 50}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.UNTESTABLE


def test_singular_law_compares_posteriors_with_equal_moments(rng: np.random.Generator) -> None:
    post = random_posterior(4, 3, 1, rng)
    lr, mf = singular_law(post, 30, rng)
    assert lr.shape == mf.shape == (30,)
    assert lr.max() <= RANK_RTOL_FACTOR * _EPS * 4 < mf.min()


@pytest.mark.parametrize(
    ("check", "budget", "match"),
    [
        (check_d31, {"n_samples": 10}, r"`budget\['n_samples'\]` must be an int in"),
        (check_l32, {"n_shapes": 0}, r"`budget\['n_shapes'\]` must be an int in"),
        (check_l32, {"max_dim": 2.5}, r"`budget\['max_dim'\]` must be an int"),
        (check_t34, {"n_samples": 1}, r"`budget\['n_samples'\]` must be an int in"),
    ],
)
def test_geometry_checks_reject_bad_budgets(check: Any, budget: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        check(budget, np.random.default_rng(0))


@pytest.mark.parametrize("check", [check_d31, check_l32, check_t34])
def test_geometry_checks_are_deterministic_given_the_rng(check: Any) -> None:
    budget = {"n_shapes": 2, "n_samples": 200}
    first = check(budget, np.random.default_rng(4))
    second = check(budget, np.random.default_rng(4))
    assert first.evidence == second.evidence


@pytest.mark.slow
@pytest.mark.claim("D3.1")
@pytest.mark.claim("L3.2")
@pytest.mark.claim("T3.4")
def test_geometry_numeric_checks_thorough_budget_verify() -> None:
    """D3.1, L3.2, T3.4 at the thorough budgets."""
    for claim_id, check in (("D3.1", check_d31), ("L3.2", check_l32), ("T3.4", check_t34)):
        budget = claim_by_id(claim_id).budget(Profile.THOROUGH)
        assert check(budget, claim_rng(claim_id)).verdict is Verdict.VERIFIED

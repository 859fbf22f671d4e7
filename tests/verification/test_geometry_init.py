"""Claims F1 (Monte Carlo twin) and F2: variance matching and the SVD warm start."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import verification.claims.geometry.init as ginit
from theory.geometry import FactorPosterior, balanced_factors, variance_matching_init
from verification.claims.geometry.init import (
    check_f1_monte_carlo,
    check_f2,
    f2_case,
    random_low_rank,
    studentized_z,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng
from verification.testing.strategies import layer_shapes

_EPS = float(np.finfo(np.float64).eps)
#: The quick budget proposed for the registry (the Monte Carlo twin of F1).
F1_QUICK = {"n_inits": 2000}


@pytest.mark.claim("F1")
def test_check_f1_monte_carlo_quick_budget_verifies() -> None:
    """F1: Var(mean W_ij) = s_W^2 for Glorot and He targets, and r v_A v_B directly."""
    outcome = check_f1_monte_carlo(F1_QUICK, claim_rng("F1"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence and "\n" not in outcome.evidence
    rows = outcome.data["rows"]
    assert {r["target"] for r in rows} == {"glorot", "he"}
    assert len(rows) == 2 * len(ginit.F1_SHAPES)
    # The test is sharp enough to matter: it detects errors of about 10 percent or less.
    assert max(r["detectable"] for r in rows) < 0.1


def _scaled_init(factor: float, sigma_factor: float = 1.0) -> Any:
    def init(m: int, n: int, r: int, **kw: Any) -> FactorPosterior:
        post = variance_matching_init(m, n, r, **kw)
        return FactorPosterior(
            np.sqrt(factor) * post.mu_a,
            sigma_factor * post.sigma_a,
            post.mu_b,
            sigma_factor * post.sigma_b,
        )

    return init


@pytest.mark.claim("F1")
def test_check_f1_monte_carlo_refutes_a_30_percent_variance_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """F1 check can fail: factor means whose product variance is 1.3 s_W^2."""
    monkeypatch.setattr(ginit, "variance_matching_init", _scaled_init(1.3))
    outcome = check_f1_monte_carlo(F1_QUICK, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("Var(mean W_ij) rejected")


@pytest.mark.claim("F1")
def test_check_f1_monte_carlo_refutes_wrong_posterior_scales(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ginit, "variance_matching_init", _scaled_init(1.0, 1.0 + 1e-9))
    outcome = check_f1_monte_carlo({"n_inits": 20}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("Posterior scales differ")


def test_studentized_z_matches_its_formula(rng: np.random.Generator) -> None:
    y = rng.standard_normal(50) + 0.3
    expected = np.sqrt(50) * (y.mean() - 0.1) / y.std(ddof=1)
    assert studentized_z(y, 0.1) == pytest.approx(expected, rel=1e-12)


@pytest.fixture(scope="module")
def f2_outcome() -> Any:
    return check_f2(claim_by_id("F2").budget(Profile.QUICK), claim_rng("F2"))


@pytest.mark.claim("F2")
def test_check_f2_verifies_as_printed_and_reports_the_truncated_form(
    f2_outcome: Any,
) -> None:
    """F2 as printed (balanced factors of the full SVD) holds; muA muB^T = W_r and
    spec(muA)^2 = spec(W) hold, and for rank-r factors fro(muA)^2 is nuc(W_r), which is
    nuc(W) only when r >= rank W: the evidence says so."""
    assert f2_outcome.verdict is Verdict.VERIFIED, f2_outcome.evidence
    assert f2_outcome.evidence.startswith("As printed")
    assert "|" not in f2_outcome.evidence and "\n" not in f2_outcome.evidence
    cases = f2_outcome.data["cases"]
    tol = ginit.SVD_RTOL_FACTOR
    for c in cases:
        assert c["same_as_balanced"] and c["truncation_err"] <= tol
        assert c["spec_err"] <= tol and c["nuclear_wr_err"] <= tol
        printed_holds = c["printed_err"] <= tol
        assert printed_holds == (c["shape"][2] >= c["rank_w"])
    assert cases[0]["shape"] == (2, 2, 1) and cases[0]["printed_gap"] == pytest.approx(1 / 3)


def test_f2_case_on_the_smallest_counterexample() -> None:
    case = f2_case(np.diag([2.0, 1.0]), 1)
    assert case["mu_a_fro2"] == pytest.approx(2.0, rel=4 * _EPS)
    assert case["nuclear_w"] == 3.0 and case["nuclear_wr"] == 2.0
    assert case["rank_p"] == 1


@pytest.mark.claim("F2")
@given(layer_shapes(max_dim=12), st.integers(0, 2**32 - 1))
def test_balanced_factor_norms_are_the_truncated_norms(
    shape: tuple[int, int, int], seed: int
) -> None:
    """F2 corrected form over every shape: spec(muA)^2 = sigma_1, fro(muA)^2 = sum_{k<=r}
    sigma_k (equal for muB), both sides from separate SVDs."""
    m, n, r = shape
    w = np.random.default_rng(seed).standard_normal((m, n))
    mu_a, mu_b = balanced_factors(w, r)
    s = np.linalg.svd(w, compute_uv=False)
    tol = ginit.SVD_RTOL_FACTOR * _EPS * max(m, n) * s[0]
    for f in (mu_a, mu_b):
        assert abs(np.linalg.norm(f, 2) ** 2 - s[0]) <= tol
        assert abs(np.sum(f * f) - np.sum(s[:r])) <= r * tol


@pytest.mark.claim("F2")
def test_check_f2_verifies_when_no_truncation_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every W of rank 1 (and the 2 x 2 example replaced by a rank-1 one) the printed
    identities hold: the refutation comes from truncation alone."""
    monkeypatch.setattr(ginit, "F2_SMALLEST", (np.outer([1.0, 2.0], [3.0, 1.0]), 1))

    def rank_one(n_matrices: int, max_dim: int, rng: np.random.Generator) -> Any:
        for m, n in rng.integers(1, max_dim + 1, size=(n_matrices, 2)):
            yield random_low_rank(int(m), int(n), 1, rng), 1

    monkeypatch.setattr(ginit, "f2_matrices", rank_one)
    outcome = check_f2({"n_matrices": 5}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence


@pytest.mark.claim("F2")
def test_check_f2_refutes_a_warm_start_that_is_not_w_r(monkeypatch: pytest.MonkeyPatch) -> None:
    """F2 check can fail: a warm start that keeps the r smallest singular triplets."""

    def smallest(w: Any, r: int, **kw: Any) -> FactorPosterior:
        u, s, vt = np.linalg.svd(w, full_matrices=False)
        root = np.sqrt(s[-r:])
        ones = np.full((r,), 0.1)
        return FactorPosterior(
            u[:, -r:] * root,
            np.ones_like(u[:, -r:]) * ones,
            vt[-r:].T * root,
            np.ones_like(vt[-r:].T) * ones,
        )

    monkeypatch.setattr(ginit, "svd_warm_start", smallest)
    outcome = check_f2({"n_matrices": 3}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("The SVD warm start is not W_r")


@pytest.mark.slow
@pytest.mark.slow_ci
@pytest.mark.claim("F1")
@pytest.mark.claim("F2")
def test_f1_f2_thorough_budgets() -> None:
    """F1 (Monte Carlo twin) and F2 at the thorough budgets."""
    f1 = check_f1_monte_carlo({"n_inits": 40_000}, claim_rng("F1"))
    assert f1.verdict is Verdict.VERIFIED, f1.evidence
    # verified, as at the quick budget and in paper_checks.md: check_f2 has no path to
    # refuted-as-stated (the printed identities are of the full thin SVD, the paper's reading;
    # the rank-r form is reported in the evidence); the old expectation predated the check
    f2 = check_f2(claim_by_id("F2").budget(Profile.THOROUGH), claim_rng("F2"))
    assert f2.verdict is Verdict.VERIFIED, f2.evidence
    assert "8494 cases" in f2.evidence and "3799 with r < rank W" in f2.evidence

"""Checks L3.3, L3.5, L3.5a, B3 and F1 (symbolic, with numeric twins): verdicts, data, failures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sympy as sp

import verification.claims.geometry.symbolic as gs
import verification.claims.geometry.symbolic_moments as gsm
from theory.geometry import FactorPosterior, target_variance
from theory.symbolic import (
    FactorDependence,
    expectation,
    factor_symbols,
    generic_moment,
    weight_minors,
)
from verification.claims.geometry import joined as combined
from verification.claims.geometry.symbolic import check_l33, check_l35, check_l35a, shapes
from verification.claims.geometry.symbolic_moments import check_b3, check_f1
from verification.registry import Outcome, Profile, Verdict, claim_by_id, claim_rng

#: Budgets proposed for the registry's quick profile (the budget keys are the contract).
QUICK: dict[str, dict[str, int]] = {
    "L3.3": {"max_dim": 4},
    "L3.5": {"max_dim": 3},
    "L3.5a": {"max_dim": 3, "n_numeric": 300},
    "B3": {"n_cases": 12, "max_degree": 2},
    "F1": {"max_rank": 6, "max_dim": 3, "n_samples": 20000},
}
CHECKS = {"L3.3": check_l33, "L3.5": check_l35, "L3.5a": check_l35a, "B3": check_b3, "F1": check_f1}


def _assert_markdown_safe(outcome: Outcome) -> None:
    assert "|" not in outcome.evidence
    assert "\n" not in outcome.evidence


#: Claims whose registry row joins this symbolic check with a Monte Carlo twin.
JOINED = {"L3.5a": combined.check_l35a, "F1": combined.check_f1}


@pytest.mark.parametrize("claim_id", sorted(QUICK))
def test_registry_runs_these_checks_with_these_budgets(claim_id: str) -> None:
    claim = claim_by_id(claim_id)
    budget = dict(claim.budget(Profile.QUICK))
    if claim_id in JOINED:
        assert claim.check_fn() is JOINED[claim_id]
        budget = dict(budget["symbolic"])
    else:
        assert claim.check_fn() is CHECKS[claim_id]
    assert budget == QUICK[claim_id]


# --- L3.3 -----------------------------------------------------------------------------------


@pytest.mark.claim("L3.3")
def test_check_l33_quick_budget_verifies_with_the_brute_force_counts() -> None:
    """L3.3: every (r+1)-minor vanishes; counts equal sums of C(m, r+1) C(n, r+1)."""
    outcome = check_l33(QUICK["L3.3"], claim_rng("L3.3"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    data = outcome.data
    expected = sum(math.comb(m, r + 1) * math.comb(n, r + 1) for m, n, r in shapes(4, strict=True))
    assert data["minors_vanishing_checked"] == data["minors_vanishing"] == expected == 126
    sharp = sum(math.comb(m, r) * math.comb(n, r) for m, n, r in shapes(4))
    assert data["r_minors_checked"] == data["r_minors_nonzero"] == sharp
    assert data["r_minors_cauchy_binet"] == sharp
    assert data["full_rank_shapes_nonzero"] == 16
    assert data["generic_minor_terms"] == {2: 2, 3: 6, 4: 24}
    assert f"all {expected}" in outcome.evidence
    _assert_markdown_safe(outcome)


@pytest.mark.claim("L3.3")
def test_check_l33_refutes_factors_with_one_column_too_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If W had r + 1 factor columns the (r+1)-minors would not vanish: first at 2x2, r = 1."""

    def wider(m: int, n: int, r: int, size: int) -> Any:
        return weight_minors(m, n, min(r + 1, m, n), size)

    monkeypatch.setattr(gs, "weight_minors", wider)
    outcome = check_l33({"max_dim": 3}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["counterexample"] == {"m": 2, "n": 2, "r": 1, "nonzero": 1}
    _assert_markdown_safe(outcome)


# --- L3.5 -----------------------------------------------------------------------------------


@pytest.mark.claim("L3.5")
def test_check_l35_quick_budget_verifies_and_states_its_scope() -> None:
    """L3.5: holds under entry- and column-wise independence; not with only A indep. of B."""
    outcome = check_l35(QUICK["L3.5"], claim_rng("L3.5"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    n_shapes = len(shapes(3))
    rank_two_or_more = sum(r >= 2 for _, _, r in shapes(3))
    holds = outcome.data["shapes_where_formula_holds"]
    assert holds == {
        "entries": n_shapes,
        "columns": n_shapes,
        "factors": n_shapes - rank_two_or_more,
    }
    bad = outcome.data["failures"]["factors"]
    assert (bad["m"], bad["n"], bad["r"]) == (2, 2, 2)
    assert "only A independent of B" in outcome.evidence
    _assert_markdown_safe(outcome)


@pytest.mark.claim("L3.5")
def test_check_l35_refutes_a_sum_without_the_mean_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stated sum missing "- E[A] E[A'] E[B] E[B']" is caught at the first shape."""

    def wrong(m: int, n: int, r: int, dep: FactorDependence) -> Any:
        fs = factor_symbols(m, n, r)
        blocks = fs.blocks(dep)

        def ex(e: sp.Expr) -> sp.Expr:
            return expectation(e, blocks, generic_moment)

        idx = [(i, j) for i in range(m) for j in range(n)]
        return sp.Matrix(
            m * n,
            m * n,
            lambda p, q: sum(
                ex(fs.a[idx[p][0], k] * fs.a[idx[q][0], k])
                * ex(fs.b[idx[p][1], k] * fs.b[idx[q][1], k])
                for k in range(r)
            ),
        )

    monkeypatch.setattr(gs, "l35_covariance", wrong)
    outcome = check_l35({"max_dim": 2}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    bad = outcome.data["counterexample"]
    assert (bad["m"], bad["n"], bad["r"]) == (1, 1, 1)
    _assert_markdown_safe(outcome)


# --- L3.5a ----------------------------------------------------------------------------------


@pytest.mark.claim("L3.5a")
def test_check_l35a_quick_budget_verifies() -> None:
    """L3.5a: derivation = typed formulas on every shape; = weight_moments on 300 posteriors."""
    outcome = check_l35a(QUICK["L3.5a"], claim_rng("L3.5a"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    data = outcome.data
    all_shapes = shapes(3)
    assert data["entries"] == {
        "mean": sum(m * n for m, n, _ in all_shapes),
        "covariance": sum((m * n) ** 2 for m, n, _ in all_shapes),
        "variance": sum(m * n for m, n, _ in all_shapes),
    }
    assert data["cases"] == 300
    assert data["failures"] == 0
    assert 0.0 <= data["worst_ratio"] <= 1.0
    _assert_markdown_safe(outcome)


@pytest.mark.claim("L3.5a")
def test_check_l35a_refutes_weight_moments_without_the_product_of_variances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """weight_moments that forgets sum_k sA^2 sB^2 on the diagonal fails at the 1x1 shape."""
    true_moments = gs.weight_moments

    def forgetful(ma: Any, sa: Any, mb: Any, sb: Any) -> Any:
        mean, cov = true_moments(ma, sa, mb, sb)
        extra = (np.asarray(sa) ** 2 @ (np.asarray(sb) ** 2).T).reshape(-1)
        return mean, cov - np.diag(extra)

    monkeypatch.setattr(gs, "weight_moments", forgetful)
    outcome = check_l35a({"max_dim": 2, "n_numeric": 10}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["failures"] == 10
    assert outcome.data["counterexample"]["shape"] == (1, 1, 1)
    _assert_markdown_safe(outcome)


@pytest.mark.claim("L3.5a")
def test_check_l35a_refutes_a_typed_formula_with_a_wrong_delta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A typed covariance whose sA^2 muB muB' term ignores d(i, i') fails at m = 2."""
    true_typed = gs.l35a_weight_moments

    def no_delta(m: int, n: int, r: int) -> Any:
        mean, cov = true_typed(m, n, r)
        fs = factor_symbols(m, n, r)
        if m < 2:
            return mean, cov
        # Add the i != i' term sA_1k^2 muB_1k^2 to Cov(W_11, W_21).
        extra = sum(fs.sigma_a[0, k] ** 2 * fs.mu_b[0, k] ** 2 for k in range(r))
        cov = sp.Matrix(cov)
        cov[0, n] += extra
        cov[n, 0] += extra
        return mean, sp.ImmutableMatrix(cov)

    monkeypatch.setattr(gs, "l35a_weight_moments", no_delta)
    outcome = check_l35a({"max_dim": 2, "n_numeric": 1}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    bad = outcome.data["counterexample"]
    assert (bad["m"], bad["n"], bad["r"], bad["what"]) == (2, 1, 1, "covariance")
    _assert_markdown_safe(outcome)


# --- B3 -------------------------------------------------------------------------------------


@pytest.mark.claim("B3")
def test_check_b3_quick_budget_verifies_and_its_control_fails() -> None:
    """B3: the identity holds on every random case; with A and B dependent it does not."""
    outcome = check_b3(QUICK["B3"], claim_rng("B3"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    data = outcome.data
    assert set(data["holds"].values()) == {12}
    assert data["control_fails"] >= 1
    _assert_markdown_safe(outcome)


@pytest.mark.claim("B3")
def test_check_b3_refutes_a_right_side_without_the_mean_product(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def half_b3(x: Any, u: Any, y: Any, v: Any, blocks: Any, rule: Any) -> Any:
        def ex(e: sp.Expr) -> sp.Expr:
            return expectation(e, blocks, rule)

        return sp.expand(ex(x * y * u * v) - ex(x * y) * ex(u * v)), sp.expand(
            ex(x * u) * ex(y * v)
        )

    monkeypatch.setattr(gsm, "b3_sides", half_b3)
    outcome = check_b3({"n_cases": 3, "max_degree": 2}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["counterexample"]["law"] == "generic, only A independent of B"
    _assert_markdown_safe(outcome)


# --- F1 -------------------------------------------------------------------------------------


@pytest.mark.claim("F1")
def test_check_f1_quick_budget_verifies() -> None:
    """F1: symbolic r vA vB for r <= 6 and every shape <= 3; 9 Monte Carlo z-tests pass."""
    outcome = check_f1(QUICK["F1"], claim_rng("F1"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    data = outcome.data
    assert data["symbolic_problems"] == []
    assert len(data["tests"]) == 9
    assert {t["source"] for t in data["tests"]} == {"direct", "init glorot", "init he"}
    assert data["worst_abs_z"] <= data["z_crit"]
    _assert_markdown_safe(outcome)


@pytest.mark.claim("F1")
def test_check_f1_refutes_an_init_with_variance_instead_of_its_square_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Factor means with variance s_W^2 / r (not sqrt(s_W^2 / r)) must be rejected."""

    def wrong_init(m: int, n: int, r: int, *, target: Any, eta: float, rng: Any) -> Any:
        std = math.sqrt(target_variance(m, n, target) / r)
        return FactorPosterior(
            std * rng.standard_normal((m, r)),
            np.full((m, r), eta * std),
            std * rng.standard_normal((n, r)),
            np.full((n, r), eta * std),
        )

    monkeypatch.setattr(gsm, "variance_matching_init", wrong_init)
    outcome = check_f1({"max_rank": 2, "max_dim": 2, "n_samples": 4000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["counterexample"]["source"].startswith("init")
    _assert_markdown_safe(outcome)


# --- common -------------------------------------------------------------------------------


@pytest.mark.parametrize("claim_id", ["L3.5a", "B3", "F1"])
def test_random_checks_are_deterministic_given_the_rng(claim_id: str) -> None:
    small = {
        "L3.5a": {"max_dim": 2, "n_numeric": 20},
        "B3": {"n_cases": 3, "max_degree": 2},
        "F1": {"max_rank": 2, "max_dim": 2, "n_samples": 2000},
    }[claim_id]
    first = CHECKS[claim_id](small, np.random.default_rng(5))
    second = CHECKS[claim_id](small, np.random.default_rng(5))
    assert first == second


def test_checks_reject_bad_budgets() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"`budget\['max_dim'\]` must be an int in \[1, 8\]"):
        check_l33({"max_dim": 9}, rng)
    with pytest.raises(TypeError, match=r"`budget\['max_dim'\]` must be an int; got None"):
        check_l35({}, rng)
    with pytest.raises(TypeError, match=r"`budget\['n_numeric'\]` must be an int; got 1.5"):
        check_l35a({"max_dim": 2, "n_numeric": 1.5}, rng)
    with pytest.raises(ValueError, match=r"`budget\['max_degree'\]` must be an int in \[1, 4\]"):
        check_b3({"n_cases": 2, "max_degree": 5}, rng)
    with pytest.raises(ValueError, match=r"`budget\['n_samples'\]` must be an int in \[100, inf\]"):
        check_f1({"max_rank": 2, "max_dim": 2, "n_samples": 10}, rng)

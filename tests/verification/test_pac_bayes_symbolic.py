"""Checks T3.8 and T3.8c (symbolic twins of the rank bounds): verdicts, data, and that they fail."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy as sp

import verification.claims.pac_bayes.symbolic as pbs
from theory.symbolic.symbols import C_LR, C_full, N, d_in, d_out, delta, ell, emp, r
from verification.claims.pac_bayes.symbolic import BOUND_RTOL, check_t38, check_t38c
from verification.registry import Outcome, Profile, Verdict, claim_by_id, claim_rng

#: Budgets the registry gives these claims under the quick profile (the registry may point the
#: claim at another module; the budget keys are the contract).
T38_QUICK = {"max_dim": 64}
T38C_QUICK = {"n_cases": 2000}


def _assert_markdown_safe(outcome: Outcome) -> None:
    assert "|" not in outcome.evidence
    assert "\n" not in outcome.evidence


def test_registry_budgets_are_the_ones_these_checks_read() -> None:
    assert dict(claim_by_id("T3.8").budget(Profile.QUICK)) == T38_QUICK
    assert dict(claim_by_id("T3.8c").budget(Profile.QUICK)) == T38C_QUICK


@pytest.mark.claim("T3.8")
def test_check_t38_quick_budget_verifies_every_shape() -> None:
    """T3.8: derived ratio, monotonicity, and the exhaustive symbolic-vs-numeric sweep."""
    outcome = check_t38(T38_QUICK, claim_rng("T3.8"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    data = outcome.data
    # Brute-force count of the (d_in, d_out, r) the sweep must have visited.
    expected = sum(min(i, j) for i in range(1, 65) for j in range(1, 65))
    assert data["cases"] == expected
    assert data["ratio_residual"] == "0"
    assert data["derivative_positive"] is True
    assert data["bound_failures"] == data["ratio_failures"] == data["monotone_failures"] == 0
    assert 0.0 <= data["max_rel_bound"] <= BOUND_RTOL
    assert "counterexample" not in data
    assert f"all {expected}" in outcome.evidence
    _assert_markdown_safe(outcome)


@pytest.mark.claim("T3.8")
def test_check_t38_is_deterministic_given_the_rng() -> None:
    first = check_t38({"max_dim": 12}, np.random.default_rng(7))
    second = check_t38({"max_dim": 12}, np.random.default_rng(7))
    assert first == second


@pytest.mark.claim("T3.8")
def test_check_t38_refutes_a_numeric_bound_without_the_log_term(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A numeric bound that drops ln(2 sqrt N/delta) must be caught at the first shape."""

    def no_log(emp_risk: Any, kl: Any, n: Any, conf: Any) -> Any:
        return np.asarray(emp_risk) + np.sqrt(np.asarray(kl) / (2.0 * np.asarray(n)))

    monkeypatch.setattr(pbs, "mcallester_bound", no_log)
    outcome = check_t38({"max_dim": 4}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    bad = outcome.data["counterexample"]
    assert (bad["d_in"], bad["d_out"], bad["r"]) == (1, 1, 1)
    assert outcome.data["bound_failures"] == outcome.data["cases"]
    _assert_markdown_safe(outcome)


@pytest.mark.claim("T3.8c")
def test_check_t38c_quick_budget_verifies_and_points_to_the_trained_measurement() -> None:
    """T3.8c: sign proof holds; every random, tied and near-tied case agrees with the margin."""
    outcome = check_t38c(T38C_QUICK, claim_rng("T3.8c"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    data = outcome.data
    assert data["proof_residual"] == "0"
    assert data["proof_factor_positive"] is True
    assert data["log_term_positive"] is True
    assert data["cases"] == 2000
    assert sum(data["families"].values()) == 2000
    assert data["symbolic_agreements"] == data["numeric_agreements"] == 2000
    assert data["exact_ties"] >= data["families"]["tie"]
    # Both outcomes occur, so agreement is not trivially "always tighter".
    assert 0 < data["margin_positive"] < 2000 - data["exact_ties"]
    assert "per-coordinate KLs" in outcome.evidence
    assert "claim T3.8p" in outcome.evidence
    _assert_markdown_safe(outcome)


@pytest.mark.claim("T3.8c")
def test_check_t38c_refutes_a_wrong_low_rank_dimension(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the low-rank bound counted r d_in coordinates instead of r (d_in + d_out), its
    comparison with the full bound would no longer follow the stated condition."""
    wrong_low = emp + sp.sqrt((C_LR * r * d_in + ell) / (2 * N))
    wrong_low = wrong_low.subs(ell, sp.log(2 * sp.sqrt(N) / delta))
    full = pbs.full_rank_bound_expr()
    args = (emp, C_full, C_LR, d_in, d_out, r, N, delta)
    wrong_fn = sp.lambdify(args, (full, wrong_low), "numpy")

    monkeypatch.setattr(pbs, "t38_bounds_function", lambda: wrong_fn)
    monkeypatch.setattr(pbs, "low_rank_bound_expr", lambda: wrong_low)
    outcome = check_t38c({"n_cases": 400}, np.random.default_rng(1))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["symbolic_agreements"] < 400
    assert "counterexample" in outcome.data
    _assert_markdown_safe(outcome)


def test_checks_reject_bad_budgets() -> None:
    with pytest.raises(ValueError, match=r"`budget\['max_dim'\]` must be an int in \[1, inf\]"):
        check_t38({"max_dim": 0}, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"`budget\['n_cases'\]` must be an int; got None"):
        check_t38c({}, np.random.default_rng(0))

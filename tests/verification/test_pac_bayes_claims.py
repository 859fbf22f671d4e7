"""Check D3 (KL of product measures): verdicts, twins, failures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import stats

import verification.claims.pac_bayes.product_kl as pbc
from theory.pac_bayes import gaussian_kl
from verification.claims.pac_bayes.product_kl import check_d3, direct_gaussian_kl
from verification.registry import Profile, Verdict, claim_by_id, claim_rng
from verification.testing.strategies import gaussian_params

_EPS = float(np.finfo(np.float64).eps)
#: Closed-form values below are evaluated in a different order than the code under test; they
#: may differ by a few roundings of O(1) quantities.
_RTOL = 64 * _EPS


@pytest.mark.claim("D3")
def test_check_d3_quick_budget_verifies() -> None:
    """D3: the registry's quick budget verifies, with the Bonferroni threshold it states."""
    budget = claim_by_id("D3").budget(Profile.QUICK)
    outcome = check_d3(budget, claim_rng("D3"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert outcome.data["cases"] == budget["n_cases"]
    assert outcome.data["failures"] == 0
    expected = stats.norm.isf(pbc.D3_FALSE_FAILURE / (2 * budget["n_cases"]))
    assert outcome.data["z_crit"] == pytest.approx(expected, rel=_RTOL)
    assert 0.0 < outcome.data["min_tightness"] <= 1.0


@pytest.mark.claim("D3")
@pytest.mark.parametrize(
    ("wrong", "twin"),
    [(lambda *a: 1.001 * gaussian_kl(*a), "direct"), (lambda *a: gaussian_kl(*a) / 2.0, "direct")],
    ids=["one-per-mille-too-large", "halved"],
)
def test_check_d3_refutes_a_wrong_kl(
    monkeypatch: pytest.MonkeyPatch, wrong: Any, twin: str
) -> None:
    """D3: the check can fail: a KL off by 0.1 percent, or halved, is caught by the twins."""
    monkeypatch.setattr(pbc, "gaussian_kl", wrong)
    outcome = check_d3({"n_cases": 6, "n_mc": 500}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["counterexample"]["twin"] == twin


@pytest.mark.claim("D3")
def test_check_d3_monte_carlo_twin_alone_catches_a_mean_instead_of_a_sum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """D3: with the direct twin disabled, the z-test still rejects a per-coordinate mean."""
    monkeypatch.setattr(pbc, "direct_gaussian_kl", lambda *a: (pbc.gaussian_kl(*a), 1.0))

    def mean_kl(mu_q: Any, s_q: Any, mu_p: Any, s_p: Any) -> float:
        return gaussian_kl(mu_q, s_q, mu_p, s_p) / np.size(mu_q)

    monkeypatch.setattr(pbc, "gaussian_kl", mean_kl)
    outcome = check_d3({"n_cases": 30}, np.random.default_rng(1))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["counterexample"]["twin"] == "mc"


def test_direct_gaussian_kl_by_hand() -> None:
    """KL(N(0, 1) || N(1, 4)) = ln 2 + (1 + 1)/8 - 1/2."""
    kl, _ = direct_gaussian_kl(np.zeros(1), np.ones(1), np.ones(1), np.full(1, 2.0))
    assert kl == pytest.approx(math.log(2.0) + 0.25 - 0.5, rel=_RTOL)


@pytest.mark.claim("D3")
@given(pairs=st.lists(st.tuples(gaussian_params(), gaussian_params()), min_size=1, max_size=12))
@example(pairs=[((0.0, 0.25), (0.0, 7.0))])
@example(pairs=[((0.0, 1e-3), (0.0, 1e3))])
def test_gaussian_kl_equals_full_covariance_kl(pairs: list[Any]) -> None:
    """D3: the sum of per-coordinate KLs is the KL of the product measures.

    The examples have sigma_q << sigma_p, where 1 + (rho^2 - 1) loses the relative accuracy of
    rho^2 (found by this test against theory.pac_bayes.gaussian_kl).
    """
    arr = np.array([[q[0], q[1], p[0], p[1]] for q, p in pairs]).T
    direct, scale = direct_gaussian_kl(*arr)
    slack = (8 * len(pairs) + 32) * _EPS * scale
    assert abs(gaussian_kl(*arr) - direct) <= slack


def test_check_d3_rejects_a_bad_budget() -> None:
    with pytest.raises(TypeError, match=r"`budget\['n_cases'\]` must be an int; got None"):
        check_d3({}, np.random.default_rng(0))

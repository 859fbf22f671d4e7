"""Claim F3u: the App. F uniform initialisation, its exact moments and its Monte Carlo test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sympy as sp
from scipy import stats

import verification.claims.geometry.init_uniform as gu
from verification.claims.geometry.init_uniform import (
    a_sym,
    check_f3u,
    entry_moments,
    stated_bound,
    stated_glorot_bound,
    uniform_moment,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

#: False-failure probability of the Monte Carlo assertion here.
ALPHA = 1e-6


@pytest.fixture(scope="module")
def quick() -> Any:
    return check_f3u(claim_by_id("F3u").budget(Profile.QUICK), claim_rng("F3u"))


@pytest.mark.claim("F3u")
def test_check_f3u_quick_budget_verifies(quick: Any) -> None:
    """F3u: Var(mean W_ij) = s_W^2 for U(-a, a) means, a = sqrt(3) (s_W^2/r)^(1/4)."""
    assert quick.verdict is Verdict.VERIFIED, quick.evidence
    assert "|" not in quick.evidence and "\n" not in quick.evidence
    rows = quick.data["rows"]
    sources = {r["source"] for r in rows}
    assert sources == {"direct", "init glorot", "init he"}
    assert all(abs(r["z_var"]) <= quick.data["z_crit"] for r in rows)
    # Sharp enough to matter: half the time it rejects a 5 percent variance error.
    assert quick.data["detectable_50"] < 0.05 < quick.data["detectable_90"] < 0.07
    assert quick.data["formula"]["ok"]


@pytest.mark.claim("F3u")
def test_uniform_moments_are_a_to_the_p_over_p_plus_one() -> None:
    """F3u: E[X^p] = a^p / (p + 1) for even p and 0 for odd p, X ~ U(-a, a)."""
    for p in range(9):
        expected = a_sym**p / (p + 1) if p % 2 == 0 else 0
        assert sp.simplify(uniform_moment(p) - expected) == 0


@pytest.mark.claim("F3u")
@pytest.mark.parametrize("r", [1, 2, 3, 5])
def test_entry_moments_match_the_hand_derivation(r: int) -> None:
    """E[W^2] = r (a^2/3)^2 and E[W^4] = r (a^4/5)^2 + 3 r (r - 1) (a^2/3)^4 (independent
    zero-mean products: only squared pairs survive)."""
    first, second, fourth = entry_moments(r)
    assert first == 0
    assert sp.expand(second - r * a_sym**4 / 9) == 0
    assert sp.expand(fourth - (r * a_sym**8 / 25 + 3 * r * (r - 1) * a_sym**8 / 81)) == 0


@pytest.mark.claim("F3u")
def test_entry_fourth_moment_against_monte_carlo() -> None:
    """The exact E[W^4] at a = 1, r = 3 against 400,000 draws (studentised z-test at ALPHA)."""
    r = 3
    fourth = float(entry_moments(r)[2].subs(a_sym, 1))
    rng = np.random.default_rng(5)
    w = np.einsum("sk,sk->s", rng.uniform(-1, 1, (400_000, r)), rng.uniform(-1, 1, (400_000, r)))
    y = w**4
    z = math.sqrt(y.size) * (y.mean() - fourth) / y.std(ddof=1)
    assert abs(z) < stats.norm.isf(ALPHA / 2)


@pytest.mark.claim("F3u")
def test_stated_bounds_agree_numerically_at_glorot() -> None:
    m, n, r = 300, 100, 4
    general = float(stated_bound(sp.Rational(2, m + n), sp.Integer(r)))
    printed = float(stated_glorot_bound(sp.Integer(m), sp.Integer(n), sp.Integer(r)))
    assert general == printed == pytest.approx(math.sqrt(3) * (2 / (r * (n + m))) ** 0.25)


@pytest.mark.claim("F3u")
@pytest.mark.parametrize(
    ("name", "value", "residual"),
    [("F3U_CONSTANT", sp.sqrt(2), "-5 s_W2/9"), ("F3U_EXPONENT", sp.Rational(1, 2), "(-r + s_W2)")],
)
def test_check_f3u_refutes_a_wrong_statement(
    monkeypatch: pytest.MonkeyPatch, name: str, value: sp.Expr, residual: str
) -> None:
    """F3u check can fail: sqrt(2) for sqrt(3), or exponent 1/2 for 1/4, is refuted with the
    exact residual Var - s_W^2."""
    monkeypatch.setattr(gu, name, value)
    outcome = check_f3u({"n_samples": 200, "n_formula": 5}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert residual in outcome.evidence


@pytest.mark.claim("F3u")
def test_check_f3u_monte_carlo_refutes_a_10_percent_narrower_init(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Means drawn from U(-c a, c a) with c^4 = 0.9 stay in the support; the z-test sees it."""
    real = gu.uniform_variance_matching_init

    def narrow(m: int, n: int, r: int, **kw: Any) -> Any:
        post = real(m, n, r, **kw)
        c = 0.9**0.25
        return type(post)(c * post.mu_a, post.sigma_a, c * post.mu_b, post.sigma_b)

    monkeypatch.setattr(gu, "uniform_variance_matching_init", narrow)
    outcome = check_f3u(claim_by_id("F3u").budget(Profile.QUICK), np.random.default_rng(1))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("the Monte Carlo test (init")


def test_check_f3u_is_deterministic_and_checks_its_budget() -> None:
    budget = {"n_samples": 300, "n_formula": 10}
    first = check_f3u(budget, np.random.default_rng(8))
    assert first.evidence == check_f3u(budget, np.random.default_rng(8)).evidence
    with pytest.raises(ValueError, match=r"`budget\['max_rank'\]` must be an int in \[8, 12\]"):
        check_f3u({"max_rank": 4}, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"`budget\['n_samples'\]` must be an int"):
        check_f3u({"n_samples": 1e4}, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.claim("F3u")
def test_check_f3u_thorough_budget_verifies() -> None:
    """F3u at the thorough budget."""
    outcome = check_f3u(claim_by_id("F3u").budget(Profile.THOROUGH), claim_rng("F3u"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence

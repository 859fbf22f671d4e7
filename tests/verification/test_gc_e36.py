"""Claim E36 (Remark E.36): the constants of C^A = O(sigma sqrt(h + r)) and of the product."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy import special

import verification.claims.generalisation.factor_norms as ge
from theory.gaussian_complexity.corrected import chi_mean
from theory.gaussian_complexity.factor_norms import bai_yin_ratio, gordon_ratio, symbolic_e36
from verification.claims.generalisation.factor_norms import (
    GROWTH_SLOPE,
    check_e36,
    corrected_product_scale,
    family_slopes,
    first_width_above,
    remark_product_scale,
    standard_spectral_norms,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

_EPS = float(np.finfo(np.float64).eps)
_SMALL = {"n_samples": 300, "sizes": (1, 4, 16)}


@pytest.mark.claim("E36")
def test_check_e36_quick_budget_refutes_the_product_form_as_stated() -> None:
    """E36: the factor part holds with constant <= sqrt 2; the product's form fails on layers
    (1, n, 1) and holds in our form sigma^2 sqrt((h_i + r_i)(h_(i-1) + r_i))."""
    outcome = check_e36(claim_by_id("E36").budget(Profile.QUICK), claim_rng("E36"))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED, outcome.evidence
    assert "|" not in outcome.evidence
    assert outcome.data["failures"] == []
    rows = outcome.data["rows"].values()
    assert max(row["mean_ratio"] for row in rows) <= math.sqrt(2.0)
    assert all(row["mean_ratio"] <= row["gordon_ratio"] + 0.1 for row in rows)
    assert outcome.data["ours_grid_max"] <= 2.0
    fam = outcome.data["families"]
    assert fam["remark (1, n, 1)"]["lower_slope"] == pytest.approx(0.5, abs=1e-4)
    assert abs(fam["ours (1, n, 1)"]["upper_slope"]) < 1e-3


@pytest.mark.claim("E36")
def test_check_e36_verifies_when_the_product_scale_is_the_honest_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E36: the refutation comes from h_(i-1): with our scale the same measurement verifies."""
    monkeypatch.setattr(ge, "remark_product_scale", corrected_product_scale)
    assert check_e36(_SMALL, np.random.default_rng(2)).verdict is Verdict.VERIFIED


@pytest.mark.claim("E36")
def test_check_e36_refutes_a_dimension_free_factor_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """E36: the check can fail on the factor part: C^A = O(sigma) grows like sqrt(h)."""
    monkeypatch.setattr(ge, "factor_scale", lambda h, r: np.ones_like(np.asarray(h, dtype=float)))
    assert check_e36(_SMALL, np.random.default_rng(3)).verdict is Verdict.REFUTED


@pytest.mark.claim("E36")
def test_symbolic_constants_match_the_numbers() -> None:
    """E36: sympy's sup sqrt 2 (at h = r), lim E chi_n / sqrt n = 1 and the family limits
    1/sqrt(2 pi) (remark) and 1/sqrt(pi) (ours) against the closed forms at n = 4^10."""
    sym = symbolic_e36()
    assert sym["sup_ratio"] == sp.sqrt(2) and sym["argmax"] == [1]
    assert sym["chi_over_sqrt"] == 1
    (k,) = sym["chi_ratio"].free_symbols
    for n_ in (1, 2, 7, 100):
        value = float(sym["chi_ratio"].subs(k, sp.Rational(n_, 2)))
        assert value == pytest.approx(chi_mean(n_) / math.sqrt(n_), rel=1e-12)
    assert sp.simplify(sym["remark_family"] - 1 / sp.sqrt(2 * sp.pi)) == 0
    assert sp.simplify(sym["corrected_family"] - 1 / sp.sqrt(sp.pi)) == 0
    fam = family_slopes()
    n = 4.0**10
    assert fam["remark (1, n, 1)"]["last"] / math.sqrt(n) == pytest.approx(
        float(sym["remark_family"]), rel=1e-5
    )
    assert fam["ours (1, n, 1)"]["last"] == pytest.approx(float(sym["corrected_family"]), rel=1e-5)


def test_gordon_and_bai_yin_ratios_against_sympy_and_limits() -> None:
    """The numeric ratios equal sympy's expressions; Bai-Yin is Gordon's at h = r."""
    h, r = sp.symbols("h r", positive=True)
    expr = sp.lambdify((h, r), (sp.sqrt(h) + sp.sqrt(r)) / sp.sqrt(h + r))
    for a, b in ((1, 1), (7, 3), (64, 64), (1000, 1)):
        assert gordon_ratio(a, b) == pytest.approx(expr(a, b), rel=8 * _EPS)
        assert gordon_ratio(a, a) == pytest.approx(bai_yin_ratio(1.0), rel=8 * _EPS)
    c = np.linspace(0.0, 1.0, 101)
    assert np.all(bai_yin_ratio(c) <= math.sqrt(2.0) + 4 * _EPS)
    assert np.all(np.diff(bai_yin_ratio(c)) > 0)
    with pytest.raises(ValueError, match="`rows`"):
        gordon_ratio(0, 1)
    with pytest.raises(ValueError, match="`aspect`"):
        bai_yin_ratio(-1.0)


def test_standard_spectral_norms_twin_for_one_column() -> None:
    """One column: ||G||_2 is chi_h; the sample mean is within 5 SE of E chi_h, and the norms
    equal numpy's spectral norm draw by draw."""
    rng = np.random.default_rng(11)
    norms = standard_spectral_norms(9, 1, 4000, rng)
    se = norms.std(ddof=1) / math.sqrt(norms.size)
    assert abs(norms.mean() - chi_mean(9)) < 5 * se
    g = np.random.default_rng(12).standard_normal((3, 5, 4))
    ours = standard_spectral_norms(5, 4, 3, np.random.default_rng(12))
    assert np.allclose(ours, np.linalg.norm(g, 2, axis=(1, 2)), rtol=64 * _EPS, atol=0)


def test_first_width_above_is_the_first_crossing() -> None:
    """n = 26 is the narrowest (1, n, 1) layer where the remark's ratio exceeds 2."""
    n = first_width_above(2.0)

    def ratio(k: int) -> float:
        return (
            math.sqrt(2 / math.pi)
            * math.sqrt(2)
            * math.exp(special.gammaln((k + 1) / 2) - special.gammaln(k / 2))
            / 2
        )

    assert ratio(n) > 2.0 >= ratio(n - 1)
    assert remark_product_scale(1, n, 1) == 2.0
    with pytest.raises(ValueError, match="`constant`"):
        first_width_above(1e9, limit=10)


def test_family_slopes_are_growth_exponents() -> None:
    """A bounded ratio has slope near 0, n^(1/2) growth slope 1/2: GROWTH_SLOPE separates; the
    lower bounds lie below the upper bounds along every family."""
    fam = family_slopes()
    assert fam["factor (n, 1)"]["upper_slope"] < GROWTH_SLOPE
    assert fam["remark (1, n, 1)"]["lower_slope"] > GROWTH_SLOPE
    assert fam["remark (n, 1, 1)"]["upper_slope"] == pytest.approx(-0.5, abs=1e-3)
    assert all(np.all(v["lower"] <= v["upper"]) for v in fam.values())
    # Tall factors: the lower bound is exact, E chi_n.
    assert fam["factor (n, 1)"]["lower"][0] == pytest.approx(chi_mean(1) / math.sqrt(2.0))

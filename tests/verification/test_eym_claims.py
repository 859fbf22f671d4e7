"""Checks C3 (Eckart-Young-Mirsky) and C4 (||Ax|| <= ||A||_F ||x||): verdicts, power, helpers."""

from __future__ import annotations

import numpy as np
import pytest

import verification.claims.eym.basics as ec
from theory.eym import tail_energy, truncated_svd
from verification.claims.eym.basics import (
    SPECTRUM_KINDS,
    c4_rhs,
    check_c3,
    check_c4,
    matrix_with_spectrum,
    spectrum,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

_EPS = float(np.finfo(np.float64).eps)


@pytest.mark.claim("C3")
def test_check_c3_quick_budget_verifies_with_searches_that_reach_the_optimum() -> None:
    """C3: the quick budget verifies, and the local Frobenius searches do find sigma_{>r}
    (a search that never reaches the optimum could not have found a better candidate)."""
    budget = claim_by_id("C3").budget(Profile.QUICK)
    outcome = check_c3(budget, claim_rng("C3"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    data = outcome.data
    assert data["cases"] == budget["n_cases"] and data["failures"] == 0
    assert set(data["spectra"]) == set(SPECTRUM_KINDS)
    assert data["local_fro_reached"] >= 0.8 * data["local_fro_starts"] > 0
    assert data["local_spectral_max_excess"] < 1e-3
    assert data["worst_identity_error_eps_units"] < ec._SLACK_FACTOR


@pytest.mark.claim("C3")
def test_check_c3_refutes_a_truncation_that_keeps_the_wrong_singular_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """C3: the check can fail: a rank-r 'truncation' keeping sigma_2..sigma_{r+1} instead of
    sigma_1..sigma_r is beaten by the candidates and breaks the identities."""

    def wrong(w: np.ndarray, r: int) -> np.ndarray:
        k = min(w.shape)
        return truncated_svd(w, min(r + 1, k)) - truncated_svd(w, 1) if r else 0.0 * w

    monkeypatch.setattr(ec, "truncated_svd", wrong)
    outcome = check_c3({"n_cases": 3, "max_dim": 5, "n_random": 5, "n_starts": 1}, rng())
    assert outcome.verdict is Verdict.REFUTED
    kinds = outcome.data["failure_kinds"]
    assert "identity fro" in kinds and "identity spectral" in kinds
    assert any(k.startswith("local_fro beats W_r") for k in kinds)
    assert any(k.startswith("random beats W_r") for k in kinds)


@pytest.mark.claim("C3")
def test_check_c3_refutes_a_wrong_tail_energy(monkeypatch: pytest.MonkeyPatch) -> None:
    """C3: a tail energy that returns sigma_{r+1} instead of sigma_{>r} fails the identity."""

    def spectral_tail(w: np.ndarray, r: int) -> float:
        s = np.linalg.svd(w, compute_uv=False)
        return float(s[r]) if r < s.size else 0.0

    monkeypatch.setattr(ec, "tail_energy", spectral_tail)
    outcome = check_c3({"n_cases": 3, "max_dim": 5, "n_random": 1, "n_starts": 0}, rng())
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["counterexample"]["what"] == "identity tail_energy"


def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def test_spectrum_families() -> None:
    g = rng()
    assert spectrum("flat", 4, g).tolist() == [1.0] * 4
    power = spectrum("power_law", 6, g)
    assert power[0] == 1.0 and (np.diff(power) < 0).all()
    for _ in range(20):
        low = spectrum("low_rank", 5, g)
        k = int(np.count_nonzero(low))
        assert 1 <= k < 5 and (low[:k] > 0).all() and (low[k:] == 0.0).all()
    assert spectrum("low_rank", 1, g).tolist() == [1.0]
    with pytest.raises(ValueError, match=r"`kind` must be one of .*; got 'cubic'"):
        spectrum("cubic", 3, g)


def test_matrix_with_spectrum_has_that_spectrum() -> None:
    g = rng()
    for m, n in [(1, 1), (5, 3), (3, 7), (12, 12)]:
        s = np.sort(g.uniform(0.0, 2.0, min(m, n)))[::-1]
        w = matrix_with_spectrum(m, n, s, g)
        assert w.shape == (m, n)
        np.testing.assert_allclose(
            np.linalg.svd(w, compute_uv=False), s, rtol=0, atol=32 * (m + n) * _EPS * s[0]
        )
        assert abs(tail_energy(w, 1) - np.sqrt(np.sum(s[1:] ** 2))) <= 32 * (m + n) * _EPS * s[0]


def test_check_c3_rejects_a_bad_budget() -> None:
    with pytest.raises(TypeError, match=r"`budget\['n_cases'\]` must be an int; got None"):
        check_c3({}, rng())
    with pytest.raises(ValueError, match=r"`budget\['max_dim'\]` must be an int in \[2, inf\]"):
        check_c3({"n_cases": 1, "max_dim": 1}, rng())


@pytest.mark.claim("C4")
def test_check_c4_quick_budget_verifies_and_finds_the_tight_case() -> None:
    """C4: verified; the bound is reached (to rounding) by rank-one A and by the local search."""
    budget = claim_by_id("C4").budget(Profile.QUICK)
    outcome = check_c4(budget, claim_rng("C4"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    ratios = outcome.data["max_ratio"]
    assert ratios["rank_one"] == pytest.approx(1.0, abs=1e-12)
    assert ratios["local"] == pytest.approx(1.0, abs=1e-9)
    assert ratios["top_singular"] <= 1.0 + 1e-12


@pytest.mark.claim("C4")
@pytest.mark.parametrize(
    "wrong",
    [
        lambda a, x: 0.999 * float(np.linalg.norm(a, 2) * np.linalg.norm(x)),
        lambda a, x: float(np.abs(a).max() * np.linalg.norm(x)),
        lambda a, x: 0.9999 * c4_rhs(a, x),
    ],
    ids=["spectral-times-0.999", "max-entry-norm", "frobenius-times-0.9999"],
)
def test_check_c4_refutes_a_wrong_bound(monkeypatch: pytest.MonkeyPatch, wrong) -> None:
    """C4: the check can fail: slightly too small right-hand sides are violated."""
    monkeypatch.setattr(ec, "c4_rhs", wrong)
    outcome = check_c4({"n_cases": 12, "max_dim": 4}, rng())
    assert outcome.verdict is Verdict.REFUTED
    ce = outcome.data["counterexample"]
    a, x = np.array(ce["a"]), np.array(ce["x"])
    assert np.linalg.norm(a @ x) > wrong(a, x)


def test_c4_rhs_by_hand() -> None:
    assert c4_rhs(np.array([[3.0, 4.0]]), np.array([1.0, 0.0])) == 5.0

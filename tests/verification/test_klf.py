"""Claim KLF: the check's verdict, its evidence, and that it can fail."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import verification.claims.pac_bayes.klf as klf
from verification.claims.pac_bayes.klf import check_klf, dpi_cases
from verification.registry import Profile, Verdict, claim_by_id, claim_rng


@pytest.fixture(scope="module")
def quick_outcome() -> Any:
    return check_klf(claim_by_id("KLF").budget(Profile.QUICK), claim_rng("KLF"))


@pytest.mark.claim("KLF")
def test_check_klf_quick_budget_verifies(quick_outcome: Any) -> None:
    """KLF: weight-space KL unbounded, factor-space KL finite, data processing holds."""
    assert quick_outcome.verdict is Verdict.VERIFIED, quick_outcome.evidence
    assert "|" not in quick_outcome.evidence and "\n" not in quick_outcome.evidence


@pytest.mark.claim("KLF")
def test_check_klf_evidence_numbers_are_consistent(quick_outcome: Any) -> None:
    """KLF: the smoothed lower bounds pass the (finite, eps-free) factor KL; every DPI case
    holds with the left side below the right; the equality case Q = P gives zero."""
    smooth = quick_outcome.data["smoothed"]
    lbs = [r["kl_lower"] for r in smooth["rows"]]
    assert lbs == sorted(lbs)
    assert lbs[-1] > 4 * smooth["factor_kl"]
    # kl(q || b) -> q ln(1/b) and ln(1/b(k eps)) ~ ln(1/eps): slope near q_hat ~ 0.99.
    assert 0.8 < smooth["slope"] < 1.0
    rows = quick_outcome.data["dpi"]["rows"]
    assert len(rows) == len(dpi_cases())
    assert all(r["lhs"] <= r["rhs"] for r in rows[1:])
    assert rows[0]["rhs"] == 0.0 and abs(rows[0]["lhs"]) < klf.DPI_ROUNDING


def test_dpi_cases_start_with_the_equality_case() -> None:
    cases = dpi_cases()
    assert cases[0] == (0.0, 1.0, 0.0, 1.0, 1.0)
    assert len(set(cases)) == len(cases)


@pytest.mark.claim("KLF")
def test_check_klf_refutes_a_broken_data_processing_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """KLF check can fail: with KL(Q || P) under-reported by 60 % the inequality breaks."""
    real = klf.gaussian_kl

    def shrunk(*args: Any) -> float:
        return 0.4 * float(real(*args))

    monkeypatch.setattr(klf, "gaussian_kl", shrunk)
    outcome = check_klf({"n_mc": 2000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("Data processing fails at")


@pytest.mark.claim("KLF")
def test_check_klf_stops_when_its_lower_bound_cannot_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    """KLF check fails loudly: a small-ball bound that stops shrinking (as for a rank-full q_W,
    where P(|det| <= t) does not go to 1) cannot show an infinite KL. That is a failure of the
    evidence, not a counterexample, so the check raises instead of giving a verdict."""
    monkeypatch.setattr(klf, "det_small_ball_bound", lambda t, **kw: np.maximum(t, 0.5))
    with pytest.raises(RuntimeError, match="does not grow past the factor KL"):
        check_klf({"n_mc": 2000}, np.random.default_rng(0))


def test_check_klf_is_deterministic_given_the_rng() -> None:
    first = check_klf({"n_mc": 500}, np.random.default_rng(5))
    second = check_klf({"n_mc": 500}, np.random.default_rng(5))
    assert first.evidence == second.evidence


def test_check_klf_rejects_a_tiny_budget() -> None:
    with pytest.raises(ValueError, match=r"`budget\['n_mc'\]` must be an int in"):
        check_klf({"n_mc": 10}, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.claim("KLF")
def test_check_klf_thorough_budget_verifies() -> None:
    """KLF at the thorough budget."""
    outcome = check_klf(claim_by_id("KLF").budget(Profile.THOROUGH), claim_rng("KLF"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence

"""Claim E35: coverage of the spectral-norm tail bound, its power, and the sampler's twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

import verification.claims.generalisation.tails as gt
from theory.gaussian_complexity import spectral_norm_tail_bound
from verification.claims.generalisation.tails import check_e35, factor_mean, spectral_norms
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

_SMALL = {"n_samples": 1500, "shapes": ((8, 8), (16, 4)), "stds": (1.0,), "means": ("zero",)}


@pytest.mark.claim("E35")
def test_check_e35_quick_budget_verifies_with_c1_one_and_c2_sqrt_two() -> None:
    """E35: no significant excess of violations over 2 e^-t^2 (nor over e^-t^2) anywhere."""
    outcome = check_e35(claim_by_id("E35").budget(Profile.QUICK), claim_rng("E35"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence
    assert max(outcome.data["gordon_ratio"]) <= 1.0
    assert all(r["c1_min"] <= 1.0 for r in outcome.data["rows"])


@pytest.mark.claim("E35")
def test_check_e35_refutes_a_level_with_half_the_gordon_term(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E35: the check can fail: c1 = 1/2 undercuts E||G|| ~ sqrt h + sqrt r and is rejected."""

    def half_c1(mean_norm: float, **kw: float) -> float:
        return spectral_norm_tail_bound(mean_norm, **{**kw, "c1": 0.5 * kw["c1"]})  # type: ignore[arg-type]

    monkeypatch.setattr(gt, "spectral_norm_tail_bound", half_c1)
    assert check_e35(_SMALL, np.random.default_rng(1)).verdict is Verdict.REFUTED


def test_spectral_norms_match_numpy_matrix_norm(rng: np.random.Generator) -> None:
    mean = factor_mean("random", 5, 3, 0.5, rng)
    seed = 99
    got = spectral_norms(mean, 0.5, 300, np.random.default_rng(seed), chunk=7)
    g = np.random.default_rng(seed)
    want = [np.linalg.norm(mean + 0.5 * g.standard_normal((5, 3)), 2) for _ in range(300)]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_factor_mean_norms_and_bad_kind(rng: np.random.Generator) -> None:
    assert np.linalg.norm(factor_mean("random", 6, 2, 0.1, rng), 2) == pytest.approx(1.0)
    assert np.linalg.norm(factor_mean("rank_one", 9, 2, 0.1, rng), 2) == pytest.approx(0.9)
    assert not factor_mean("zero", 2, 2, 1.0, rng).any()
    with pytest.raises(ValueError, match="`kind` must be one of"):
        factor_mean("diagonal", 2, 2, 1.0, rng)


def test_tail_level_constants_are_the_documented_ones() -> None:
    assert (gt.C1, gt.C2) == (1.0, math.sqrt(2.0))
